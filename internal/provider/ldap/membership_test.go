package ldap_test

import (
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/ldap"
	"github.com/elevator-dev/elevator/internal/provider/ldap/slapdtest"
)

func TestRegistration(t *testing.T) {
	reg := ldap.Registration()
	if reg.Kind != ldap.Kind || !reg.Shared || reg.New == nil {
		t.Fatalf("registration = {Kind %q, Shared %v, New set %v}, want {ldap, true, true}", reg.Kind, reg.Shared, reg.New != nil)
	}
}

func TestGrantMakesMemberAndCheckSeesIt(t *testing.T) {
	c := newClient(t)
	group := srv.AddGroup(t, slapdtest.GroupsDN, "grant", dnOf("carol"))
	e := entitlement("alice", group)

	mustCheck(t, c, e, false)
	if err := grantErr(c.Grant(ctx(t), e)); err != nil {
		t.Fatalf("grant: %v", err)
	}
	obs := mustCheck(t, c, e, true)
	for _, want := range []string{"member has 2 values", dnOf("alice") + " is among them", "the server matches"} {
		if !strings.Contains(obs.Evidence, want) {
			t.Errorf("evidence %q does not contain %q", obs.Evidence, want)
		}
	}
	if !strings.Contains(obs.Method, "base search of "+group) {
		t.Errorf("method %q does not name the group's base search", obs.Method)
	}
	// Confirmed on a second, independent connection bound as the rootdn.
	wantMembers(t, group, dnOf("carol"), dnOf("alice"))
}

func TestGrantTwiceIsOneMembership(t *testing.T) {
	c := newClient(t)
	group := srv.AddGroup(t, slapdtest.GroupsDN, "twice", dnOf("carol"))
	e := entitlement("alice", group)
	for i := range 2 {
		if err := grantErr(c.Grant(ctx(t), e)); err != nil {
			t.Fatalf("grant %d: %v", i+1, err)
		}
	}
	wantMembers(t, group, dnOf("carol"), dnOf("alice"))
	mustCheck(t, c, e, true)
}

func TestRevokeRemovesMemberAndCheckSeesItGone(t *testing.T) {
	c := newClient(t)
	group := srv.AddGroup(t, slapdtest.GroupsDN, "revoke", dnOf("carol"), dnOf("alice"))
	e := entitlement("alice", group)
	mustCheck(t, c, e, true)
	if err := c.Revoke(ctx(t), e); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	obs := mustCheck(t, c, e, false)
	for _, want := range []string{"member has 1 value;", dnOf("alice") + " is not among them", "the server does not match"} {
		if !strings.Contains(obs.Evidence, want) {
			t.Errorf("evidence %q does not contain %q", obs.Evidence, want)
		}
	}
	wantMembers(t, group, dnOf("carol"))

	// Revoking again, and revoking someone who never was a member, change nothing.
	if err := c.Revoke(ctx(t), e); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if err := c.Revoke(ctx(t), entitlement("bob", group)); err != nil {
		t.Fatalf("revoke of a non-member: %v", err)
	}
	wantMembers(t, group, dnOf("carol"))
}

func TestRevokeOneOfTwoKeepsTheOther(t *testing.T) {
	c := newClient(t)
	group := srv.AddGroup(t, slapdtest.GroupsDN, "pair", dnOf("carol"))
	alice, bob := entitlement("alice", group), entitlement("bob", group)
	for _, e := range []provider.Entitlement{alice, bob} {
		if err := grantErr(c.Grant(ctx(t), e)); err != nil {
			t.Fatalf("grant %s: %v", e.Subject, err)
		}
	}
	if err := c.Revoke(ctx(t), alice); err != nil {
		t.Fatalf("revoke alice: %v", err)
	}
	mustCheck(t, c, alice, false)
	mustCheck(t, c, bob, true)
	wantMembers(t, group, dnOf("carol"), dnOf("bob"))
}

// groupOfNames must keep a member: the server refuses to delete the last one
// (objectClassViolation), so the provider puts the placeholder in its place.
func TestRevokeLastMemberLeavesThePlaceholder(t *testing.T) {
	for _, tc := range []struct {
		name        string
		placeholder *string
		want        string
	}{
		{name: "default empty DN", placeholder: nil, want: ""},
		{name: "configured DN", placeholder: ptr("cn=nobody,ou=groups,dc=example,dc=org"), want: "cn=nobody,ou=groups,dc=example,dc=org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, func(s *accessv1alpha1.LDAPProvider) { s.PlaceholderMember = tc.placeholder })
			group := srv.AddGroup(t, slapdtest.GroupsDN, "solo", dnOf("dave"))
			e := entitlement("dave", group)

			if err := c.Revoke(ctx(t), e); err != nil {
				t.Fatalf("revoke the last member: %v", err)
			}
			if got := srv.Members(t, group); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("members after revoking the last one = %q, want only the placeholder %q", got, tc.want)
			}
			obs := mustCheck(t, c, e, false)
			if !strings.Contains(obs.Evidence, "including the placeholder") {
				t.Errorf("evidence %q does not say the placeholder was seen", obs.Evidence)
			}
			// The placeholder is not anybody: checking another subject says absent too.
			mustCheck(t, c, entitlement("alice", group), false)

			// Granting again keeps the placeholder; revoking again deletes dave alone.
			if err := grantErr(c.Grant(ctx(t), e)); err != nil {
				t.Fatalf("grant again: %v", err)
			}
			mustCheck(t, c, e, true)
			wantMembers(t, group, tc.want, dnOf("dave"))
			if err := c.Revoke(ctx(t), e); err != nil {
				t.Fatalf("revoke again: %v", err)
			}
			wantMembers(t, group, tc.want)
			if err := c.Revoke(ctx(t), e); err != nil {
				t.Fatalf("revoke a third time: %v", err)
			}
			wantMembers(t, group, tc.want)
		})
	}
}

