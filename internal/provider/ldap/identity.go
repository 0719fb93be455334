package ldap

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// createTimestampAttr is the operational attribute holding when an entry was
// made (RFC 4512 section 3.4.1).
const createTimestampAttr = "createTimestamp"

// maxNestedGroups bounds the search for groups that still hold the subject.
const maxNestedGroups = 50

// storedTarget is the grant's stored identity when it is complete enough to
// act on: the subject's DN and the group's DN.
func storedTarget(e provider.Entitlement) (*accessv1alpha1.GrantTarget, bool) {
	t := e.Target
	if t == nil || t.Subject == nil || t.Group == nil || t.Subject.ID == "" || t.Group.ID == "" {
		return nil, false
	}
	return t, true
}

// atEndpoint returns the client for the URL a grant was made at: c when it is
// the connection's URL (or none was stored), otherwise a copy that dials the
// stored URL with the connection's bind account and TLS trust, and a note that
// the connection changed.
func (c *client) atEndpoint(endpoint string) (*client, string) {
	if endpoint == "" || endpoint == c.cfg.url {
		return c, ""
	}
	cfg := *c.cfg
	cfg.url = endpoint
	cfg.tls = c.cfg.tls.Clone()
	cfg.tls.ServerName = hostOf(endpoint)
	note := fmt.Sprintf("the connection's url is now %s, but the grant was made at %s: revoked and verified there", c.cfg.url, endpoint)
	return &client{cfg: &cfg, secrets: c.secrets}, note
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if h, _, err := net.SplitHostPort(u.Host); err == nil {
		return h
	}
	return u.Host
}

// checkStored reads the stored group at the stored URL for the stored DN, and
// notes where the connection's current settings would have led elsewhere.
func (c *client) checkStored(ctx context.Context, subject string, stored *accessv1alpha1.GrantTarget) (provider.Observation, error) {
	at, note := c.atEndpoint(stored.Endpoint)
	s, err := at.connect(ctx)
	if err != nil {
		return provider.Observation{}, err
	}
	defer s.close()
	obs, err := at.observeWithResidual(s, stored.Group.ID, stored.Subject.ID)
	if err != nil {
		return provider.Observation{}, err
	}
	if note == "" {
		note = at.filterDrift(s, subject, stored.Subject.ID)
	}
	obs.ConnectionChanged = note
	obs.Evidence = "stored identity " + stored.Subject.ID + ": " + obs.Evidence
	return obs, nil
}

// filterDrift says how the connection's user filter resolves the subject now,
// when that is not the stored DN: a changed filter, or a renamed entry.
func (c *client) filterDrift(s *session, subject, storedDN string) string {
	user, err := c.findUser(s, subject)
	switch {
	case err != nil:
		return fmt.Sprintf("the connection's user filter no longer resolves %q (%v); acted on the stored DN %s", subject, err, storedDN)
	case !user.found():
		return fmt.Sprintf("the connection's user filter no longer finds %q (%s); acted on the stored DN %s", subject, user.describe(), storedDN)
	case !dnEqual(user.dn, mustParseDN(storedDN)):
		return fmt.Sprintf("the connection's user filter now resolves %q to %s; acted on the stored DN %s", subject, user.dn, storedDN)
	}
	return ""
}

func mustParseDN(dn string) *goldap.DN {
	parsed, err := goldap.ParseDN(dn)
	if err != nil {
		return nil
	}
	return parsed
}

// observeWithResidual is observe, plus, when userDN is not a member, the
// groups nested in the group that still hold it.
func (c *client) observeWithResidual(s *session, group, userDN string) (provider.Observation, error) {
	obs, err := c.observe(s, group, userDN)
	if err != nil || obs.Present {
		return obs, err
	}
	obs.Residual, err = c.nestedGroupsHolding(s, group, userDN)
	if err != nil {
		return provider.Observation{}, err
	}
	obs.Method += fmt.Sprintf(", and a subtree search under %s for groups with (member=%s) that are members of it", parentDN(group), userDN)
	return obs, nil
}

// nestedGroupsHolding finds groups that have userDN as a member and are
// themselves members of group: one level of nesting, among the groups under
// the group's parent entry. The directory is not asked to follow nesting (only
// Active Directory can), so deeper nesting and groups elsewhere are not seen.
func (c *client) nestedGroupsHolding(s *session, group, userDN string) ([]provider.ResidualPath, error) {
	entry, err := c.readGroup(s, group, "(objectClass=*)", memberAttr)
	if err != nil || entry == nil {
		return nil, err
	}
	members := entry.GetEqualFoldAttributeValues(memberAttr)
	base := parentDN(group)
	if base == "" {
		return nil, nil
	}
	req := goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		maxNestedGroups, c.timeLimit(), false, "(member="+goldap.EscapeFilter(userDN)+")", []string{createTimestampAttr}, nil)
	res, err := s.conn.Search(req)
	if err != nil && !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
		return nil, classify(fmt.Errorf("search %s for groups holding %s: %w", base, userDN, err))
	}
	var paths []provider.ResidualPath
	for _, g := range res.Entries {
		if dnEqual(g.DN, mustParseDN(group)) || !containsDN(members, g.DN) {
			continue
		}
		paths = append(paths, provider.ResidualPath{
			Name:      fmt.Sprintf("LDAP group %s, a member of %s, has member %s", g.DN, group, userDN),
			CreatedAt: parseGeneralizedTime(g.GetAttributeValue(createTimestampAttr)),
		})
	}
	return paths, nil
}

func containsDN(values []string, dn string) bool {
	want := mustParseDN(dn)
	for _, v := range values {
		if dnEqual(v, want) {
			return true
		}
	}
	return false
}

// parentDN is dn without its first RDN, "" for a DN of one RDN or none.
func parentDN(dn string) string {
	parsed, err := goldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) < 2 {
		return ""
	}
	parts := make([]string, 0, len(parsed.RDNs)-1)
	for _, rdn := range parsed.RDNs[1:] {
		parts = append(parts, rdn.String())
	}
	return strings.Join(parts, ",")
}

// parseGeneralizedTime reads an LDAP GeneralizedTime such as 20261201203000Z
// (RFC 4517 section 3.3.13, as directories write createTimestamp); nil when
// the value is missing or in another form.
func parseGeneralizedTime(v string) *time.Time {
	for _, layout := range []string{"20060102150405Z0700", "20060102150405.999999999Z0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			t = t.UTC()
			return &t
		}
	}
	return nil
}
