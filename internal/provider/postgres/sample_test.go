package postgres

import (
	"fmt"
	"testing"

	"github.com/elevator-dev/elevator/internal/provider/postgres/pgtest"
	"github.com/elevator-dev/elevator/internal/testenv"
)

// TestSampleConnection: config/samples/postgres_connection.yaml decodes
// strictly into the API types, names its Secret with both keys, and, pointed at
// the test cluster with the sample's roles created there, is healthy and
// grants and revokes its roles.
func TestSampleConnection(t *testing.T) {
	secret, conn := testenv.ReadSample(t, "postgres_connection.yaml")
	p := conn.Spec.Provider.Postgres
	if p == nil || p.CredentialsSecretRef.Name != secret.Name || secret.Namespace != conn.Namespace ||
		secret.StringData[keyUsername] == "" || secret.StringData[keyPassword] == "" {
		t.Fatalf("the connection does not name the sample Secret %s/%s with keys username and password", secret.Namespace, secret.Name)
	}
	if _, err := parseSettings(&conn); err != nil {
		t.Fatalf("the provider rejects the sample: %v", err)
	}

	if len(conn.Spec.Roles) != 2 {
		t.Fatalf("sample has %d roles, want two", len(conn.Spec.Roles))
	}
	for _, r := range conn.Spec.Roles {
		if r.Postgres == nil {
			t.Fatalf("role %s has no postgres block", r.Name)
		}
		if superCount(t, "SELECT count(*) FROM pg_roles WHERE rolname = $1", r.Postgres.Role) == 0 {
			newRole(t, r.Postgres.Role)
		}
	}
	p.Host, p.Port, p.Database, p.CABundle = pgtest.Host, int32(srv.Port), testDB, string(srv.CACertPEM)
	p.CredentialsSecretRef.Name = secretName
	c := newClient(t, &conn, operatorSecret())
	if err := c.Health(testCtx(t)); err != nil {
		t.Fatalf("health of the sample against the test cluster: %v", err)
	}
	user := uniq("alice@example.com")
	newUser(t, user)
	for _, r := range conn.Spec.Roles {
		e := entitlement(user, r.Postgres.Role)
		e.Role = r
		mustGrant(t, c, e)
		wantEvidence(t, check(t, c, e), true, fmt.Sprintf("%s is a member of %s (direct: true, indirect: false)", user, r.Postgres.Role))
		mustRevoke(t, c, e)
		wantEvidence(t, check(t, c, e), false, fmt.Sprintf("%s is not a member of %s (direct: false, indirect: false)", user, r.Postgres.Role))
	}
}
