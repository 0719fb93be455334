package postgres

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider/postgres/pgtest"
)

// TestSampleConnection: config/samples/postgres_connection.yaml decodes
// strictly into the API types, names its Secret with both keys, and, pointed at
// the test cluster with the sample's roles created there, is healthy and
// grants and revokes its roles.
func TestSampleConnection(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "config", "samples", "postgres_connection.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(raw), "\n---\n")
	if len(docs) != 2 {
		t.Fatalf("sample has %d documents, want a Secret and a SaaSConnection", len(docs))
	}
	var secret corev1.Secret
	if err := yaml.UnmarshalStrict([]byte(docs[0]), &secret); err != nil {
		t.Fatalf("decode Secret: %v", err)
	}
	var conn accessv1alpha1.SaaSConnection
	if err := yaml.UnmarshalStrict([]byte(docs[1]), &conn); err != nil {
		t.Fatalf("decode SaaSConnection: %v", err)
	}
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
