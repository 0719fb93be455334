package slapdtest

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

func serviceConn(t *testing.T, s *Server) *goldap.Conn {
	t.Helper()
	c, err := goldap.DialURL(s.URL)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	c.SetTimeout(10 * time.Second)
	if err := c.Bind(ServiceDN, s.ServicePassword); err != nil {
		t.Fatalf("bind as %s: %v", ServiceDN, err)
	}
	return c
}

// The fixture is loaded, with DNs escaped so that the server parses them to
// the intended values.
func TestFixtureLoaded(t *testing.T) {
	s := Start(t, Options{})
	c := serviceConn(t, s)
	for key, p := range People {
		res, err := c.Search(goldap.NewSearchRequest(p.DN(), goldap.ScopeBaseObject, goldap.NeverDerefAliases,
			0, 0, false, "(objectClass=inetOrgPerson)", []string{"uid", p.RDNType}, nil))
		if err != nil {
			t.Fatalf("%s: read %s: %v", key, p.DN(), err)
		}
		e := res.Entries[0]
		if got := e.GetAttributeValue("uid"); got != p.UID {
			t.Errorf("%s: uid = %q, want %q", key, got, p.UID)
		}
		if !contains(e.GetAttributeValues(p.RDNType), p.RDNValue) {
			t.Errorf("%s: %s values %q lack %q", key, p.RDNType, e.GetAttributeValues(p.RDNType), p.RDNValue)
		}
	}
}

// The service account may change the members of groups under GroupsDN only,
// and cannot read passwords.
func TestServiceAccountACLs(t *testing.T) {
	s := Start(t, Options{})
	open := s.AddGroup(t, GroupsDN, "open", People["alice"].DN())
	locked := s.AddGroup(t, RestrictedDN, "locked", People["alice"].DN())
	c := serviceConn(t, s)

	add := func(group string) error {
		req := goldap.NewModifyRequest(group, nil)
		req.Add("member", []string{People["bob"].DN()})
		return c.Modify(req)
	}
	if err := add(open); err != nil {
		t.Fatalf("add member to %s: %v", open, err)
	}
	if err := add(locked); !goldap.IsErrorWithCode(err, goldap.LDAPResultInsufficientAccessRights) {
		t.Fatalf("add member to %s: got %v, want insufficientAccessRights", locked, err)
	}
	rename := goldap.NewModifyRequest(open, nil)
	rename.Replace("cn", []string{"renamed"})
	if err := c.Modify(rename); !goldap.IsErrorWithCode(err, goldap.LDAPResultInsufficientAccessRights) {
		t.Fatalf("change cn of %s: got %v, want insufficientAccessRights", open, err)
	}
	res, err := c.Search(goldap.NewSearchRequest(ServiceDN, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"userPassword"}, nil))
	if err == nil && len(res.Entries) > 0 && len(res.Entries[0].GetAttributeValues("userPassword")) > 0 {
		t.Fatal("the service account can read userPassword")
	}
	if got := s.Members(t, open); len(got) != 2 {
		t.Fatalf("members of %s = %q, want alice and bob", open, got)
	}
}

// Stop ends the process: the port stops accepting connections.
func TestStopEndsTheServer(t *testing.T) {
	s := Start(t, Options{TLS: true})
	if s.LDAPSURL == "" || !strings.Contains(s.CAPEM, "BEGIN CERTIFICATE") {
		t.Fatalf("TLS server without ldaps URL or CA: %q", s.LDAPSURL)
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	c, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err == nil {
		_ = c.Close() // the test fails on the line below either way
		t.Fatalf("%s still accepts connections after Stop", u.Host)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("dial after stop: %v", err)
	}
}

func contains(values []string, v string) bool {
	for _, x := range values {
		if x == v {
			return true
		}
	}
	return false
}

// A missing program fails with the command that installs it.
func TestMissingBinaryNamesMakeTestDeps(t *testing.T) {
	_, err := findBinary("slapd-not-installed-anywhere")
	if err == nil || !strings.Contains(err.Error(), "make test-deps") {
		t.Fatalf("findBinary of a missing program = %v, want an error naming make test-deps", err)
	}
}

// The accesslog overlay logs writes, refused ones too, with the bound DN;
// ServiceDN may read the log, a person may not, and nobody may write it.
func TestAccessLogRecordsWritesAndOnlyServiceDNReadsIt(t *testing.T) {
	s := Start(t, Options{})
	alice := People["alice"].DN()
	open := s.AddGroup(t, GroupsDN, "open", alice)
	locked := s.AddGroup(t, RestrictedDN, "locked", alice)
	person := s.Conn(t, alice, s.SetPassword(t, alice))
	describe := func(group string) error {
		req := goldap.NewModifyRequest(group, nil)
		req.Replace("description", []string{"by a member"})
		return person.Modify(req)
	}
	if err := describe(open); err != nil {
		t.Fatalf("a member changes the description of %s: %v", open, err)
	}
	if err := describe(locked); !goldap.IsErrorWithCode(err, goldap.LDAPResultInsufficientAccessRights) {
		t.Fatalf("a member changes the description of %s: got %v, want insufficientAccessRights", locked, err)
	}
	results := map[string]string{}
	for _, e := range s.AccessLog(t) {
		if strings.EqualFold(e.GetAttributeValue("reqAuthzID"), alice) {
			results[e.GetAttributeValue("reqDN")] = e.GetAttributeValue("reqResult")
		}
	}
	if results[open] != "0" || results[locked] != "50" || len(results) != 2 {
		t.Fatalf("the log's results of alice's writes = %v, want 0 for %s and 50 for %s", results, open, locked)
	}
	if _, err := person.Search(goldap.NewSearchRequest(AccessLogDN, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		0, 0, false, "(objectClass=*)", []string{"1.1"}, nil)); !goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		t.Fatalf("a person searches the log: got %v, want noSuchObject", err)
	}
	for _, c := range []*goldap.Conn{serviceConn(t, s), s.rootConn(t)} {
		del := goldap.NewDelRequest(s.AccessLog(t)[0].DN, nil)
		if err := c.Del(del); err == nil {
			t.Fatal("an entry of the log was deleted over LDAP")
		}
	}
}

// Down refuses connections, ModifyOffline changes the stopped database, and
// Up serves the same URL with the data from before and the offline change.
func TestDownModifyOfflineUp(t *testing.T) {
	s := Start(t, Options{})
	group := s.AddGroup(t, GroupsDN, "outage", People["alice"].DN())
	if err := s.Down(); err != nil {
		t.Fatalf("down: %v", err)
	}
	if c, err := goldap.DialURL(s.URL); err == nil {
		_ = c.Close()
		t.Fatalf("dialled %s while down", s.URL)
	}
	change := "dn: " + group + "\nchangetype: modify\nadd: member\nmember: " + People["bob"].DN() + "\n-\n"
	if err := s.ModifyOffline(change); err != nil {
		t.Fatalf("modify offline: %v", err)
	}
	if err := s.Up(); err != nil {
		t.Fatalf("up: %v", err)
	}
	members := s.Members(t, group)
	if !contains(members, People["alice"].DN()) || !contains(members, People["bob"].DN()) {
		t.Fatalf("members after Up = %q, want alice's from before and bob's from the offline change", members)
	}
	if err := s.ModifyOffline(change); err == nil || !strings.Contains(err.Error(), "running") {
		t.Fatalf("ModifyOffline while running: %v, want a refusal naming it", err)
	}
}
