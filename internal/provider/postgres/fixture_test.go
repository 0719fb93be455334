package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/postgres/pgtest"
)

// The suite's cluster: one per test binary, started in TestMain.
var (
	srv              *pgtest.Server
	operatorPassword string
)

const (
	testDB       = "appdb"
	operatorUser = "elevator_op"
	secretName   = "pg-creds"
	// secretTable can only be read through a role the tests grant.
	secretTable = "secrets"
)

func TestMain(m *testing.M) { os.Exit(runSuite(m)) }

// runSuite starts the cluster, runs the tests and stops the cluster, also when
// tests fail.
func runSuite(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := pgtest.StartWith(ctx, pgtest.Options{Audit: true})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: the postgres provider tests need a PostgreSQL server with pgaudit: %v\n", err)
		return 1
	}
	defer s.Stop()
	srv = s
	operatorPassword = randomPassword()
	if err := seed(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: seed the test cluster: %v\n%s", err, s.Log())
		return 1
	}
	return m.Run()
}

// seed makes the database, the operator's user (CREATEROLE, not superuser,
// pg_signal_backend to end sessions, and the functions that read the log),
// the table only granted roles can read, and the canaries the injection test
// checks: role x and table t.
func seed(ctx context.Context) error {
	if err := srv.Exec(ctx, "postgres",
		"CREATE DATABASE "+testDB,
		fmt.Sprintf("CREATE ROLE %s LOGIN CREATEROLE PASSWORD '%s'", operatorUser, operatorPassword),
		"GRANT pg_signal_backend TO "+operatorUser,
		"CREATE ROLE x NOLOGIN",
	); err != nil {
		return err
	}
	if err := srv.Exec(ctx, testDB, logReadGrants(operatorUser)...); err != nil {
		return err
	}
	return srv.Exec(ctx, testDB,
		"CREATE TABLE "+secretTable+" (v text)",
		"INSERT INTO "+secretTable+" VALUES ('the payroll')",
		"REVOKE ALL ON "+secretTable+" FROM PUBLIC",
		"CREATE TABLE t (v text)",
		"INSERT INTO t VALUES ('canary')",
	)
}

// logReadGrants are the grants docs/providers/postgres.md asks for, so that
// user can read the jsonlog. Function privileges belong to a database: they
// are granted in the connection's.
func logReadGrants(user string) []string {
	return []string{
		"GRANT EXECUTE ON FUNCTION pg_catalog.pg_current_logfile(text) TO " + quote(user),
		"GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_logdir() TO " + quote(user),
		"GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO " + quote(user),
	}
}

func randomPassword() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var seq atomic.Int64

// uniq makes a role name no other test uses.
func uniq(base string) string { return fmt.Sprintf("%s_%d", base, seq.Add(1)) }

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func superExec(t *testing.T, statements ...string) {
	t.Helper()
	if err := srv.Exec(testCtx(t), testDB, statements...); err != nil {
		t.Fatalf("as superuser: %v", err)
	}
}

// newRole makes a NOLOGIN role that may read the secret table.
func newRole(t *testing.T, name string) string {
	t.Helper()
	superExec(t, "CREATE ROLE "+quote(name)+" NOLOGIN", "GRANT SELECT ON "+secretTable+" TO "+quote(name))
	return name
}

