package providers

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/scim"
	"github.com/elevator-dev/elevator/internal/provider/scim/scimtest"
)

// scimBackend is one scimmy server (Node.js, a separate process that applies
// PATCH and filters itself) for the whole suite. The operator reaches it
// through a loopback reverse proxy that can be switched to answer 503, as a
// SaaS app's gateway does during an outage; the suite's own reads go to
// scimmy directly with scimtest.Admin, which shares no code with the provider.
type scimBackend struct {
	base     string
	admin    *scimtest.Admin
	token    string
	wrong    string
	proxyURL string
	caPEM    string
	down     atomic.Bool
	seq      atomic.Int32
	// orgURL is the System Log's org URL behind the proxy; logToken reads it.
	orgURL   string
	logToken string
	// callers are the SCIM tokens of the subjects NewTarget may name, by
	// login: scimmy learns its callers when it starts. otherToken is
	// scimOther's.
	callers    map[string]string
	otherToken string
	// mu guards extra, the user each activity spec's subject adds to its
	// group, by group id.
	mu    sync.Mutex
	extra map[string]string
}

const (
	// scimActingSubjects is how many of NewTarget's subjects can call the
	// SCIM API as themselves.
	scimActingSubjects = 200
	// scimOther is a user of the app who is not the subject.
	scimOther = "mallory@example.com"
	// oktaSecretName holds the System Log's API token.
	oktaSecretName = "okta-log"
)

func startSCIM() backend {
	GinkgoHelper()
	b := &scimBackend{
		token: "tok-" + randomHex(16), wrong: "tok-wrong-" + randomHex(8), logToken: "ssws-" + randomHex(16),
		otherToken: "tok-other-" + randomHex(8), callers: map[string]string{},
	}
	logins := map[string]string{b.otherToken: scimOther}
	for n := 1; n <= scimActingSubjects; n++ {
		tok := "tok-subject-" + randomHex(8)
		b.callers[scimSubject(n)] = tok
		logins[tok] = scimSubject(n)
	}
	b.base, _ = scimtest.StartScimmyWithLog(GinkgoTB(), b.token, scimtest.ScimmyLog{Token: b.logToken, Callers: logins})
	b.admin = scimtest.NewAdmin(b.base, b.token)

	upstream, err := url.Parse(b.base)
	Expect(err).NotTo(HaveOccurred())
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: upstream.Scheme, Host: upstream.Host})
	// The operator's side is https with the test server's own certificate, as
	// every connection must be unless it sets allowInsecureHTTP.
	front := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.down.Load() {
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	DeferCleanup(front.Close)
	b.proxyURL = front.URL + upstream.Path
	b.orgURL = front.URL
	b.caPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw}))
	return b
}

func (b *scimBackend) Name() string                        { return scim.Kind }
func (b *scimBackend) Registration() provider.Registration { return scim.Registration() }

func (b *scimBackend) ProviderSpec(secret string) accessv1alpha1.ProviderSpec {
	return accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{
		URL:                  b.proxyURL,
		CABundle:             b.caPEM,
		CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: secret},
		Timeout:              "2s",
	}}
}

func (b *scimBackend) Credentials() map[string][]byte {
	return map[string][]byte{"token": []byte(b.token)}
}

func (b *scimBackend) WrongCredentials() (map[string][]byte, string) {
	return map[string][]byte{"token": []byte(b.wrong)}, b.wrong
}

// NewTarget makes a user, a group named after the role, and a bystander who is
// already a member of the group and must stay.
func (b *scimBackend) NewTarget() target {
	GinkgoHelper()
	n := b.seq.Add(1)
	return b.newTarget(n, scimSubject(int(n)))
}

func (b *scimBackend) NewTargetFor(subject string) target {
	GinkgoHelper()
	return b.newTarget(b.seq.Add(1), subject)
}

func (b *scimBackend) newTarget(n int32, subject string) target {
	GinkgoHelper()
	userID := b.admin.CreateUser(GinkgoTB(), subject)
	bystander := b.admin.CreateUser(GinkgoTB(), fmt.Sprintf("bob.%d@example.com", n))
	group := fmt.Sprintf("billing-admins-%d", n)
	groupID := b.admin.CreateGroup(GinkgoTB(), group, bystander)
	return target{
		Subject:   subject,
		Role:      accessv1alpha1.Role{Name: "elevated", SCIM: &accessv1alpha1.SCIMRole{Group: group}},
		GroupRef:  groupID,
		UserRef:   userID,
		Bystander: bystander,
	}
}

// IsMember reads the group with GET /Groups/{id} straight from scimmy.
func (b *scimBackend) IsMember(t target) bool {
	GinkgoHelper()
	members := b.admin.MemberIDs(GinkgoTB(), t.GroupRef)
	Expect(members).To(ContainElement(t.Bystander), "a member from before the test is never removed")
	return slices.Contains(members, t.UserRef)
}

