package providers

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	goldap "github.com/go-ldap/ldap/v3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/ldap"
	"github.com/elevator-dev/elevator/internal/provider/ldap/slapdtest"
)

// ldapBackend is one OpenLDAP slapd for the whole suite. Each target is a new
// groupOfNames that already has another member, bob, who must stay.
type ldapBackend struct {
	srv   *slapdtest.Server
	wrong string
	seq   atomic.Int32
	// mu guards what the activity specs keep per target (by its group DN):
	// the subject's connection and the group it nests in the role's.
	mu     sync.Mutex
	actors map[string]*goldap.Conn
	side   map[string]string
}

// ldapSubjects are fixture people; jsmith's DN, "cn=Smith\, John,...", needs
// escaping, so the lifecycle is also run with a DN that is easy to get wrong.
var ldapSubjects = []string{"alice", "jsmith", "carol"}

func startLDAP() backend {
	GinkgoHelper()
	dir, err := os.MkdirTemp("", "providers-slapd-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	srv, err := slapdtest.New(dir, slapdtest.Options{TLS: true})
	Expect(err).NotTo(HaveOccurred(), "start slapd (run `make test-deps` if it is missing)")
	DeferCleanup(func() {
		_ = srv.Thaw()
		Expect(srv.Stop()).To(Succeed())
	})
	return &ldapBackend{srv: srv, wrong: "wrong-" + randomHex(12)}
}

func (b *ldapBackend) Name() string                        { return ldap.Kind }
func (b *ldapBackend) Registration() provider.Registration { return ldap.Registration() }

func (b *ldapBackend) ProviderSpec(secret string) accessv1alpha1.ProviderSpec {
	return accessv1alpha1.ProviderSpec{LDAP: &accessv1alpha1.LDAPProvider{
		URL:                  b.srv.URL,
		StartTLS:             true,
		CABundle:             b.srv.CAPEM,
		BindDN:               slapdtest.ServiceDN,
		CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: secret},
		UserBaseDN:           slapdtest.PeopleDN,
		// Short, so that calls to a frozen server fail fast.
		Timeout: "1s",
	}}
}

func (b *ldapBackend) Credentials() map[string][]byte {
	return map[string][]byte{"password": []byte(b.srv.ServicePassword)}
}

func (b *ldapBackend) WrongCredentials() (map[string][]byte, string) {
	return map[string][]byte{"password": []byte(b.wrong)}, b.wrong
}

func (b *ldapBackend) NewTarget() target {
	GinkgoHelper()
	n := b.seq.Add(1)
	uid := ldapSubjects[int(n)%len(ldapSubjects)]
	return b.newTarget(uid, personDN(uid))
}

// NewTargetFor adds a person whose uid is subject under the people the
// connection's default filter searches.
func (b *ldapBackend) NewTargetFor(subject string) target {
	GinkgoHelper()
	return b.newTarget(subject, b.srv.AddPerson(GinkgoTB(), subject))
}

func (b *ldapBackend) newTarget(uid, dn string) target {
	GinkgoHelper()
	group := b.srv.AddGroup(GinkgoTB(), slapdtest.GroupsDN, "elevated", personDN("bob"))
	return target{
		Subject:   uid,
		Role:      accessv1alpha1.Role{Name: "elevated", LDAP: &accessv1alpha1.LDAPRole{GroupDN: group}},
		GroupRef:  group,
		UserRef:   dn,
		Bystander: personDN("bob"),
	}
}

// personDN is the DN of the fixture person with the given uid.
func personDN(uid string) string {
	for _, p := range slapdtest.People {
		if p.UID == uid && p.Parent == slapdtest.PeopleDN {
			return p.DN()
		}
	}
	Fail("no fixture person with uid " + uid)
	return ""
}

// IsMember reads the group as the directory's root DN on a new connection and
// compares every member value with the subject's DN.
func (b *ldapBackend) IsMember(t target) bool {
	GinkgoHelper()
	members := b.members(t.GroupRef)
	Expect(slices.ContainsFunc(members, dnEqual(t.Bystander))).To(BeTrue(), "%s, a member from before the test, is never removed", t.Bystander)
	return slices.ContainsFunc(members, dnEqual(t.UserRef))
}

func (b *ldapBackend) members(group string) []string {
	GinkgoHelper()
	c, err := b.srv.RootConn()
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = c.Close() }()
	res, err := c.Search(goldap.NewSearchRequest(group, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		0, 10, false, "(objectClass=groupOfNames)", []string{"member"}, nil))
	Expect(err).NotTo(HaveOccurred(), "read group %s", group)
	Expect(res.Entries).To(HaveLen(1), "read group %s", group)
	return res.Entries[0].GetAttributeValues("member")
}

// dnEqual matches a DN value against want as an LDAP server would compare them
// (the fixture's naming attributes are case-insensitive).
func dnEqual(want string) func(string) bool {
	wantDN, err := goldap.ParseDN(want)
	Expect(err).NotTo(HaveOccurred())
	return func(got string) bool {
		gotDN, err := goldap.ParseDN(got)
		return err == nil && gotDN.EqualFold(wantDN)
	}
}

