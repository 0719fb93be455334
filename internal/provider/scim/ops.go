package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

const patchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// patchRequest is a SCIM PatchOp message (RFC 7644 section 3.5.2).
type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

func (c *session) grant(ctx context.Context, e provider.Entitlement) (provider.Grant, error) {
	role, err := roleOf(e)
	if err != nil {
		return provider.Grant{}, err
	}
	user, _, err := c.findUser(ctx, e.Subject)
	if err != nil {
		return provider.Grant{}, fmt.Errorf("grant SCIM group %s: %w", groupRef(role), err)
	}
	if user == nil {
		return provider.Grant{}, provider.Permanentf("grant SCIM group %s: no user with userName %q in the SCIM server at %s", groupRef(role), e.Subject, c.baseURL)
	}
	g, err := c.setMember(ctx, role, user, true)
	if err != nil {
		return provider.Grant{}, fmt.Errorf("grant SCIM group %s to user %q: %w", groupRef(role), e.Subject, err)
	}
	return provider.Grant{Target: accessv1alpha1.GrantTarget{
		Endpoint: c.baseURL,
		Subject:  &accessv1alpha1.TargetObject{ID: user.ID, Name: user.UserName},
		Group:    &accessv1alpha1.TargetObject{ID: g.ID, Name: g.DisplayName},
	}}, nil
}

func (c *session) revoke(ctx context.Context, e provider.Entitlement) error {
	if stored, ok := storedTarget(e); ok {
		return c.atEndpoint(stored.Endpoint).removeStored(ctx, stored)
	}
	role, err := roleOf(e)
	if err != nil {
		return err
	}
	user, _, err := c.findUser(ctx, e.Subject)
	if err != nil {
		return fmt.Errorf("revoke SCIM group %s: %w", groupRef(role), err)
	}
	if user == nil {
		return nil
	}
	if _, err := c.setMember(ctx, role, user, false); err != nil {
		return fmt.Errorf("revoke SCIM group %s from user %q: %w", groupRef(role), e.Subject, err)
	}
	return nil
}

func (c *session) check(ctx context.Context, e provider.Entitlement) (provider.Observation, error) {
	if stored, ok := storedTarget(e); ok {
		return c.checkStored(ctx, e.Subject, stored)
	}
	role, err := roleOf(e)
	if err != nil {
		return provider.Observation{}, err
	}
	user, method, err := c.findUser(ctx, e.Subject)
	if err != nil {
		return provider.Observation{}, fmt.Errorf("check SCIM group %s: %w", groupRef(role), err)
	}
	if user == nil {
		return provider.Observation{
			Present:  false,
			Method:   method,
			Evidence: fmt.Sprintf("user %q was not found in the SCIM server, so it is a member of no group", e.Subject),
		}, nil
	}
	id, err := c.groupID(ctx, role)
	if err != nil {
		return provider.Observation{}, fmt.Errorf("check SCIM group %s: %w", groupRef(role), err)
	}
	return c.observe(ctx, id, user)
}

// observe reads the group fresh and reports whether the user's id is among its
// members, and, when it is not, the nested groups that still hold the user.
func (c *session) observe(ctx context.Context, groupID string, user *resource) (provider.Observation, error) {
	g, r, err := c.readGroup(ctx, groupID)
	if err != nil {
		return provider.Observation{}, fmt.Errorf("check SCIM group %q: %w", groupID, err)
	}
	present := g.hasMember(user.ID)
	obs := provider.Observation{Present: present, Method: r.String(), Evidence: evidence(g, user, present)}
	if present {
		return obs, nil
	}
	if obs.Residual, err = c.nestedGroupsHolding(ctx, g, user.ID); err != nil {
		return provider.Observation{}, err
	}
	return obs, nil
}

func (c *session) health(ctx context.Context) error {
	r := request{method: http.MethodGet, path: "/ServiceProviderConfig"}
	var cfg map[string]any
	err := c.do(ctx, r, &cfg)
	var se *StatusError
	switch {
	case errors.As(err, &se) && se.Status == http.StatusNotFound:
		return fmt.Errorf("%w: check that spec.provider.scim.url is the SCIM base URL, the one /Users and /Groups are under", err)
	case err != nil:
		return err
	case cfg == nil:
		return fmt.Errorf("SCIM server at %s answered %s with no ServiceProviderConfig", c.baseURL, r)
	}
	return nil
}

func (c *session) findUser(ctx context.Context, subject string) (*resource, string, error) {
	return c.find(ctx, users, subject)
}

// setMember makes the user a member of the role's group (want true) or not
// (want false). It reads the group first and patches only when needed, and
// returns the group as read.
func (c *session) setMember(ctx context.Context, role *accessv1alpha1.SCIMRole, user *resource, want bool) (*resource, error) {
	id, err := c.groupID(ctx, role)
	if err != nil {
		return nil, err
	}
	return c.setMemberByID(ctx, id, user.ID, want)
}

// setMemberByID is setMember for a group and a user known by their ids.
func (c *session) setMemberByID(ctx context.Context, groupID, userID string, want bool) (*resource, error) {
	g, _, err := c.readGroup(ctx, groupID)
	if err != nil {
		return nil, err
	}
	if g.hasMember(userID) == want {
		return g, nil
	}
	return g, c.patchMember(ctx, groupID, userID, want)
}

// patchMember sends the PATCH that adds (want true) or removes the member.
// When the server refuses it with a 4xx, patchMember reads the group again:
// servers answer "already a member" and "not a member" in different ways
// (409, 400 with a scimType, 204, 200), and the state the group is in is what
// counts.
func (c *session) patchMember(ctx context.Context, groupID, userID string, want bool) error {
	op := patchOp{Op: "add", Path: "members", Value: []member{{Value: userID}}}
	if !want {
		op = patchOp{Op: "remove", Path: "members[value eq " + quote(userID) + "]"}
	}
	r := request{
		method: http.MethodPatch,
		path:   groups.endpoint + "/" + url.PathEscape(groupID),
		body:   patchRequest{Schemas: []string{patchOpSchema}, Operations: []patchOp{op}},
	}
	err := c.do(ctx, r, nil)
	if err == nil || !provider.IsPermanent(err) {
		return err
	}
	after, _, rerr := c.readGroup(ctx, groupID)
	if rerr == nil && after.hasMember(userID) == want {
		return nil
	}
	return err
}

// roleOf returns the role's SCIM block, checking the entitlement is one this
// provider can act on.
func roleOf(e provider.Entitlement) (*accessv1alpha1.SCIMRole, error) {
	role := e.Role.SCIM
	if role == nil {
		return nil, provider.Permanentf("role %q has no scim block", e.Role.Name)
	}
	if (role.Group == "") == (role.GroupID == "") {
		return nil, provider.Permanentf("scim role %q must set exactly one of group and groupID", e.Role.Name)
	}
	if strings.TrimSpace(e.Subject) == "" {
		return nil, provider.Permanentf("subject is empty")
	}
	return role, nil
}

func evidence(g *resource, user *resource, present bool) string {
	name := g.DisplayName
	if name == "" {
		name = g.ID
	}
	verdict := "is not among them"
	if present {
		verdict = "is among them"
	}
	return fmt.Sprintf("group %q (id %s) has %d members; user %q (id %s) %s",
		name, g.ID, len(g.Members), user.UserName, user.ID, verdict)
}
