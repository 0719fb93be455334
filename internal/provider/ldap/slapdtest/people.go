package slapdtest

import (
	"fmt"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// SetPassword gives the entry dn a fresh random userPassword, set as RootDN,
// and returns it, so that a test can bind as that person. The fixture's
// people have no password: only tests that act as a person give them one.
func (s *Server) SetPassword(t testing.TB, dn string) string {
	t.Helper()
	pw := randomSecret()
	req := goldap.NewModifyRequest(dn, nil)
	req.Replace("userPassword", []string{pw})
	if err := s.rootConn(t).Modify(req); err != nil {
		t.Fatalf("set userPassword of %s: %v", dn, err)
	}
	return pw
}

// AddPerson creates an inetOrgPerson under PeopleDN whose uid (the subject
// the default filter finds), cn, sn and mail are uid, for tests that need a
// subject of their own beside the fixture's People. It returns the DN.
func (s *Server) AddPerson(t testing.TB, uid string) string {
	t.Helper()
	dn := "uid=" + goldap.EscapeDN(uid) + "," + PeopleDN
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"inetOrgPerson"})
	for _, attr := range []string{"uid", "cn", "sn", "mail"} {
		req.Attribute(attr, []string{uid})
	}
	if err := s.rootConn(t).Add(req); err != nil {
		t.Fatalf("add person %s: %v", dn, err)
	}
	return dn
}

// Conn opens a new connection bound as dn with password pw, closed when the
// test ends.
func (s *Server) Conn(t testing.TB, dn, pw string) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL(s.URL)
	if err != nil {
		t.Fatalf("dial %s: %v", s.URL, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	c.SetTimeout(10 * time.Second)
	if err := c.Bind(dn, pw); err != nil {
		t.Fatalf("bind as %s: %v", dn, err)
	}
	return c
}

// AccessLog reads every entry of the accesslog database as RootDN's peer
// ServiceDN would, for tests that look at what the overlay wrote. The
// entries' attributes are returned as the server sent them.
func (s *Server) AccessLog(t testing.TB) []*goldap.Entry {
	t.Helper()
	c := s.Conn(t, ServiceDN, s.ServicePassword)
	res, err := c.Search(goldap.NewSearchRequest(AccessLogDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, 10, false, "(objectClass=auditWriteObject)", []string{"*"}, nil))
	if err != nil {
		t.Fatalf("read %s: %v", AccessLogDN, err)
	}
	return res.Entries
}

// Sprint renders an entry as LDIF-like text, for failure messages.
func Sprint(e *goldap.Entry) string {
	out := "dn: " + e.DN + "\n"
	for _, a := range e.Attributes {
		for _, v := range a.Values {
			out += fmt.Sprintf("%s: %s\n", a.Name, v)
		}
	}
	return out
}
