package ldap

import (
	"fmt"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/elevator-dev/elevator/internal/provider"
)

const (
	memberAttr = "member"
	// noAttrs asks a search for no attributes, only the DNs (RFC 4511 4.5.1.8).
	noAttrs = "1.1"
	// maxUserMatches bounds the subject search: one match is wanted, more
	// than one is an error, and the error need not list them all.
	maxUserMatches = 10
)

// userLookup is the result of searching for a subject's entry.
type userLookup struct {
	base, filter string
	// dn is the matching entry's DN, "" when none matches.
	dn string
}

func (u userLookup) found() bool { return u.dn != "" }

func (u userLookup) method() string {
	return fmt.Sprintf("LDAP subtree search of %s for %s", u.base, u.filter)
}

func (u userLookup) describe() string {
	return fmt.Sprintf("no entry matches %s under %s", u.filter, u.base)
}

// findUser searches for the subject's entry. No match is not an error (the
// caller decides); more than one match is a Permanent error naming the count.
func (c *client) findUser(s *session, subject string) (userLookup, error) {
	u := userLookup{base: c.cfg.userBaseDN, filter: c.cfg.filterFor(subject)}
	if subject == "" {
		return u, provider.Permanentf("the subject is empty")
	}
	req := goldap.NewSearchRequest(u.base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		maxUserMatches, c.timeLimit(), false, u.filter, []string{noAttrs}, nil)
	res, err := s.conn.Search(req)
	truncated := goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded)
	if err != nil && !truncated {
		return u, classify(fmt.Errorf("search %s for %s: %w", u.base, u.filter, err))
	}
	if len(res.Entries) == 1 && !truncated {
		u.dn = res.Entries[0].DN
		return u, nil
	}
	if len(res.Entries) == 0 {
		return u, nil
	}
	count := fmt.Sprint(len(res.Entries))
	if truncated {
		count = fmt.Sprintf("more than %d", len(res.Entries))
	}
	return u, provider.Permanentf("subject %q is ambiguous: %s entries under %s match %s (%s); the user filter must match exactly one",
		subject, count, u.base, u.filter, entryDNs(res.Entries, 3))
}

// entryDNs lists the first n entries' DNs.
func entryDNs(entries []*goldap.Entry, n int) string {
	dns := make([]string, 0, n)
	for i, e := range entries {
		if i == n {
			dns = append(dns, "...")
			break
		}
		dns = append(dns, e.DN)
	}
	return strings.Join(dns, "; ")
}

// timeLimit is the server-side time limit of a search, in whole seconds.
func (c *client) timeLimit() int {
	return max(1, int(c.cfg.timeout.Seconds()))
}

// readBase reads one entry by base-scope search, to prove it exists and is
// readable.
func (s *session) readBase(dn string) error {
	_, err := s.conn.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		1, 0, false, "(objectClass=*)", []string{noAttrs}, nil))
	return classify(err)
}

// addMember adds userDN to the group's member attribute.
func (c *client) addMember(s *session, group, userDN string) error {
	req := goldap.NewModifyRequest(group, nil)
	req.Add(memberAttr, []string{userDN})
	err := s.conn.Modify(req)
	switch {
	case err == nil, goldap.IsErrorWithCode(err, goldap.LDAPResultAttributeOrValueExists):
		return nil
	case goldap.IsErrorWithCode(err, goldap.LDAPResultEntryAlreadyExists):
		// Active Directory answers an existing member with entryAlreadyExists
		// (ERROR_MEMBER_IN_ALIAS) instead of attributeOrValueExists.
		return c.confirm(s, group, userDN, true, fmt.Errorf("add %s to member of %s: %w", userDN, group, err))
	}
	return classify(fmt.Errorf("add %s to member of %s: %w", userDN, group, err))
}

// deleteMember deletes userDN from the group's member attribute.
func (c *client) deleteMember(s *session, group, userDN string) error {
	req := goldap.NewModifyRequest(group, nil)
	req.Delete(memberAttr, []string{userDN})
	err := s.conn.Modify(req)
	switch {
	case err == nil, goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchAttribute):
		return nil
	case goldap.IsErrorWithCode(err, goldap.LDAPResultObjectClassViolation):
		// groupOfNames requires a member: userDN is the last one.
		return c.replaceWithPlaceholder(s, group, userDN)
	case goldap.IsErrorWithCode(err, goldap.LDAPResultUnwillingToPerform):
		// Active Directory answers removing a non-member with unwillingToPerform
		// (ERROR_MEMBER_NOT_IN_ALIAS) instead of noSuchAttribute.
		return c.confirm(s, group, userDN, false, fmt.Errorf("delete %s from member of %s: %w", userDN, group, err))
	}
	return classify(fmt.Errorf("delete %s from member of %s: %w", userDN, group, err))
}

