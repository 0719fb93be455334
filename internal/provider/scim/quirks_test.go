package scim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// quirk is how one server answered a request SCIM clients commonly send.
type quirk struct {
	// membersFilterFindsMember: GET /Groups?filter=members.value eq "<id>"
	// lists the group the user is a member of.
	membersFilterFindsMember bool
	// escapedQuoteStatus: the status of a userName filter whose literal holds
	// an escaped double quote.
	escapedQuoteStatus int
	// addExistingStatus and addExistingMembers: PATCH add of a member that is
	// already there, and how many entries the member has afterwards.
	addExistingStatus  int
	addExistingEntries int
	// removeAbsentStatus: PATCH remove members[value eq "<id>"] of a
	// non-member.
	removeAbsentStatus int
	// userNameIgnoresCase: userName eq "ALICE" finds "alice".
	userNameIgnoresCase bool
}

// TestServerQuirks pins down how the two real servers answer requests that
// the provider avoids or works around; docs/providers/scim.md lists these.
// A library upgrade that changes one fails here, so the doc gets updated.
func TestServerQuirks(t *testing.T) {
	want := map[string]quirk{
		"elimity": {
			membersFilterFindsMember: false, // the reason Check reads GET /Groups/{id}
			escapedQuoteStatus:       http.StatusOK,
			addExistingStatus:        http.StatusNoContent,
			addExistingEntries:       1,
			removeAbsentStatus:       http.StatusNoContent,
			userNameIgnoresCase:      true,
		},
		"scimmy": {
			membersFilterFindsMember: true,
			escapedQuoteStatus:       http.StatusBadRequest,
			addExistingStatus:        http.StatusOK,
			addExistingEntries:       2, // the reason Grant reads the group before adding
			removeAbsentStatus:       http.StatusNoContent,
			userNameIgnoresCase:      false,
		},
	}
	for _, p := range peers {
		w, ok := want[p.name]
		if !ok {
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p)
			alice := e.admin.CreateUser(t, "alice")
			e.admin.CreateUser(t, `bob" or userName pr "`)
			g := e.admin.CreateGroup(t, "billing-admins", alice)
			got := quirk{
				membersFilterFindsMember: total(t, e, "/Groups", `members.value eq "`+alice+`"`) == 1,
				escapedQuoteStatus:       status(t, e, http.MethodGet, "/Users?"+url.Values{"filter": {`userName eq "bob\" or userName pr \""`}}.Encode(), nil),
				addExistingStatus:        status(t, e, http.MethodPatch, "/Groups/"+g, patch("add", "members", []map[string]string{{"value": alice}})),
				removeAbsentStatus:       status(t, e, http.MethodPatch, "/Groups/"+g, patch("remove", `members[value eq "nobody"]`, nil)),
				userNameIgnoresCase:      total(t, e, "/Users", `userName eq "ALICE"`) == 1,
			}
			for _, id := range e.admin.MemberIDs(t, g) {
				if id == alice {
					got.addExistingEntries++
				}
			}
			if got != w {
				t.Errorf("server answers changed:\n got %+v\nwant %+v", got, w)
			}
			if slices.Contains(e.admin.MemberIDs(t, g), "nobody") {
				t.Errorf("remove of a non-member added it")
			}
		})
	}
}

func patch(op, path string, value any) map[string]any {
	o := map[string]any{"op": op, "path": path}
	if value != nil {
		o["value"] = value
	}
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []any{o}}
}

func status(t *testing.T, e *env, method, path string, body any) int {
	t.Helper()
	s, _ := e.admin.Raw(t, method, path, body)
	return s
}

// total runs a filter and returns totalResults, failing on a non-200 answer.
func total(t *testing.T, e *env, endpoint, filter string) int {
	t.Helper()
	s, body := e.admin.Raw(t, http.MethodGet, endpoint+"?"+url.Values{"filter": {filter}}.Encode(), nil)
	if s != http.StatusOK {
		t.Fatalf("GET %s filter %s: %d %s", endpoint, filter, s, body)
	}
	var list struct {
		TotalResults int `json:"totalResults"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return list.TotalResults
}
