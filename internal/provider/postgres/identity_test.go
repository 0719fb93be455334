package postgres

import (
	"fmt"
	"strings"
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

func TestGrantRefusesSubjectsThatAreNotPeople(t *testing.T) {
	role := newRole(t, uniq("payments_rw"))
	group := newRole(t, uniq("team")) // NOLOGIN: a group role
	super := uniq("root")
	superExec(t, "CREATE ROLE "+quote(super)+" LOGIN SUPERUSER")
	c := operatorClient(t)
	for subject, want := range map[string]string{
		group: "is not a LOGIN role",
		super: "is a superuser",
	} {
		err := grantErr(c.Grant(testCtx(t), entitlement(subject, role)))
		if !provider.IsPermanent(err) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), subject) {
			t.Errorf("grant to %q: got %v, want a permanent error naming it and saying %q", subject, err, want)
		}
		if n := directRows(t, subject, role); n != 0 {
			t.Errorf("grant to %q left %d pg_auth_members rows", subject, n)
		}
	}
}

// TestRevocationActsOnTheStoredRoles is attack 3 for PostgreSQL: the subject
// is renamed during the window and the connection is pointed elsewhere. A
// fresh resolution by name finds no such role; Revoke and Check by the OIDs
// stored at grant, on the stored server, remove the membership and see it gone.
func TestRevocationActsOnTheStoredRoles(t *testing.T) {
	user, role := uniq("alice"), newRole(t, uniq("payments_rw"))
	newUser(t, user)
	c := operatorClient(t)
	e := entitlement(user, role)
	granted, err := c.Grant(testCtx(t), e)
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	target := granted.Target
	if want := fmt.Sprintf("127.0.0.1:%d/%s", srv.Port, testDB); target.Endpoint != want || target.Subject.Name != user || target.Group.Name != role || target.Subject.ID == "" || target.Group.ID == "" {
		t.Fatalf("grant target = %+v, want endpoint %s and both roles by OID and name", target, want)
	}

	renamed := uniq("alice_renamed")
	superExec(t, "ALTER ROLE "+quote(user)+" RENAME TO "+quote(renamed))
	if obs := check(t, c, e); obs.Present {
		t.Fatalf("a check by the old name was expected to miss the renamed role (the attack's premise); got %+v", obs)
	}
	e.Target = &target
	if obs := check(t, c, e); !obs.Present || !strings.Contains(obs.ConnectionChanged, renamed) {
		t.Fatalf("check by the stored OIDs = %+v, want present, noting the rename to %s", obs, renamed)
	}

	moved := operatorClient(t, func(p *accessv1alpha1.PostgresProvider) { p.Port = 1 })
	mustRevoke(t, moved, e)
	if n := directRows(t, renamed, role); n != 0 {
		t.Fatalf("pg_auth_members rows after revoke by the stored OIDs = %d, want 0", n)
	}
	obs := check(t, moved, e)
	if obs.Present || !strings.Contains(obs.Evidence, renamed+" is not a member of "+role) {
		t.Fatalf("check after revoke = %+v, want absent for %s", obs, renamed)
	}
	if !strings.Contains(obs.ConnectionChanged, target.Endpoint) || !strings.Contains(obs.ConnectionChanged, "127.0.0.1:1/") {
		t.Errorf("ConnectionChanged %q does not name the stored and the current server", obs.ConnectionChanged)
	}
}

// TestResidualAccessThroughAnotherRole: the subject also belongs to a role
// that is a member of the granted role. After Elevator's membership is gone,
// Check says absent and names that role in Residual.
func TestResidualAccessThroughAnotherRole(t *testing.T) {
	user, role, team := uniq("carol"), newRole(t, uniq("payments_rw")), newRole(t, uniq("team"))
	newUser(t, user)
	superExec(t, "GRANT "+quote(role)+" TO "+quote(team), "GRANT "+quote(team)+" TO "+quote(user))
	c := operatorClient(t)
	e := entitlement(user, role)
	granted, err := c.Grant(testCtx(t), e)
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	e.Target = &granted.Target
	mustRevoke(t, c, e)
	obs := check(t, c, e)
	if obs.Present {
		t.Fatalf("check after revoke: present %+v", obs)
	}
	if len(obs.Residual) != 1 || !strings.Contains(obs.Residual[0].Name, team) || obs.Residual[0].CreatedAt != nil {
		t.Fatalf("residual = %+v, want role %s, with no creation time", obs.Residual, team)
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		in           string
		host, dbName string
		port         uint16
		wantErr      bool
	}{
		{in: "db.example.com:5432/payments", host: "db.example.com", port: 5432, dbName: "payments"},
		{in: "[::1]:6432/app/db", host: "::1", port: 6432, dbName: "app/db"},
		{in: "db:5432", wantErr: true},
		{in: "db/payments", wantErr: true},
		{in: "db:0/payments", wantErr: true},
		{in: "db:99999/payments", wantErr: true},
		{in: "db:5432/", wantErr: true},
	}
	for _, tt := range tests {
		host, port, dbName, err := parseAddress(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseAddress(%q) error = %v, want error %t", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && (host != tt.host || port != tt.port || dbName != tt.dbName) {
			t.Errorf("parseAddress(%q) = %q %d %q, want %q %d %q", tt.in, host, port, dbName, tt.host, tt.port, tt.dbName)
		}
	}
}
