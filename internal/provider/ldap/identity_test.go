package ldap_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider/ldap/slapdtest"
)

var personSeq atomic.Int32

// addPerson adds an inetOrgPerson under PeopleDN with a unique uid, as the
// directory's root, and returns the uid and the DN.
func addPerson(t *testing.T, base string) (string, string) {
	t.Helper()
	uid := fmt.Sprintf("%s-%d", base, personSeq.Add(1))
	dn := "uid=" + goldap.EscapeDN(uid) + "," + slapdtest.PeopleDN
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"inetOrgPerson"})
	req.Attribute("uid", []string{uid})
	req.Attribute("cn", []string{uid})
	req.Attribute("sn", []string{uid})
	rootDo(t, func(c *goldap.Conn) error { return c.Add(req) })
	return uid, dn
}

func rootDo(t *testing.T, op func(*goldap.Conn) error) {
	t.Helper()
	c, err := srv.RootConn()
	if err != nil {
		t.Fatalf("root connection: %v", err)
	}
	defer func() { _ = c.Close() }()
	if err := op(c); err != nil {
		t.Fatalf("as root: %v", err)
	}
}

// TestRevocationActsOnTheStoredIdentity is issue 12's attack 3 against slapd:
// during the window the connection's userFilter changes so that it finds no
// one, its URL is pointed at a port where nothing listens, and the user's
// entry is renamed. A fresh resolution would find no entry and call the
// membership absent; Revoke and Check with the stored target delete and read
// the stored DN in the stored group at the stored URL.
func TestRevocationActsOnTheStoredIdentity(t *testing.T) {
	uid, userDN := addPerson(t, "mallory")
	group := srv.AddGroup(t, slapdtest.GroupsDN, "stored", dnOf("carol"))
	e := entitlement(uid, group)
	granted, err := newClient(t).Grant(ctx(t), e)
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	target := granted.Target
	if target.Endpoint != srv.URL || target.Subject == nil || !strings.EqualFold(target.Subject.ID, userDN) || target.Group == nil || target.Group.ID != group {
		t.Fatalf("grant target = %+v, want %s, %s, %s", target, srv.URL, userDN, group)
	}
	wantMembers(t, group, dnOf("carol"), userDN)

	rootDo(t, func(c *goldap.Conn) error {
		return c.ModifyDN(goldap.NewModifyDNRequest(userDN, "uid="+goldap.EscapeDN(uid+"-renamed"), true, ""))
	})
	changedFilter := newClient(t, func(s *accessv1alpha1.LDAPProvider) { s.UserFilter = "(mail={subject})" })
	mustCheck(t, changedFilter, e, false) // the attack's premise: resolving again finds no one

	e.Target = &target
	obs := mustCheck(t, changedFilter, e, true)
	if !strings.Contains(obs.ConnectionChanged, "no longer finds") {
		t.Errorf("ConnectionChanged %q does not say the filter no longer finds the subject", obs.ConnectionChanged)
	}
	moved := newClient(t, func(s *accessv1alpha1.LDAPProvider) {
		s.UserFilter = "(mail={subject})"
		s.URL = "ldap://127.0.0.1:1"
	})
	if err := moved.Revoke(ctx(t), e); err != nil {
		t.Fatalf("revoke with the stored target: %v", err)
	}
	wantMembers(t, group, dnOf("carol"))
	obs = mustCheck(t, moved, e, false)
	if !strings.Contains(obs.Evidence, "is not among them") || !strings.Contains(obs.Method, "base search of "+group) {
		t.Errorf("check after revoke: method %q, evidence %q; want a read of the group's members", obs.Method, obs.Evidence)
	}
	if !strings.Contains(obs.ConnectionChanged, "ldap://127.0.0.1:1") || !strings.Contains(obs.ConnectionChanged, srv.URL) {
		t.Errorf("ConnectionChanged %q does not name the current and the stored URL", obs.ConnectionChanged)
	}
}

// TestResidualAccessThroughANestedGroup: the subject is in a group that is a
// member of the role's group. After Elevator's value is deleted, Check says
// absent and names the nested group with its createTimestamp.
func TestResidualAccessThroughANestedGroup(t *testing.T) {
	inner := srv.AddGroup(t, slapdtest.GroupsDN, "inner", dnOf("dave"))
	outer := srv.AddGroup(t, slapdtest.GroupsDN, "outer", dnOf("carol"), inner)
	c := newClient(t)
	e := entitlement("dave", outer)
	granted, err := c.Grant(ctx(t), e)
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	e.Target = &granted.Target
	if err := c.Revoke(ctx(t), e); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	obs := mustCheck(t, c, e, false)
	if len(obs.Residual) != 1 || !strings.Contains(obs.Residual[0].Name, inner) || obs.Residual[0].CreatedAt == nil {
		t.Fatalf("residual = %+v, want %s with its creation time", obs.Residual, inner)
	}
}
