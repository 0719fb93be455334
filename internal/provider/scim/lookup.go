package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

const (
	// scanPageSize and maxScanPages bound the listing made when a server
	// can't filter on a value (see find).
	scanPageSize = 100
	maxScanPages = 100
)

// resource is the part of a SCIM User or Group the provider reads.
type resource struct {
	ID          string       `json:"id"`
	UserName    string       `json:"userName"`
	DisplayName string       `json:"displayName"`
	Members     []member     `json:"members"`
	Meta        resourceMeta `json:"meta"`
}

// resourceMeta is the part of a resource's meta the provider reads.
type resourceMeta struct {
	Created string `json:"created"`
}

// member is one entry of a Group's members; value is the member's id, and
// type, when the server sends it, "User" or "Group".
type member struct {
	Value string `json:"value"`
	Type  string `json:"type,omitempty"`
}

// hasMember reports whether the group lists id among its members.
func (r *resource) hasMember(id string) bool {
	for _, m := range r.Members {
		if m.Value == id {
			return true
		}
	}
	return false
}

// listResponse is a SCIM ListResponse (RFC 7644 section 3.4.2). JSON field
// names match case-insensitively, so servers that write "resources" work too.
type listResponse struct {
	TotalResults int        `json:"totalResults"`
	Resources    []resource `json:"Resources"`
}

// kind is a SCIM resource type the provider looks up by one attribute.
type kind struct {
	endpoint string
	attr     string
	noun     string
	// exclude is left out of list answers, to keep them small.
	exclude string
}

var (
	users  = kind{endpoint: "/Users", attr: "userName", noun: "user"}
	groups = kind{endpoint: "/Groups", attr: "displayName", noun: "group", exclude: "members"}
)

func (k kind) value(r resource) string {
	if k.attr == users.attr {
		return r.UserName
	}
	return r.DisplayName
}

// quote makes s a SCIM filter string literal, escaping backslash and double
// quote, so that nothing in s can end the literal and add to the filter.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// needsEscape reports whether s has a character that a filter literal must
// escape. Servers differ in how they read such literals: some reject them,
// some keep the backslash, so find double-checks these values by listing.
func needsEscape(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r == '"' || r == '\\' || unicode.IsControl(r) })
}

// find returns the resource of kind k whose attribute equals value, nil when
// there is none, and how it was looked up.
//
// It asks the server with an eq filter and keeps only answers whose attribute
// really equals value (ignoring case, as SCIM compares userName and
// displayName), so a server that misreads the filter can never hand back
// someone else. When value needs escaping and the server rejects the filter
// (400) or finds no exact match, find lists the resources page by page and
// compares here instead.
func (c *session) find(ctx context.Context, k kind, value string) (*resource, string, error) {
	r := request{method: http.MethodGet, path: k.endpoint, query: url.Values{"filter": {k.attr + " eq " + quote(value)}}}
	if k.exclude != "" {
		r.query.Set("excludedAttributes", k.exclude)
	}
	var list listResponse
	err := c.do(ctx, r, &list)
	if err != nil && (!needsEscape(value) || !hasStatus(err, http.StatusBadRequest)) {
		return nil, r.String(), fmt.Errorf("look up %s %q: %w", k.noun, value, err)
	}
	if err == nil {
		found, perr := pick(k, list.Resources, value)
		if perr != nil || found != nil || !needsEscape(value) {
			return found, r.String(), perr
		}
	}
	return c.scan(ctx, k, value)
}

// scan lists every resource of kind k and picks the one whose attribute equals
// value. It stops with a Permanent error past maxScanPages pages.
func (c *session) scan(ctx context.Context, k kind, value string) (*resource, string, error) {
	method := fmt.Sprintf("GET %s page by page, comparing %s here because the server cannot filter on %q", k.endpoint, k.attr, value)
	var matches []resource
	start := 1
	for range maxScanPages {
		q := url.Values{"startIndex": {strconv.Itoa(start)}, "count": {strconv.Itoa(scanPageSize)}}
		if k.exclude != "" {
			q.Set("excludedAttributes", k.exclude)
		}
		var list listResponse
		if err := c.do(ctx, request{method: http.MethodGet, path: k.endpoint, query: q}, &list); err != nil {
			return nil, method, fmt.Errorf("list %ss to find %q: %w", k.noun, value, err)
		}
		matches = append(matches, equalFold(k, list.Resources, value)...)
		start += len(list.Resources)
		if len(list.Resources) == 0 || start > list.TotalResults {
			found, err := pick(k, matches, value)
			return found, method, err
		}
	}
	return nil, method, provider.Permanentf("look up %s %q: the SCIM server at %s rejects a filter on this value and has more than %d %ss to list",
		k.noun, value, c.baseURL, maxScanPages*scanPageSize, k.noun)
}

// pick returns the one resource whose attribute equals value ignoring case.
// A user must be exactly one: several users differing only in case are a
// Permanent error naming the subject, since SCIM compares userName ignoring
// case and the server could resolve either. For groups the exact match wins
// when several differ only in case.
func pick(k kind, candidates []resource, value string) (*resource, error) {
	matches := equalFold(k, candidates, value)
	if len(matches) > 1 && k.attr == users.attr {
		return nil, provider.Permanentf("subject %q is ambiguous: %d SCIM users have userName %q (ignoring case); it must resolve to exactly one user", value, len(matches), value)
	}
	if len(matches) > 1 {
		var exact []resource
		for _, m := range matches {
			if k.value(m) == value {
				exact = append(exact, m)
			}
		}
		if len(exact) != 1 {
			return nil, provider.Permanentf("%d SCIM %ss have %s %q (ignoring case): cannot tell which one is meant", len(matches), k.noun, k.attr, value)
		}
		matches = exact
	}
	if len(matches) == 0 {
		return nil, nil
	}
	return &matches[0], nil
}

func equalFold(k kind, candidates []resource, value string) []resource {
	var out []resource
	for _, r := range candidates {
		if r.ID != "" && strings.EqualFold(k.value(r), value) {
			out = append(out, r)
		}
	}
	return out
}

func hasStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}

// groupRef says which group a role names, for messages.
func groupRef(role *accessv1alpha1.SCIMRole) string {
	if role.GroupID != "" {
		return "with id " + strconv.Quote(role.GroupID)
	}
	return strconv.Quote(role.Group)
}

// groupID resolves the role's group to its id.
func (c *session) groupID(ctx context.Context, role *accessv1alpha1.SCIMRole) (string, error) {
	if role.GroupID != "" {
		if role.GroupID == "." || role.GroupID == ".." {
			return "", provider.Permanentf("SCIM group id %q is not a valid id", role.GroupID)
		}
		return role.GroupID, nil
	}
	g, _, err := c.find(ctx, groups, role.Group)
	if err != nil {
		return "", err
	}
	if g == nil {
		return "", provider.Permanentf("no SCIM group with displayName %q at %s", role.Group, c.baseURL)
	}
	return g.ID, nil
}

// readGroup reads the group fresh from the server.
func (c *session) readGroup(ctx context.Context, id string) (*resource, request, error) {
	r := request{method: http.MethodGet, path: groups.endpoint + "/" + url.PathEscape(id)}
	var g resource
	if err := c.do(ctx, r, &g); err != nil {
		return nil, r, fmt.Errorf("read SCIM group %q: %w", id, err)
	}
	if g.ID == "" {
		g.ID = id
	}
	return &g, r, nil
}