func TestUnknownGroupIsPermanent(t *testing.T) {
	c := newClient(t)
	group := "cn=does-not-exist," + slapdtest.GroupsDN
	e := entitlement("alice", group)
	wantPermanent(t, grantErr(c.Grant(ctx(t), e)), group, "No Such Object")
	wantPermanent(t, c.Revoke(ctx(t), e), group, "No Such Object")
	_, err := c.Check(ctx(t), e)
	wantPermanent(t, err, group, "no such entry")
}

func TestInvalidGroupDNIsPermanent(t *testing.T) {
	c := newClient(t)
	for _, group := range []string{"not a dn", "cn=x,,dc=example,dc=org"} {
		e := entitlement("alice", group)
		wantPermanent(t, grantErr(c.Grant(ctx(t), e)), "groupDN")
		_, err := c.Check(ctx(t), e)
		wantPermanent(t, err, "groupDN")
	}
}

func TestGrantDeniedByACLIsPermanent(t *testing.T) {
	c := newClient(t)
	group := srv.AddGroup(t, slapdtest.RestrictedDN, "locked", dnOf("carol"))
	e := entitlement("alice", group)
	wantPermanent(t, grantErr(c.Grant(ctx(t), e)), "Insufficient Access", group)
	wantMembers(t, group, dnOf("carol"))
	mustCheck(t, c, e, false)
}

func TestSubjectWithoutEntry(t *testing.T) {
	c := newClient(t)
	group := srv.AddGroup(t, slapdtest.GroupsDN, "ghost", dnOf("carol"))
	e := entitlement("nobody-here", group)
	wantPermanent(t, grantErr(c.Grant(ctx(t), e)), "no entry matches (uid=nobody-here) under "+slapdtest.PeopleDN)
	if err := c.Revoke(ctx(t), e); err != nil {
		t.Fatalf("revoke of a subject without an entry: %v", err)
	}
	obs := mustCheck(t, c, e, false)
	if !strings.Contains(obs.Evidence, "no entry matches") || !strings.Contains(obs.Method, "subtree search of "+slapdtest.PeopleDN) {
		t.Errorf("observation %+v does not explain that no entry matches", obs)
	}
	wantMembers(t, group, dnOf("carol"))
	wantPermanent(t, grantErr(c.Grant(ctx(t), entitlement("", group))), "subject is empty")
}

func TestAmbiguousSubjectIsPermanent(t *testing.T) {
	c := newClient(t)
	group := srv.AddGroup(t, slapdtest.GroupsDN, "ambiguous", dnOf("carol"))
	e := entitlement("twin", group)
	wantPermanent(t, grantErr(c.Grant(ctx(t), e)), "ambiguous", "2 entries", dnOf("twin"), dnOf("twin-contractor"))
	wantPermanent(t, c.Revoke(ctx(t), e), "ambiguous")
	_, err := c.Check(ctx(t), e)
	wantPermanent(t, err, "ambiguous")
	wantMembers(t, group, dnOf("carol"))

	// A filter that matches everyone is bounded and named as such.
	wide := newClient(t, func(s *accessv1alpha1.LDAPProvider) { s.UserFilter = "(|(uid={subject})(objectClass=inetOrgPerson))" })
	wantPermanent(t, grantErr(wide.Grant(ctx(t), entitlement("alice", group))), "more than 10 entries")
	wantMembers(t, group, dnOf("carol"))
}

// Subjects shaped like filter injections are escaped, so they match only an
// entry whose uid is literally that string, which none is.
func TestInjectionShapedSubjectsAreInert(t *testing.T) {
	c := newClient(t)
	group := srv.AddGroup(t, slapdtest.GroupsDN, "inert", dnOf("alice"), dnOf("bob"))
	for _, subject := range []string{
		"alice)(uid=*", "*", "bob)(|(uid=*", "x' OR '1'='1", "alice*", "*)(objectClass=*",
		"alice\x00", `alice\29`, "(uid=alice)", "al*ce",
	} {
		e := entitlement(subject, group)
		err := grantErr(c.Grant(ctx(t), e))
		wantPermanent(t, err, "no entry matches")
		if err := c.Revoke(ctx(t), e); err != nil {
			t.Fatalf("revoke %q: %v", subject, err)
		}
		mustCheck(t, c, e, false)
		wantMembers(t, group, dnOf("alice"), dnOf("bob"))
	}
}

