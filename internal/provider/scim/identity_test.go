package scim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// TestRevocationActsOnTheStoredIdentity is issue 12's attack 3 against each
// real server: during the window the user is renamed in the server and the
// connection is pointed at another server where nobody has that userName. A
// fresh resolution then finds no user and would call the membership absent;
// with the identity stored at grant, Revoke removes the stored user id from
// the stored group at the stored URL, and Check reads the group's members.
func TestRevocationActsOnTheStoredIdentity(t *testing.T) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p)
			userID := e.admin.CreateUser(t, "dora")
			bystander := e.admin.CreateUser(t, "bystander")
			groupID := e.admin.CreateGroup(t, "ops-admins", bystander)
			entitlement := ent("dora", byName("ops-admins"))

			granted, err := e.client.Grant(ctx(t), entitlement)
			if err != nil {
				t.Fatalf("Grant: %v", err)
			}
			target := granted.Target
			wantGrantTarget(t, target, e.base, userID, groupID)
			e.wantMembers(t, groupID, bystander, userID)

			renameUser(t, e, userID, "dora-renamed")
			if obs := e.mustCheck(t, "dora", byName("ops-admins")); obs.Present {
				t.Fatalf("a fresh resolution after the rename was expected to miss the user (the attack's premise); got %+v", obs)
			}

			other := newEnv(t, p) // the connection now points here, with another token
			entitlement.Target = &target
			if err := other.client.Revoke(ctx(t), entitlement); err == nil {
				t.Fatal("Revoke with the changed connection's token at the stored URL succeeded; the token is not valid there")
			}
			e.wantMembers(t, groupID, bystander, userID)

			// The URL alone changed: the token still works at the stored URL.
			changed := newClient(t, other.base, e.token)
			if err := changed.Revoke(ctx(t), entitlement); err != nil {
				t.Fatalf("Revoke with the stored target through the changed connection: %v", err)
			}
			e.wantMembers(t, groupID, bystander)
			obs, err := changed.Check(ctx(t), entitlement)
			if err != nil {
				t.Fatalf("Check with the stored target: %v", err)
			}
			wantAbsentFromStoredGroup(t, obs, userID, groupID, other.base, e.base)
		})
	}
}

// wantGrantTarget fails the test unless the grant stored the endpoint, the
// user id and the group id it acted on.
func wantGrantTarget(t *testing.T, target accessv1alpha1.GrantTarget, endpoint, userID, groupID string) {
	t.Helper()
	if target.Endpoint != endpoint || target.Subject == nil || target.Subject.ID != userID || target.Group == nil || target.Group.ID != groupID {
		t.Fatalf("Grant target = %+v, want endpoint %s, user id %s, group id %s", target, endpoint, userID, groupID)
	}
}

// wantAbsentFromStoredGroup checks an observation made through a changed
// connection: the user is absent, the stored group was read, and the change
// names both the connection's URL and the stored one.
func wantAbsentFromStoredGroup(t *testing.T, obs provider.Observation, userID, groupID string, urls ...string) {
	t.Helper()
	wantPresent(t, obs, false, userID, "is not among them")
	if !strings.Contains(obs.Method, "/Groups/"+groupID) {
		t.Errorf("Check method %q does not read the stored group", obs.Method)
	}
	for _, want := range urls {
		if !strings.Contains(obs.ConnectionChanged, want) {
			t.Errorf("ConnectionChanged %q does not name %s", obs.ConnectionChanged, want)
		}
	}
}

// TestStoredIdentityStillSeesTheMembership proves Check with a stored target
// reads the group by id: after the rename it still reports the membership
// present, and notes that the userName no longer resolves.
func TestStoredIdentityStillSeesTheMembership(t *testing.T) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p)
			userID := e.admin.CreateUser(t, "erin")
			e.admin.CreateGroup(t, "db-admins")
			entitlement := ent("erin", byName("db-admins"))
			granted, err := e.client.Grant(ctx(t), entitlement)
			if err != nil {
				t.Fatalf("Grant: %v", err)
			}
			renameUser(t, e, userID, "erin-renamed")
			entitlement.Target = &granted.Target
			obs, err := e.client.Check(ctx(t), entitlement)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			wantPresent(t, obs, true, userID, "is among them")
			if !strings.Contains(obs.ConnectionChanged, `no user has userName "erin"`) {
				t.Errorf("ConnectionChanged %q does not say the userName no longer resolves", obs.ConnectionChanged)
			}
		})
	}
}

// TestResidualAccessThroughANestedGroup: the subject is also in a group that
// is a member of the role's group. After Elevator's membership is removed,
// Check says absent and names the nested group.
func TestResidualAccessThroughANestedGroup(t *testing.T) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p)
			userID := e.admin.CreateUser(t, "frank")
			innerID := e.admin.CreateGroup(t, "frank-friends", userID)
			outerID := createGroupWithNested(t, e, "payments-admins", innerID)
			entitlement := ent("frank", byID(outerID))
			granted, err := e.client.Grant(ctx(t), entitlement)
			if err != nil {
				t.Fatalf("Grant: %v", err)
			}
			entitlement.Target = &granted.Target
			if err := e.client.Revoke(ctx(t), entitlement); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			obs := mustCheckStored(t, e, entitlement)
			wantPresent(t, obs, false)
			if len(obs.Residual) != 1 || !strings.Contains(obs.Residual[0].Name, innerID) {
				t.Fatalf("Residual = %+v, want the nested group %s", obs.Residual, innerID)
			}
		})
	}
}

func mustCheckStored(t *testing.T, e *env, entitlement provider.Entitlement) provider.Observation {
	t.Helper()
	obs, err := e.client.Check(ctx(t), entitlement)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return obs
}

// renameUser changes the user's userName in the server, as an administrator
// of the application would.
func renameUser(t *testing.T, e *env, id, userName string) {
	t.Helper()
	status, body := e.admin.Raw(t, http.MethodPut, "/Users/"+url.PathEscape(id), map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"id":       id,
		"userName": userName,
	})
	if status != http.StatusOK {
		t.Fatalf("rename user %s: PUT answered %d: %s", id, status, body)
	}
}

func createGroupWithNested(t *testing.T, e *env, displayName, nestedID string) string {
	t.Helper()
	status, body := e.admin.Raw(t, http.MethodPost, "/Groups", map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": displayName,
		"members":     []map[string]string{{"value": nestedID, "type": "Group"}},
	})
	if status != http.StatusCreated {
		t.Fatalf("create group %s with nested group: answered %d: %s", displayName, status, body)
	}
	id := jsonID(t, body)
	if id == "" {
		t.Fatalf("create group %s: no id in %s", displayName, body)
	}
	return id
}

func jsonID(t *testing.T, body []byte) string {
	t.Helper()
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return created.ID
}