// AddMember adds the subject with a PATCH sent straight to scimmy.
func (b *scimBackend) AddMember(t target) {
	GinkgoHelper()
	status, body := b.admin.Raw(GinkgoTB(), http.MethodPatch, "/Groups/"+url.PathEscape(t.GroupRef), map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "add", "path": "members", "value": []map[string]string{{"value": t.UserRef}}}},
	})
	Expect(status).To(BeElementOf(http.StatusOK, http.StatusNoContent), "PATCH add member: %s", body)
}

// Break makes the proxy answer every request with 503.
func (b *scimBackend) Break()                    { b.down.Store(true) }
func (b *scimBackend) Repair()                   { b.down.Store(false) }
func (b *scimBackend) readableWhileBroken() bool { return true }

func (b *scimBackend) VerificationMethod(t target) string {
	return "GET /Groups/" + t.GroupRef
}

func (b *scimBackend) AbsentEvidence(target) string { return "is not among them" }

func (b *scimBackend) Secrets() []string { return []string{b.token, b.wrong, b.logToken, b.otherToken} }

// scimSubject is the login of NewTarget's n-th subject.
func scimSubject(n int) string { return fmt.Sprintf("alice.%d@example.com", n) }

// EnableActivity points the connection at the server's System Log, through
// the proxy, with a short delivery delay (the log is complete at once).
func (b *scimBackend) EnableActivity(ctx context.Context, ns string, spec *accessv1alpha1.ProviderSpec) {
	GinkgoHelper()
	createNamedSecret(ctx, ns, oktaSecretName, map[string][]byte{"token": []byte(b.logToken)})
	spec.SCIM.Activity = &accessv1alpha1.SCIMActivitySource{OktaSystemLog: &accessv1alpha1.OktaSystemLogSource{
		URL: b.orgURL, CABundle: b.caPEM, DeliveryDelay: "2s",
		CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: oktaSecretName},
	}}
}

// as is a SCIM client calling scimmy directly with login's own token.
func (b *scimBackend) as(login string) *scimtest.Admin {
	GinkgoHelper()
	tok := b.otherToken
	if login != scimOther {
		var ok bool
		tok, ok = b.callers[login]
		Expect(ok).To(BeTrue(), "%s has no SCIM token: raise scimActingSubjects", login)
	}
	return scimtest.NewAdmin(b.base, tok)
}

// scimWrite sends one write as login and checks it was allowed.
func (b *scimBackend) scimWrite(login, method, path string, body any) {
	GinkgoHelper()
	status, raw := b.as(login).Raw(GinkgoTB(), method, path, body)
	Expect(status).To(BeElementOf(http.StatusOK, http.StatusNoContent), "%s %s as %s: %s", method, path, login, raw)
}

func patchOp(op, path string, value any) map[string]any {
	return map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": op, "path": path, "value": value}},
	}
}

// ActBeforeGrant has the subject change its own display name, and makes the
// user it adds to the group while elevated.
func (b *scimBackend) ActBeforeGrant(t target) {
	GinkgoHelper()
	b.scimWrite(t.Subject, http.MethodPatch, "/Users/"+url.PathEscape(t.UserRef), patchOp("replace", "displayName", "before the grant"))
	extra := b.admin.CreateUser(GinkgoTB(), "extra."+t.Subject)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.extra == nil {
		b.extra = map[string]string{}
	}
	b.extra[t.GroupRef] = extra
}

// ActWhileElevated has the subject add another user to the role's group and
// change its own display name.
func (b *scimBackend) ActWhileElevated(t target) []wantActivity {
	GinkgoHelper()
	b.mu.Lock()
	extra := b.extra[t.GroupRef]
	b.mu.Unlock()
	b.scimWrite(t.Subject, http.MethodPatch, "/Groups/"+url.PathEscape(t.GroupRef), patchOp("add", "members", []map[string]string{{"value": extra}}))
	b.scimWrite(t.Subject, http.MethodPatch, "/Users/"+url.PathEscape(t.UserRef), patchOp("replace", "displayName", "while elevated"))
	return []wantActivity{
		{Category: accessv1alpha1.ActivityAccess, Action: "group.user_membership.add",
			Object: fmt.Sprintf("SCIM group %q (id %s), user %q (id %s)", t.Role.SCIM.Group, t.GroupRef, "extra."+t.Subject, extra)},
		{Category: accessv1alpha1.ActivityConfig, Action: "user.account.update_profile",
			Object: fmt.Sprintf("user %q (id %s)", t.Subject, t.UserRef)},
	}
}

// ActAsOther has another user of the app change the subject's display name:
// the subject is its target, not its actor.
func (b *scimBackend) ActAsOther(t target) {
	GinkgoHelper()
	b.scimWrite(scimOther, http.MethodPatch, "/Users/"+url.PathEscape(t.UserRef), patchOp("replace", "displayName", "by someone else"))
}

// ActAfterRevocation has the subject change its own display name again.
func (b *scimBackend) ActAfterRevocation(t target) {
	GinkgoHelper()
	b.scimWrite(t.Subject, http.MethodPatch, "/Users/"+url.PathEscape(t.UserRef), patchOp("replace", "displayName", "after the revocation"))
}