func (b *ldapBackend) AddMember(t target) {
	GinkgoHelper()
	c, err := b.srv.RootConn()
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = c.Close() }()
	req := goldap.NewModifyRequest(t.GroupRef, nil)
	req.Add("member", []string{t.UserRef})
	Expect(c.Modify(req)).To(Succeed(), "add %s to %s", t.UserRef, t.GroupRef)
}

// Break freezes slapd (SIGSTOP): its port still accepts connections but
// nothing answers, as with a hung server.
func (b *ldapBackend) Break()                    { Expect(b.srv.Freeze()).To(Succeed()) }
func (b *ldapBackend) Repair()                   { Expect(b.srv.Thaw()).To(Succeed()) }
func (b *ldapBackend) readableWhileBroken() bool { return false }

func (b *ldapBackend) VerificationMethod(t target) string {
	return fmt.Sprintf("LDAP base search of %s for member", t.GroupRef)
}

func (b *ldapBackend) AbsentEvidence(target) string { return "is not among them" }

func (b *ldapBackend) Secrets() []string {
	return []string{b.srv.ServicePassword, b.srv.RootPassword, b.wrong}
}

// EnableActivity names the accesslog database slapdtest always runs.
func (b *ldapBackend) EnableActivity(_ context.Context, _ string, spec *accessv1alpha1.ProviderSpec) {
	spec.LDAP.AccessLogBaseDN = slapdtest.AccessLogDN
}

// subjectConn is a connection bound as the subject with a password of its
// own, opened at the first act of a target and kept for its later ones (the
// subject changes that password).
func (b *ldapBackend) subjectConn(t target) *goldap.Conn {
	GinkgoHelper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.actors == nil {
		b.actors = map[string]*goldap.Conn{}
	}
	c, ok := b.actors[t.GroupRef]
	if !ok {
		c = b.srv.Conn(GinkgoTB(), t.UserRef, b.srv.SetPassword(GinkgoTB(), t.UserRef))
		b.actors[t.GroupRef] = c
	}
	return c
}

func ldapModify(c *goldap.Conn, dn string, change func(*goldap.ModifyRequest)) error {
	req := goldap.NewModifyRequest(dn, nil)
	change(req)
	return c.Modify(req)
}

func replaceAttr(attr, value string) func(*goldap.ModifyRequest) {
	return func(r *goldap.ModifyRequest) { r.Replace(attr, []string{value}) }
}

// ActBeforeGrant changes the subject's own password (allowed) and tries the
// role group's description (refused: not a member yet); it also makes the
// side group, with the subject in it, that the subject nests while elevated.
func (b *ldapBackend) ActBeforeGrant(t target) {
	GinkgoHelper()
	c := b.subjectConn(t)
	Expect(ldapModify(c, t.UserRef, replaceAttr("userPassword", "before-"+randomHex(8)))).To(Succeed())
	err := ldapModify(c, t.GroupRef, replaceAttr("description", "before the grant"))
	Expect(goldap.IsErrorWithCode(err, goldap.LDAPResultInsufficientAccessRights)).To(BeTrue(), "the subject may not change the group before the grant: %v", err)
	side := b.srv.AddGroup(GinkgoTB(), slapdtest.GroupsDN, "side", t.UserRef)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.side == nil {
		b.side = map[string]string{}
	}
	b.side[t.GroupRef] = side
}

// ActWhileElevated nests the side group, of which the subject is a member,
// in the role's group (a backdoor: residual access after the revocation) and
// changes the group's description.
func (b *ldapBackend) ActWhileElevated(t target) []wantActivity {
	GinkgoHelper()
	c := b.subjectConn(t)
	b.mu.Lock()
	side := b.side[t.GroupRef]
	b.mu.Unlock()
	Expect(ldapModify(c, t.GroupRef, func(r *goldap.ModifyRequest) { r.Add("member", []string{side}) })).To(Succeed())
	Expect(ldapModify(c, t.GroupRef, replaceAttr("description", "changed while elevated"))).To(Succeed())
	return []wantActivity{
		{Category: accessv1alpha1.ActivityAccess, Action: "modify member", Object: t.GroupRef, Residual: true},
		{Category: accessv1alpha1.ActivityConfig, Action: "modify description", Object: t.GroupRef},
	}
}

// ActAsOther has bob, a member of the group from before, change its
// description too.
func (b *ldapBackend) ActAsOther(t target) {
	GinkgoHelper()
	c := b.srv.Conn(GinkgoTB(), t.Bystander, b.srv.SetPassword(GinkgoTB(), t.Bystander))
	Expect(ldapModify(c, t.GroupRef, replaceAttr("description", "changed by bob"))).To(Succeed())
}

// ActAfterRevocation changes the subject's own password again, in a later
// second than the revocation's: the accesslog is exact to the second.
func (b *ldapBackend) ActAfterRevocation(t target) {
	GinkgoHelper()
	nextSecond()
	Expect(ldapModify(b.subjectConn(t), t.UserRef, replaceAttr("userPassword", "after-"+randomHex(8)))).To(Succeed())
}
