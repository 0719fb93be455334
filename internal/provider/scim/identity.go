package scim

import (
	"context"
	"fmt"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// maxNestedGroups bounds how many member groups of the role's group are read
// to find the user through nesting.
const maxNestedGroups = 20

// storedTarget is the grant's stored identity when it is complete enough to
// act on: the user's and the group's ids.
func storedTarget(e provider.Entitlement) (*accessv1alpha1.GrantTarget, bool) {
	t := e.Target
	if t == nil || t.Subject == nil || t.Group == nil || t.Subject.ID == "" || t.Group.ID == "" {
		return nil, false
	}
	return t, true
}

// atEndpoint is the session for the base URL a grant was made at: c when it is
// the connection's URL (or none was stored), otherwise a copy that talks to
// the stored one with the connection's token and TLS trust.
func (c *session) atEndpoint(endpoint string) *session {
	if endpoint == "" || endpoint == c.baseURL {
		return c
	}
	client := *c.Client
	client.baseURL = endpoint
	return &session{Client: &client, token: c.token}
}

func (c *session) removeStored(ctx context.Context, stored *accessv1alpha1.GrantTarget) error {
	if _, err := c.setMemberByID(ctx, stored.Group.ID, stored.Subject.ID, false); err != nil {
		return fmt.Errorf("revoke SCIM group %q from user id %q: %w", stored.Group.ID, stored.Subject.ID, err)
	}
	return nil
}

// checkStored reads the stored group at the stored base URL for the stored
// user id, and notes where the connection's current settings would have led
// elsewhere (a changed URL, or a user no longer found under that userName).
func (c *session) checkStored(ctx context.Context, subject string, stored *accessv1alpha1.GrantTarget) (provider.Observation, error) {
	at := c.atEndpoint(stored.Endpoint)
	user := &resource{ID: stored.Subject.ID, UserName: stored.Subject.Name}
	obs, err := at.observe(ctx, stored.Group.ID, user)
	if err != nil {
		return provider.Observation{}, err
	}
	obs.Evidence = "stored identity: " + obs.Evidence
	if at != c {
		obs.ConnectionChanged = fmt.Sprintf("the connection's url is now %s, but the grant was made at %s: revoked and verified there", c.baseURL, stored.Endpoint)
		return obs, nil
	}
	obs.ConnectionChanged = c.userDrift(ctx, subject, stored.Subject.ID)
	return obs, nil
}

// userDrift says how the subject resolves now, when that is not the stored user.
func (c *session) userDrift(ctx context.Context, subject, storedID string) string {
	user, _, err := c.findUser(ctx, subject)
	switch {
	case err != nil:
		return fmt.Sprintf("userName %q no longer resolves (%v); acted on the stored user id %s", subject, err, storedID)
	case user == nil:
		return fmt.Sprintf("no user has userName %q any more; acted on the stored user id %s", subject, storedID)
	case user.ID != storedID:
		return fmt.Sprintf("userName %q is now user id %s; acted on the stored user id %s", subject, user.ID, storedID)
	}
	return ""
}

// nestedGroupsHolding reads the groups among g's members (type "Group", at
// most maxNestedGroups) and names those that have userID as a member: access
// to g through nesting, on servers that honour nested groups.
func (c *session) nestedGroupsHolding(ctx context.Context, g *resource, userID string) ([]provider.ResidualPath, error) {
	var paths []provider.ResidualPath
	read := 0
	for _, m := range g.Members {
		if m.Type != "Group" || m.Value == "" || m.Value == g.ID {
			continue
		}
		if read == maxNestedGroups {
			break
		}
		read++
		nested, _, err := c.readGroup(ctx, m.Value)
		if err != nil {
			return nil, fmt.Errorf("read group %q, a member of group %q, for nested access: %w", m.Value, g.ID, err)
		}
		if nested.hasMember(userID) {
			paths = append(paths, provider.ResidualPath{
				Name:      fmt.Sprintf("SCIM group %q (id %s), a member of group %s, has user id %s", nested.DisplayName, nested.ID, g.ID, userID),
				CreatedAt: nested.Meta.createdAt(),
			})
		}
	}
	return paths, nil
}

// createdAt is meta.created, nil when the server sent none or it is not RFC 3339.
func (m resourceMeta) createdAt() *time.Time {
	t, err := time.Parse(time.RFC3339Nano, m.Created)
	if err != nil {
		return nil
	}
	t = t.UTC()
	return &t
}
