package ldap

import (
	"errors"
	"fmt"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/elevator-dev/elevator/internal/provider"
)

func TestMatchMembers(t *testing.T) {
	const alice = "uid=alice,ou=people,dc=example,dc=org"
	empty, err := goldap.ParseDN("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                     string
		values                   []string
		user                     string
		listed                   string
		placeholders, unparsable int
	}{
		{name: "exact", values: []string{alice}, user: alice, listed: alice},
		{name: "case and spaces", values: []string{"UID=Alice, OU=People, DC=Example, DC=Org"}, user: alice, listed: "UID=Alice, OU=People, DC=Example, DC=Org"},
		{name: "hex escape of a comma", values: []string{`cn=Smith\2C John,dc=org`}, user: `cn=Smith\, John,dc=org`, listed: `cn=Smith\2C John,dc=org`},
		{name: "other user", values: []string{"uid=alicia,ou=people,dc=example,dc=org"}, user: alice},
		{name: "prefix is not a match", values: []string{"uid=alice,ou=people,dc=example"}, user: alice},
		{name: "escaped comma is not two RDNs", values: []string{`uid=alice\,ou=people,dc=example,dc=org`}, user: alice},
		{name: "placeholder counted, never the user", values: []string{"", "uid=bob,dc=org"}, user: alice, placeholders: 1},
		{name: "unparsable values counted", values: []string{"garbage", alice}, user: alice, listed: alice, unparsable: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := matchMembers(tc.values, tc.user, empty)
			if m.listed != tc.listed || m.placeholders != tc.placeholders || m.unparsable != tc.unparsable || m.total != len(tc.values) {
				t.Fatalf("matchMembers = %+v, want listed %q, placeholders %d, unparsable %d, total %d",
					m, tc.listed, tc.placeholders, tc.unparsable, len(tc.values))
			}
		})
	}
}

func TestFilterForEscapesTheSubject(t *testing.T) {
	s := &settings{userFilter: "(&(objectClass=person)(uid={subject}))"}
	for subject, want := range map[string]string{
		"alice":        `(&(objectClass=person)(uid=alice))`,
		"alice)(uid=*": `(&(objectClass=person)(uid=alice\29\28uid=\2a))`,
		`a\b`:          `(&(objectClass=person)(uid=a\5cb))`,
		"nul\x00":      `(&(objectClass=person)(uid=nul\00))`,
		"zoë":          `(&(objectClass=person)(uid=zo\c3\ab))`,
	} {
		got := s.filterFor(subject)
		if got != want {
			t.Errorf("filterFor(%q) = %q, want %q", subject, got, want)
		}
		if _, err := goldap.CompileFilter(got); err != nil {
			t.Errorf("filterFor(%q) = %q does not compile: %v", subject, got, err)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		code      uint16
		permanent bool
	}{
		{goldap.ErrorNetwork, false},
		{goldap.LDAPResultBusy, false},
		{goldap.LDAPResultUnavailable, false},
		{goldap.LDAPResultServerDown, false},
		{goldap.LDAPResultTimeLimitExceeded, false},
		{goldap.LDAPResultOther, false},
		{goldap.LDAPResultInvalidDNSyntax, true},
		{goldap.LDAPResultNoSuchObject, true},
		{goldap.LDAPResultInvalidCredentials, true},
		{goldap.LDAPResultInsufficientAccessRights, true},
		{goldap.LDAPResultObjectClassViolation, true},
	} {
		err := fmt.Errorf("context: %w", goldap.NewError(tc.code, errors.New("x")))
		if got := provider.IsPermanent(classify(err)); got != tc.permanent {
			t.Errorf("classify(code %d) permanent = %v, want %v", tc.code, got, tc.permanent)
		}
	}
	if classify(nil) != nil {
		t.Error("classify(nil) is not nil")
	}
	if provider.IsPermanent(classify(errors.New("plain"))) {
		t.Error("an error without an LDAP code was marked permanent")
	}
}

func TestEvidenceWording(t *testing.T) {
	m := memberMatch{total: 2, placeholders: 1}
	got := m.evidence("uid=alice,dc=org", "", false, false)
	want := `member has 2 values (including the placeholder ""); uid=alice,dc=org is not among them; ` +
		`the server does not match (member=uid=alice,dc=org) on the group`
	if got != want {
		t.Fatalf("evidence = %q\nwant      %q", got, want)
	}
	m = memberMatch{total: 1, listed: "UID=alice,dc=org"}
	got = m.evidence("uid=alice,dc=org", "", true, true)
	want = `member has 1 value (the server sent member in ranges, so the list is partial); ` +
		`uid=alice,dc=org is among them (as "UID=alice,dc=org"); the server matches (member=uid=alice,dc=org) on the group`
	if got != want {
		t.Fatalf("evidence = %q\nwant      %q", got, want)
	}
}