// newUser makes a login user and returns its password.
func newUser(t *testing.T, name string) string {
	t.Helper()
	pw := randomPassword()
	superExec(t, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", quote(name), pw))
	return pw
}

// login opens a session as user, closed at the end of the test.
func login(t *testing.T, user, password string) *pgx.Conn {
	t.Helper()
	ctx := testCtx(t)
	conn, err := srv.Connect(ctx, testDB, user, password)
	if err != nil {
		t.Fatalf("log in as %q: %v", user, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// readSecret reads the table only granted roles can read.
func readSecret(ctx context.Context, conn *pgx.Conn) error {
	var v string
	return conn.QueryRow(ctx, "SELECT v FROM "+secretTable).Scan(&v)
}

// connection is a SaaSConnection to the test cluster over TCP, with TLS
// verified against the test CA (the default sslMode, verify-full), naming
// roles; mutate changes its postgres block.
func connection(roles []string, mutate ...func(*accessv1alpha1.PostgresProvider)) *accessv1alpha1.SaaSConnection {
	p := &accessv1alpha1.PostgresProvider{
		Host:                 pgtest.Host,
		Port:                 int32(srv.Port),
		Database:             testDB,
		CABundle:             string(srv.CACertPEM),
		CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: secretName},
	}
	for _, f := range mutate {
		f(p)
	}
	conn := &accessv1alpha1.SaaSConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "payments"},
		Spec: accessv1alpha1.SaaSConnectionSpec{
			Provider:    accessv1alpha1.ProviderSpec{Postgres: p},
			MaxDuration: "4h",
		},
	}
	for i, r := range roles {
		conn.Spec.Roles = append(conn.Spec.Roles, accessv1alpha1.Role{
			Name:     fmt.Sprintf("role-%d", i),
			Postgres: &accessv1alpha1.PostgresRole{Role: r},
		})
	}
	return conn
}

// secretsOf is a SecretReader holding one Secret, secretName, with data.
func secretsOf(data map[string]string) provider.SecretReader {
	return func(_ context.Context, name string) (map[string][]byte, error) {
		if name != secretName {
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
		}
		out := make(map[string][]byte, len(data))
		for k, v := range data {
			out[k] = []byte(v)
		}
		return out, nil
	}
}

func operatorSecret() provider.SecretReader {
	return secretsOf(map[string]string{keyUsername: operatorUser, keyPassword: operatorPassword})
}

// newClient builds a client through the registration, as the operator does.
func newClient(t *testing.T, conn *accessv1alpha1.SaaSConnection, secrets provider.SecretReader) provider.Client {
	t.Helper()
	c, err := Registration().New(testCtx(t), provider.Config{Connection: conn, Secrets: secrets})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// operatorClient is a client logged in as the suite's operator user.
func operatorClient(t *testing.T, mutate ...func(*accessv1alpha1.PostgresProvider)) provider.Client {
	t.Helper()
	return newClient(t, connection(nil, mutate...), operatorSecret())
}

func entitlement(subject, role string) provider.Entitlement {
	return provider.Entitlement{
		Subject: subject,
		Role:    accessv1alpha1.Role{Name: "elevated", Postgres: &accessv1alpha1.PostgresRole{Role: role}},
		Holder:  types.NamespacedName{Namespace: "payments", Name: "req-1"},
	}
}

// check calls Check and fails the test on error.
func check(t *testing.T, c provider.Client, e provider.Entitlement) provider.Observation {
	t.Helper()
	obs, err := c.Check(testCtx(t), e)
	if err != nil {
		t.Fatalf("check %q in %q: %v", e.Subject, e.Role.Postgres.Role, err)
	}
	return obs
}

func mustGrant(t *testing.T, c provider.Client, e provider.Entitlement) {
	t.Helper()
	if err := grantErr(c.Grant(testCtx(t), e)); err != nil {
		t.Fatalf("grant %q to %q: %v", e.Role.Postgres.Role, e.Subject, err)
	}
}

func mustRevoke(t *testing.T, c provider.Client, e provider.Entitlement) {
	t.Helper()
	if err := c.Revoke(testCtx(t), e); err != nil {
		t.Fatalf("revoke %q from %q: %v", e.Role.Postgres.Role, e.Subject, err)
	}
}

// directRows counts subject's rows in pg_auth_members for role, read as the superuser.
func directRows(t *testing.T, subject, role string) int {
	t.Helper()
	return superCount(t, `SELECT count(*) FROM pg_auth_members m
		JOIN pg_roles s ON s.oid = m.member JOIN pg_roles r ON r.oid = m.roleid
		WHERE s.rolname = $1 AND r.rolname = $2`, subject, role)
}

func superCount(t *testing.T, query string, args ...any) int {
	t.Helper()
	ctx := testCtx(t)
	conn, err := srv.SuperConnect(ctx, testDB)
	if err != nil {
		t.Fatalf("superuser connect: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var n int
	if err := conn.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// grantErr is the error of a Grant, for tests that only care whether it worked.
func grantErr(_ provider.Grant, err error) error { return err }
