package scimtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

// Admin seeds and reads a SCIM server over the protocol, as a test's setup
// and independent check: it does not share code with the provider.
type Admin struct {
	BaseURL string
	Token   string
	client  *http.Client
}

// NewAdmin returns an Admin for the server at baseURL.
func NewAdmin(baseURL, token string) *Admin {
	return &Admin{BaseURL: baseURL, Token: token, client: &http.Client{Timeout: 10 * time.Second}}
}

// CreateUser creates a user and returns its id.
func (a *Admin) CreateUser(t testing.TB, userName string) string {
	t.Helper()
	return a.create(t, "/Users", map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName,
	})
}

// CreateGroup creates a group with the given member ids and returns its id.
func (a *Admin) CreateGroup(t testing.TB, displayName string, memberIDs ...string) string {
	t.Helper()
	body := map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": displayName,
	}
	if len(memberIDs) > 0 {
		var members []map[string]string
		for _, id := range memberIDs {
			members = append(members, map[string]string{"value": id})
		}
		body["members"] = members
	}
	return a.create(t, "/Groups", body)
}

// MemberIDs reads the group and returns its members' ids, sorted.
func (a *Admin) MemberIDs(t testing.TB, groupID string) []string {
	t.Helper()
	var g struct {
		Members []struct {
			Value string `json:"value"`
		} `json:"members"`
	}
	a.call(t, http.MethodGet, "/Groups/"+url.PathEscape(groupID), nil, http.StatusOK, &g)
	ids := make([]string, 0, len(g.Members))
	for _, m := range g.Members {
		ids = append(ids, m.Value)
	}
	slices.Sort(ids)
	return ids
}

// Raw sends a request and returns the status and body, for tests that look at
// how a server answers a request the provider does not send.
func (a *Admin) Raw(t testing.TB, method, pathAndQuery string, body any) (int, []byte) {
	t.Helper()
	return a.send(t, method, pathAndQuery, body)
}

func (a *Admin) create(t testing.TB, path string, body any) string {
	t.Helper()
	var created struct {
		ID string `json:"id"`
	}
	a.call(t, http.MethodPost, path, body, http.StatusCreated, &created)
	if created.ID == "" {
		t.Fatalf("scimtest: POST %s answered without an id", path)
	}
	return created.ID
}

func (a *Admin) call(t testing.TB, method, path string, body any, want int, out any) {
	t.Helper()
	status, raw := a.send(t, method, path, body)
	if status != want {
		t.Fatalf("scimtest: %s %s answered %d, want %d: %s", method, path, status, want, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("scimtest: %s %s: decode %s: %v", method, path, raw, err)
	}
}

// send makes one request and returns the status and the whole body; the body
// is read and closed here.
func (a *Admin) send(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("scimtest: encode %s %s: %v", method, path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.BaseURL+path, rd)
	if err != nil {
		t.Fatalf("scimtest: %s %s: %v", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("scimtest: %s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scimtest: %s %s: read: %v", method, path, err)
	}
	return resp.StatusCode, raw
}