// Entries whose DNs need escaping (a comma in cn, + ; < > in uid, a leading #,
// non-ASCII) and uids that need escaping in a filter round-trip.
func TestSubjectsNeedingEscapes(t *testing.T) {
	c := newClient(t)
	for _, key := range []string{"smith", "plus", "paren", "hash", "zoe"} {
		t.Run(key, func(t *testing.T) {
			p := slapdtest.People[key]
			group := srv.AddGroup(t, slapdtest.GroupsDN, "escape", dnOf("carol"))
			e := entitlement(p.UID, group)
			if err := grantErr(c.Grant(ctx(t), e)); err != nil {
				t.Fatalf("grant %q: %v", p.UID, err)
			}
			mustCheck(t, c, e, true)
			wantMembers(t, group, dnOf("carol"), p.DN())
			if err := c.Revoke(ctx(t), e); err != nil {
				t.Fatalf("revoke %q: %v", p.UID, err)
			}
			mustCheck(t, c, e, false)
			wantMembers(t, group, dnOf("carol"))
		})
	}
}

// A member value written by someone else in another form of the same DN
// (upper case, hex escapes) counts as the subject, and Revoke removes it.
func TestCheckMatchesOtherFormsOfTheDN(t *testing.T) {
	c := newClient(t)
	for _, tc := range []struct{ key, stored string }{
		{"alice", "UID=Alice,OU=People,DC=example,DC=org"},
		{"smith", `cn=smith\2c john, ou=people, dc=example, dc=org`},
	} {
		p := slapdtest.People[tc.key]
		group := srv.AddGroup(t, slapdtest.GroupsDN, "forms", dnOf("carol"), tc.stored)
		e := entitlement(p.UID, group)
		obs := mustCheck(t, c, e, true)
		if !strings.Contains(obs.Evidence, "is among them") {
			t.Errorf("evidence %q: the client-side comparison did not find %q", obs.Evidence, tc.stored)
		}
		if err := c.Revoke(ctx(t), e); err != nil {
			t.Fatalf("revoke %s: %v", tc.key, err)
		}
		mustCheck(t, c, e, false)
		wantMembers(t, group, dnOf("carol"))
	}
}

func TestCustomUserFilter(t *testing.T) {
	c := newClient(t, func(s *accessv1alpha1.LDAPProvider) {
		s.UserFilter = "(&(objectClass=inetOrgPerson)(mail={subject}))"
	})
	group := srv.AddGroup(t, slapdtest.GroupsDN, "mail", dnOf("carol"))
	e := entitlement("alice@example.org", group)
	if err := grantErr(c.Grant(ctx(t), e)); err != nil {
		t.Fatalf("grant: %v", err)
	}
	wantMembers(t, group, dnOf("carol"), dnOf("alice"))
	// The uid is not what this filter looks at.
	wantPermanent(t, grantErr(c.Grant(ctx(t), entitlement("bob", group))), "no entry matches")
}

// The contract: a Check right after another client's change sees it.
func TestCheckReadsFresh(t *testing.T) {
	c := newClient(t)
	group := srv.AddGroup(t, slapdtest.GroupsDN, "fresh", dnOf("carol"))
	e := entitlement("alice", group)
	mustCheck(t, c, e, false)
	root, err := srv.RootConn()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = root.Close() }()
	req := goldap.NewModifyRequest(group, nil)
	req.Add("member", []string{dnOf("alice")})
	if err := root.Modify(req); err != nil {
		t.Fatalf("add alice as root: %v", err)
	}
	mustCheck(t, c, e, true)
	req = goldap.NewModifyRequest(group, nil)
	req.Delete("member", []string{dnOf("alice")})
	if err := root.Modify(req); err != nil {
		t.Fatalf("delete alice as root: %v", err)
	}
	mustCheck(t, c, e, false)
}

func ptr[T any](v T) *T { return &v }

// A member value the server takes for the subject's DN by its matching rules
// (caseIgnoreMatch folds runs of spaces and compares Unicode in normalised
// form) but a client-side DN comparison does not. The server-side match keeps
// Check from calling such a subject absent, and Revoke removes the value.
func TestServerMatchCatchesWhatDNParsingMisses(t *testing.T) {
	c := newClient(t)
	for _, tc := range []struct{ key, stored string }{
		{"smith", `cn=Smith\,   John,ou=people,dc=example,dc=org`},
		{"zoe", "cn=Zoe\u0308 A\u030angstro\u0308m,ou=people,dc=example,dc=org"},
	} {
		group := srv.AddGroup(t, slapdtest.GroupsDN, "alias", dnOf("carol"), tc.stored)
		e := entitlement(slapdtest.People[tc.key].UID, group)
		obs := mustCheck(t, c, e, true)
		for _, want := range []string{"is not among them", "the server matches"} {
			if !strings.Contains(obs.Evidence, want) {
				t.Errorf("evidence %q does not contain %q", obs.Evidence, want)
			}
		}
		if err := c.Revoke(ctx(t), e); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		mustCheck(t, c, e, false)
		wantMembers(t, group, dnOf("carol"))
	}
}
