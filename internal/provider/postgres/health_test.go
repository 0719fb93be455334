package postgres

import (
	"fmt"
	"net"
	"strings"
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/postgres/pgtest"
)

// wantHealthError asserts a Health error that is (or is not) permanent, says
// every want, and holds none of the secrets.
func wantHealthError(t *testing.T, err error, permanent bool, wants []string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("health: no error, want one saying %q", wants)
	}
	if provider.IsPermanent(err) != permanent {
		t.Errorf("health error %q: permanent %t, want %t", err, provider.IsPermanent(err), permanent)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("health error %q does not say %q", err, w)
		}
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("health error %q holds a password", err)
		}
	}
}

func TestHealthOK(t *testing.T) {
	role := newRole(t, uniq("payments_rw"))
	c := newClient(t, connection([]string{role, "x"}), operatorSecret())
	if err := c.Health(testCtx(t)); err != nil {
		t.Fatalf("health of a working connection: %v", err)
	}
}

func TestHealthWrongPassword(t *testing.T) {
	wrong := randomPassword()
	c := newClient(t, connection(nil), secretsOf(map[string]string{keyUsername: operatorUser, keyPassword: wrong}))
	err := c.Health(testCtx(t))
	wantHealthError(t, err, true, []string{
		fmt.Sprintf(`authentication as user %q`, operatorUser), fmt.Sprintf("check Secret %q", secretName), "28P01",
	}, wrong, operatorPassword)
	if err := grantErr(c.Grant(testCtx(t), entitlement("alice", "x"))); !provider.IsPermanent(err) {
		t.Fatalf("grant with a wrong password: got %v, want a permanent error", err)
	}
}

func TestHealthSecretProblems(t *testing.T) {
	for name, secrets := range map[string]provider.SecretReader{
		`Secret "pg-creds" has no key "password"`: secretsOf(map[string]string{keyUsername: operatorUser}),
		`Secret "pg-creds" has no key "username"`: secretsOf(map[string]string{keyPassword: operatorPassword}),
	} {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, connection(nil), secrets)
			wantHealthError(t, c.Health(testCtx(t)), true, []string{name}, operatorPassword)
		})
	}
	c := newClient(t, connection(nil, func(p *accessv1alpha1.PostgresProvider) { p.CredentialsSecretRef.Name = "other" }), operatorSecret())
	wantHealthError(t, c.Health(testCtx(t)), true, []string{`read Secret "other"`, "not found"})
}

func TestHealthUnknownDatabase(t *testing.T) {
	c := operatorClient(t, func(p *accessv1alpha1.PostgresProvider) { p.Database = "no_such_db" })
	wantHealthError(t, c.Health(testCtx(t)), true, []string{`database "no_such_db" does not exist`}, operatorPassword)
}

// TestHealthServerDown: a server that was up and is stopped, and a port
// nothing listens on, are transient failures naming the address.
func TestHealthServerDown(t *testing.T) {
	ctx := testCtx(t)
	other, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatalf("start a second server: %v", err)
	}
	t.Cleanup(other.Stop)
	pw := randomPassword()
	if err := other.Exec(ctx, "postgres", fmt.Sprintf("CREATE ROLE op LOGIN SUPERUSER PASSWORD '%s'", pw)); err != nil {
		t.Fatal(err)
	}
	conn := connection(nil, func(p *accessv1alpha1.PostgresProvider) {
		p.Port, p.Database, p.CABundle = int32(other.Port), "postgres", string(other.CACertPEM)
	})
	c := newClient(t, conn, secretsOf(map[string]string{keyUsername: "op", keyPassword: pw}))
	if err := c.Health(ctx); err != nil {
		t.Fatalf("health before the server stops: %v", err)
	}
	other.Stop()
	addr := fmt.Sprintf("127.0.0.1:%d/postgres", other.Port)
	wantHealthError(t, c.Health(ctx), false, []string{"connect to PostgreSQL at " + addr, "connection refused"}, pw)
	if err := c.Revoke(ctx, entitlement("alice", "x")); err == nil || provider.IsPermanent(err) {
		t.Fatalf("revoke with the server down: got %v, want a transient error", err)
	}
	if _, err := c.Check(ctx, entitlement("alice", "x")); err == nil || provider.IsPermanent(err) {
		t.Fatalf("check with the server down: got %v, want a transient error", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	c = operatorClient(t, func(p *accessv1alpha1.PostgresProvider) { p.Port = int32(port) })
	wantHealthError(t, c.Health(ctx), false, []string{fmt.Sprintf("127.0.0.1:%d", port), "connection refused"}, operatorPassword)
}

// TestHealthReportsMissingPrivileges: an operator user with neither CREATEROLE
// nor the ADMIN OPTION nor pg_signal_backend hears all that is missing; granting
// the ADMIN OPTION and turning terminateSessions off makes it healthy.
func TestHealthReportsMissingPrivileges(t *testing.T) {
	role := newRole(t, uniq("payments_rw"))
	missing := uniq("no_such_role")
	weak, pw := uniq("weak_op"), randomPassword()
	superExec(t, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", weak, pw))
	secrets := secretsOf(map[string]string{keyUsername: weak, keyPassword: pw})

	c := newClient(t, connection([]string{role, missing}), secrets)
	wantHealthError(t, c.Health(testCtx(t)), true, []string{
		fmt.Sprintf(`cannot grant role %q: needs CREATEROLE or the ADMIN OPTION on it (GRANT "%s" TO "%s" WITH ADMIN OPTION)`, role, role, weak),
		fmt.Sprintf(`role %q does not exist`, missing),
		fmt.Sprintf(`needs membership in pg_signal_backend (GRANT pg_signal_backend TO "%s")`, weak),
	}, pw)

	superExec(t, fmt.Sprintf("GRANT %s TO %s WITH ADMIN OPTION", quote(role), weak))
	off := false
	c = newClient(t, connection([]string{role}, func(p *accessv1alpha1.PostgresProvider) { p.TerminateSessions = &off }), secrets)
	if err := c.Health(testCtx(t)); err != nil {
		t.Fatalf("health with the ADMIN OPTION and terminateSessions off: %v", err)
	}
}

// TestHealthSuperuserRoleNeedsSuperuser: CREATEROLE does not let the operator
// grant a superuser role, and Health says so before a grant fails.
func TestHealthSuperuserRoleNeedsSuperuser(t *testing.T) {
	root := uniq("root_role")
	superExec(t, fmt.Sprintf("CREATE ROLE %s NOLOGIN SUPERUSER", root))
	c := newClient(t, connection([]string{root}), operatorSecret())
	wantHealthError(t, c.Health(testCtx(t)), true, []string{fmt.Sprintf("cannot grant role %q: it is a superuser role", root)}, operatorPassword)
	user := uniq("alice")
	newUser(t, user)
	err := grantErr(c.Grant(testCtx(t), entitlement(user, root)))
	wantSQLState(t, err, "42501", "grant of a superuser role")
	if !provider.IsPermanent(err) {
		t.Fatalf("grant of a superuser role: %v, want permanent", err)
	}
}
