package ldap

import (
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// memberMatch is what the member values of a group say about one DN.
type memberMatch struct {
	// total is the number of member values read.
	total int
	// placeholders is how many of them are the placeholder member.
	placeholders int
	// unparsable is how many are not valid DNs.
	unparsable int
	// listed is the member value equal to the DN, as stored, or "".
	listed string
}

// matchMembers compares member values with userDN by DN matching: attribute
// types and values compared case-insensitively, escapes decoded, so that
// "UID=Alice, ou=People,..." and "cn=Smith\2C John,..." match the forms the
// search returned. This mirrors the server's distinguishedNameMatch for the
// caseIgnore naming attributes directories use.
func matchMembers(values []string, userDN string, placeholder *goldap.DN) memberMatch {
	m := memberMatch{total: len(values)}
	want, err := goldap.ParseDN(userDN)
	if err != nil {
		want = nil
	}
	for _, v := range values {
		dn, err := goldap.ParseDN(v)
		switch {
		case err != nil:
			m.unparsable++
		case placeholder != nil && dn.EqualFold(placeholder):
			m.placeholders++
		case want != nil && m.listed == "" && dn.EqualFold(want):
			m.listed = v
		}
	}
	return m
}

// dnEqual reports whether dn, a string, matches other.
func dnEqual(dn string, other *goldap.DN) bool {
	parsed, err := goldap.ParseDN(dn)
	return err == nil && other != nil && parsed.EqualFold(other)
}

// evidence says, for the audit record, what the read showed.
func (m memberMatch) evidence(userDN, placeholder string, serverMatched, ranged bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "member has %d value%s", m.total, plural(m.total))
	if m.placeholders > 0 {
		fmt.Fprintf(&b, " (including the placeholder %q)", placeholder)
	}
	if m.unparsable > 0 {
		fmt.Fprintf(&b, " (%d not a valid DN)", m.unparsable)
	}
	if ranged {
		b.WriteString(" (the server sent member in ranges, so the list is partial)")
	}
	if m.listed != "" {
		fmt.Fprintf(&b, "; %s is among them (as %q)", userDN, m.listed)
	} else {
		fmt.Fprintf(&b, "; %s is not among them", userDN)
	}
	if serverMatched {
		fmt.Fprintf(&b, "; the server matches (member=%s) on the group", userDN)
	} else {
		fmt.Fprintf(&b, "; the server does not match (member=%s) on the group", userDN)
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
