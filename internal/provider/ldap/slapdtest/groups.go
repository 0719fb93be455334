package slapdtest

import (
	"fmt"
	"sync/atomic"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"
)

var groupSeq atomic.Int64

// AddGroup creates a groupOfNames under parentDN, named after name and a
// sequence number so that every test gets its own group on a shared server,
// with the given member DNs (groupOfNames needs at least one). It returns the
// group's DN.
func (s *Server) AddGroup(t testing.TB, parentDN, name string, members ...string) string {
	t.Helper()
	cn := fmt.Sprintf("%s-%d", name, groupSeq.Add(1))
	dn := "cn=" + goldap.EscapeDN(cn) + "," + parentDN
	req := goldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"groupOfNames"})
	req.Attribute("cn", []string{cn})
	req.Attribute("member", members)
	c := s.rootConn(t)
	if err := c.Add(req); err != nil {
		t.Fatalf("add group %s: %v", dn, err)
	}
	return dn
}

// Members reads the group's member values on a new connection bound as RootDN.
// It fails the test when the group does not exist.
func (s *Server) Members(t testing.TB, groupDN string) []string {
	t.Helper()
	c := s.rootConn(t)
	res, err := c.Search(goldap.NewSearchRequest(groupDN, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		0, 10, false, "(objectClass=*)", []string{"member"}, nil))
	if err != nil {
		t.Fatalf("read group %s: %v", groupDN, err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("read group %s: %d entries", groupDN, len(res.Entries))
	}
	return res.Entries[0].GetAttributeValues("member")
}

func (s *Server) rootConn(t testing.TB) *goldap.Conn {
	t.Helper()
	c, err := s.RootConn()
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