// replaceWithPlaceholder adds the placeholder and deletes userDN in one Modify,
// which the server applies atomically, so the group is never left without a
// member and never keeps the subject.
func (c *client) replaceWithPlaceholder(s *session, group, userDN string) error {
	if dnEqual(userDN, c.cfg.placeholderDN) {
		return provider.Permanentf("delete %s from member of %s: it is the connection's placeholderMember and the group's last member", userDN, group)
	}
	req := goldap.NewModifyRequest(group, nil)
	req.Add(memberAttr, []string{c.cfg.placeholder})
	req.Delete(memberAttr, []string{userDN})
	err := s.conn.Modify(req)
	switch {
	case err == nil, goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchAttribute):
		// noSuchAttribute: someone else removed userDN in between.
		return nil
	case goldap.IsErrorWithCode(err, goldap.LDAPResultAttributeOrValueExists):
		// The placeholder appeared in between; the next attempt deletes userDN alone.
		return fmt.Errorf("replace last member %s of %s with placeholder %q: the group changed meanwhile: %w",
			userDN, group, c.cfg.placeholder, err)
	}
	return classify(fmt.Errorf("replace last member %s of %s with placeholder %q: %w", userDN, group, c.cfg.placeholder, err))
}

// confirm decides an ambiguous refusal by reading the group: if membership is
// already as wanted the call succeeded, otherwise the refusal stands.
func (c *client) confirm(s *session, group, userDN string, want bool, refusal error) error {
	obs, err := c.observe(s, group, userDN)
	if err != nil {
		return fmt.Errorf("%w; reading the group back to interpret that failed too: %w", refusal, err)
	}
	if obs.Present == want {
		return nil
	}
	return classify(refusal)
}

// observe reads the group fresh and decides whether userDN is a member. It
// compares every member value with userDN by DN matching, and also has the
// server match (member=userDN) on the group entry, which stays right where the
// member list is partial (Active Directory returns large groups in ranges).
// Either saying yes makes the subject a member.
func (c *client) observe(s *session, group, userDN string) (provider.Observation, error) {
	obs := provider.Observation{Method: fmt.Sprintf(
		"LDAP base search of %s for member, and base search of it with filter (member=%s)", group, userDN)}
	entry, err := c.readGroup(s, group, "(objectClass=*)", memberAttr)
	if err != nil {
		return obs, err
	}
	if entry == nil {
		return obs, provider.Permanentf("read group %s: the server returned no entry", group)
	}
	m := matchMembers(entry.GetEqualFoldAttributeValues(memberAttr), userDN, c.cfg.placeholderDN)
	matched, err := c.readGroup(s, group, "(member="+goldap.EscapeFilter(userDN)+")", noAttrs)
	if err != nil {
		return obs, err
	}
	obs.Present = m.listed != "" || matched != nil
	obs.Evidence = m.evidence(userDN, c.cfg.placeholder, matched != nil, rangedMembers(entry))
	return obs, nil
}

// readGroup reads the group entry with a base-scope search. It returns nil
// when the entry exists but does not match filter.
func (c *client) readGroup(s *session, group, filter, attr string) (*goldap.Entry, error) {
	res, err := s.conn.Search(goldap.NewSearchRequest(group, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		1, c.timeLimit(), false, filter, []string{attr}, nil))
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return nil, provider.Permanentf("read group %s: no such entry: %w", group, err)
	}
	if err != nil {
		return nil, classify(fmt.Errorf("read group %s: %w", group, err))
	}
	if len(res.Entries) == 0 {
		return nil, nil
	}
	return res.Entries[0], nil
}

// rangedMembers reports whether the server sent member in ranges (Active
// Directory's member;range=0-1499), so that the list read is partial.
func rangedMembers(e *goldap.Entry) bool {
	for _, a := range e.Attributes {
		if strings.HasPrefix(strings.ToLower(a.Name), memberAttr+";range=") {
			return true
		}
	}
	return false
}
