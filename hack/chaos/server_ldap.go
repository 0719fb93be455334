package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider/ldap/slapdtest"
)

// ldapServer is slapd with one groupOfNames for the role, whose first member
// is a bystander (groupOfNames needs one), and a person per subject.
type ldapServer struct {
	srv   *slapdtest.Server
	group string
	seq   atomic.Int32
}

const ldapBystander = "bystander"

// ldapTimeout is the connection's timeout: how long the operator waits for
// each answer of slapd, so how long a hung slapd holds a worker per attempt.
const ldapTimeout = 2 * time.Second

func startLDAP(_ context.Context, dir string) (server, error) {
	dir = filepath.Join(dir, "slapd")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("slapd directory: %w", err)
	}
	srv, err := slapdtest.New(dir, slapdtest.Options{TLS: true})
	if err != nil {
		return nil, fmt.Errorf("start slapd (run `make test-deps` if it is missing): %w", err)
	}
	s := &ldapServer{srv: srv, group: "cn=chaos-admins," + slapdtest.GroupsDN}
	if err := s.seed(); err != nil {
		return nil, fmt.Errorf("seed slapd: %w", err)
	}
	return s, nil
}

func ldapPersonDN(uid string) string {
	return "uid=" + goldap.EscapeDN(uid) + "," + slapdtest.PeopleDN
}

func (s *ldapServer) seed() error {
	c, err := s.srv.RootConn()
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	for _, uid := range append(workloadSubjects(), ldapBystander) {
		req := goldap.NewAddRequest(ldapPersonDN(uid), nil)
		req.Attribute("objectClass", []string{"inetOrgPerson"})
		req.Attribute("uid", []string{uid})
		req.Attribute("cn", []string{uid})
		req.Attribute("sn", []string{uid})
		if err := c.Add(req); err != nil {
			return fmt.Errorf("add %s: %w", uid, err)
		}
	}
	req := goldap.NewAddRequest(s.group, nil)
	req.Attribute("objectClass", []string{"groupOfNames"})
	req.Attribute("cn", []string{"chaos-admins"})
	req.Attribute("member", []string{ldapPersonDN(ldapBystander)})
	if err := c.Add(req); err != nil {
		return fmt.Errorf("add %s: %w", s.group, err)
	}
	return nil
}

func (s *ldapServer) kind() string { return targetLDAP }

func (s *ldapServer) providerSpec(secret string) accessv1alpha1.ProviderSpec {
	return accessv1alpha1.ProviderSpec{LDAP: &accessv1alpha1.LDAPProvider{
		URL: s.srv.URL, StartTLS: true, CABundle: s.srv.CAPEM,
		BindDN: slapdtest.ServiceDN, CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: secret},
		UserBaseDN: slapdtest.PeopleDN, Timeout: ldapTimeout.String(),
	}}
}

func (s *ldapServer) role() accessv1alpha1.Role {
	return accessv1alpha1.Role{Name: downstreamRole, LDAP: &accessv1alpha1.LDAPRole{GroupDN: s.group}}
}

func (s *ldapServer) credentials() map[string][]byte {
	return map[string][]byte{"password": []byte(s.srv.ServicePassword)}
}

// members is a base search of the group as the root DN, on a new connection.
func (s *ldapServer) members(_ context.Context) (map[string]bool, error) {
	c, err := s.srv.RootConn()
	if err != nil {
		return nil, err
	}
	defer func() { _ = c.Close() }()
	res, err := c.Search(goldap.NewSearchRequest(s.group, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		0, 10, false, "(objectClass=groupOfNames)", []string{"member"}, nil))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.group, err)
	}
	if len(res.Entries) != 1 {
		return nil, fmt.Errorf("read %s: %d entries", s.group, len(res.Entries))
	}
	return ldapSubjectsOf(res.Entries[0].GetAttributeValues("member")), nil
}

// ldapSubjectsOf maps member DNs to the workload's subjects, comparing DNs
// as the server does (case-insensitively here).
func ldapSubjectsOf(values []string) map[string]bool {
	out := map[string]bool{}
	for _, v := range values {
		got, err := goldap.ParseDN(v)
		if err != nil {
			continue
		}
		for _, subject := range workloadSubjects() {
			want, _ := goldap.ParseDN(ldapPersonDN(subject))
			if got.EqualFold(want) {
				out[subject] = true
			}
		}
	}
	return out
}

func (s *ldapServer) down() error              { return s.srv.Down() }
func (s *ldapServer) up(context.Context) error { return s.srv.Up() }

// freeze stops slapd with SIGSTOP: the kernel still completes connections to
// its port, and nothing answers on them; thaw resumes it (SIGCONT).
func (s *ldapServer) freeze() error { return s.srv.Freeze() }
func (s *ldapServer) thaw() error   { return s.srv.Thaw() }

// addOtherPath creates a side group holding the subject and nests it in the
// role's group, with slapmodify while slapd is down.
func (s *ldapServer) addOtherPath(_ context.Context, subject string) (string, error) {
	side := fmt.Sprintf("cn=chaos-side-%d,%s", s.seq.Add(1), slapdtest.GroupsDN)
	cn, _ := goldap.ParseDN(side)
	ldif := fmt.Sprintf("dn: %s\nchangetype: add\nobjectClass: groupOfNames\ncn: %s\nmember: %s\n\n"+
		"dn: %s\nchangetype: modify\nadd: member\nmember: %s\n-\n",
		side, cn.RDNs[0].Attributes[0].Value, ldapPersonDN(subject), s.group, side)
	if err := s.srv.ModifyOffline(ldif); err != nil {
		return "", err
	}
	return side, nil
}

func (s *ldapServer) removeOtherPath(_ context.Context, side string) error {
	c, err := s.srv.RootConn()
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	req := goldap.NewModifyRequest(s.group, nil)
	req.Delete("member", []string{side})
	if err := c.Modify(req); err != nil {
		return fmt.Errorf("remove %s from %s: %w", side, s.group, err)
	}
	return nil
}

func (s *ldapServer) close() error { return s.srv.Stop() }
