package postgres

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

func wantEvidence(t *testing.T, obs provider.Observation, present bool, evidence string) {
	t.Helper()
	if obs.Present != present || obs.Evidence != evidence {
		t.Fatalf("observation = present %t, %q; want present %t, %q", obs.Present, obs.Evidence, present, evidence)
	}
}

func wantSQLState(t *testing.T, err error, code, doing string) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != code {
		t.Fatalf("%s: got %v, want SQLSTATE %s", doing, err, code)
	}
}

func TestRegistration(t *testing.T) {
	reg := Registration()
	if reg.Kind != Kind || !reg.Shared || reg.New == nil {
		t.Fatalf("registration = %+v; want kind %q, shared, with a factory", reg, Kind)
	}
	conn := connection(nil)
	conn.Spec.Provider.Postgres = nil
	_, err := reg.New(testCtx(t), provider.Config{Connection: conn, Secrets: operatorSecret()})
	if !provider.IsPermanent(err) || !strings.Contains(err.Error(), "no spec.provider.postgres") {
		t.Fatalf("new without a postgres block: got %v, want a permanent error naming the field", err)
	}
}

func TestGrantMakesMembershipPresentAndUsable(t *testing.T) {
	user, role := uniq("alice"), newRole(t, uniq("payments_rw"))
	pw := newUser(t, user)
	c := operatorClient(t)
	e := entitlement(user, role)

	wantEvidence(t, check(t, c, e), false, fmt.Sprintf("%s is not a member of %s (direct: false, indirect: false)", user, role))
	mustGrant(t, c, e)
	obs := check(t, c, e)
	wantEvidence(t, obs, true, fmt.Sprintf("%s is a member of %s (direct: true, indirect: false)", user, role))
	if want := fmt.Sprintf("on 127.0.0.1:%d/%s", srv.Port, testDB); !strings.HasSuffix(obs.Method, want) || !strings.Contains(obs.Method, "pg_has_role") {
		t.Fatalf("method = %q; want pg_has_role ... %s", obs.Method, want)
	}

	session := login(t, user, pw)
	ctx := testCtx(t)
	if _, err := session.Exec(ctx, "SET ROLE "+quote(role)); err != nil {
		t.Fatalf("SET ROLE after grant: %v", err)
	}
	if err := readSecret(ctx, session); err != nil {
		t.Fatalf("read the role's table after grant: %v", err)
	}
}

func TestGrantTwiceIsOneMembership(t *testing.T) {
	user, role := uniq("alice"), newRole(t, uniq("payments_rw"))
	newUser(t, user)
	c := operatorClient(t)
	e := entitlement(user, role)
	mustGrant(t, c, e)
	mustGrant(t, c, e) // the server answers with a NOTICE "is already a member"
	if n := directRows(t, user, role); n != 1 {
		t.Fatalf("pg_auth_members rows after two grants = %d, want 1", n)
	}
	wantEvidence(t, check(t, c, e), true, fmt.Sprintf("%s is a member of %s (direct: true, indirect: false)", user, role))
}

func TestRevokeMakesMembershipAbsent(t *testing.T) {
	user, role := uniq("alice"), newRole(t, uniq("payments_rw"))
	pw := newUser(t, user)
	c := operatorClient(t)
	e := entitlement(user, role)
	mustGrant(t, c, e)
	mustRevoke(t, c, e)
	wantEvidence(t, check(t, c, e), false, fmt.Sprintf("%s is not a member of %s (direct: false, indirect: false)", user, role))
	if n := directRows(t, user, role); n != 0 {
		t.Fatalf("pg_auth_members rows after revoke = %d, want 0", n)
	}
	_, err := login(t, user, pw).Exec(testCtx(t), "SET ROLE "+quote(role))
	wantSQLState(t, err, "42501", "SET ROLE after revoke")
}

func TestRevokeTwiceSucceeds(t *testing.T) {
	user, role := uniq("alice"), newRole(t, uniq("payments_rw"))
	newUser(t, user)
	c := operatorClient(t)
	e := entitlement(user, role)
	mustGrant(t, c, e)
	mustRevoke(t, c, e)
	mustRevoke(t, c, e) // the server answers with a WARNING "is not a member"
	wantEvidence(t, check(t, c, e), false, fmt.Sprintf("%s is not a member of %s (direct: false, indirect: false)", user, role))
}

func TestRevokeOfNonMemberSucceedsAndTouchesNothingElse(t *testing.T) {
	user, role, other := uniq("alice"), newRole(t, uniq("payments_rw")), newRole(t, uniq("reporting_ro"))
	newUser(t, user)
	c := operatorClient(t)
	mustGrant(t, c, entitlement(user, other))
	mustRevoke(t, c, entitlement(user, role))
	if obs := check(t, c, entitlement(user, role)); obs.Present {
		t.Fatalf("never granted, yet present: %q", obs.Evidence)
	}
	if obs := check(t, c, entitlement(user, other)); !obs.Present {
		t.Fatalf("revoking %s took %s away too: %q", role, other, obs.Evidence)
	}
}

func TestUsersAndRolesAreIndependent(t *testing.T) {
	alice, bob := uniq("alice"), uniq("bob")
	newUser(t, alice)
	newUser(t, bob)
	rw, ro := newRole(t, uniq("payments_rw")), newRole(t, uniq("reporting_ro"))
	c := operatorClient(t)
	for _, e := range [][2]string{{alice, rw}, {alice, ro}, {bob, ro}} {
		mustGrant(t, c, entitlement(e[0], e[1]))
	}
	mustRevoke(t, c, entitlement(alice, rw))
	want := map[[2]string]bool{{alice, rw}: false, {alice, ro}: true, {bob, ro}: true, {bob, rw}: false}
	for e, present := range want {
		if obs := check(t, c, entitlement(e[0], e[1])); obs.Present != present {
			t.Errorf("%s in %s: present %t, want %t (%s)", e[0], e[1], obs.Present, present, obs.Evidence)
		}
	}
}

func TestIndirectMembershipIsReportedNotPresent(t *testing.T) {
	user, role, group := uniq("alice"), newRole(t, uniq("payments_rw")), uniq("team")
	newUser(t, user)
	superExec(t, "CREATE ROLE "+quote(group)+" NOLOGIN", "GRANT "+quote(role)+" TO "+quote(group), "GRANT "+quote(group)+" TO "+quote(user))
	c := operatorClient(t)
	e := entitlement(user, role)
	wantEvidence(t, check(t, c, e), false, fmt.Sprintf(
		"%s is not a direct member of %s, but holds it through another role it belongs to (direct: false, indirect: true)", user, role))
	mustGrant(t, c, e)
	wantEvidence(t, check(t, c, e), true, fmt.Sprintf("%s is a member of %s (direct: true, indirect: true)", user, role))
}

func TestUnknownSubject(t *testing.T) {
	ghost, role := uniq("ghost"), newRole(t, uniq("payments_rw"))
	c := operatorClient(t)
	e := entitlement(ghost, role)
	err := grantErr(c.Grant(testCtx(t), e))
	if !provider.IsPermanent(err) || !strings.Contains(err.Error(), fmt.Sprintf(`role "%s" does not exist`, ghost)) {
		t.Fatalf("grant to a missing subject: got %v, want a permanent error saying the role does not exist", err)
	}
	mustRevoke(t, c, e)
	wantEvidence(t, check(t, c, e), false, fmt.Sprintf(`%s is not a member of %s: role "%s" does not exist`, ghost, role, ghost))
}

func TestUnknownRole(t *testing.T) {
	user, missing := uniq("alice"), uniq("no_such_role")
	newUser(t, user)
	c := operatorClient(t)
	e := entitlement(user, missing)
	err := grantErr(c.Grant(testCtx(t), e))
	if !provider.IsPermanent(err) || !strings.Contains(err.Error(), fmt.Sprintf(`role "%s" does not exist`, missing)) {
		t.Fatalf("grant of a missing role: got %v, want a permanent error saying the role does not exist", err)
	}
	mustRevoke(t, c, e)
	wantEvidence(t, check(t, c, e), false, fmt.Sprintf(`%s is not a member of %s: role "%s" does not exist`, user, missing, missing))
}

func TestNamesPostgresWouldNotStoreAsGiven(t *testing.T) {
	role := newRole(t, uniq("payments_rw"))
	c := operatorClient(t)
	long := uniq("long")
	long += strings.Repeat("a", 64-len(long)) // PostgreSQL would truncate it to 63 bytes
	newUser(t, long[:63])
	for _, subject := range []string{long, "public", "none", "nul\x00byte", ""} {
		e := entitlement(subject, role)
		if err := grantErr(c.Grant(testCtx(t), e)); !provider.IsPermanent(err) {
			t.Errorf("grant to %q: got %v, want a permanent error", subject, err)
		}
		if err := c.Revoke(testCtx(t), e); err != nil {
			t.Errorf("revoke from %q: %v, want success (nothing can have been granted)", subject, err)
		}
		if obs := check(t, c, e); obs.Present || !strings.Contains(obs.Evidence, "no such role can exist") {
			t.Errorf("check %q: %+v, want absent, saying why", subject, obs)
		}
	}
	if n := directRows(t, long[:63], role); n != 0 {
		t.Fatalf("the 63-byte prefix of a too-long subject was granted the role")
	}
}

// TestRevokeEndsSetRoleSessions: a session that ran SET ROLE keeps the role's
// privileges after REVOKE. Revoke ends it; other users' sessions live on.
func TestRevokeEndsSetRoleSessions(t *testing.T) {
	user, role := uniq("alice"), newRole(t, uniq("payments_rw"))
	pw := newUser(t, user)
	bystander := uniq("bob")
	bystanderSession := login(t, bystander, newUser(t, bystander))
	c := operatorClient(t)
	mustGrant(t, c, entitlement(user, role))

	ctx := testCtx(t)
	session := login(t, user, pw)
	if _, err := session.Exec(ctx, "SET ROLE "+quote(role)); err != nil {
		t.Fatalf("SET ROLE: %v", err)
	}
	if err := readSecret(ctx, session); err != nil {
		t.Fatalf("read as the role before revoke: %v", err)
	}

	mustRevoke(t, c, entitlement(user, role))

	if err := readSecret(ctx, session); err == nil {
		t.Fatal("the SET ROLE session still reads the role's table after revoke")
	}
	if !session.IsClosed() {
		t.Fatal("the SET ROLE session is still open after revoke")
	}
	fresh := login(t, user, pw)
	_, err := fresh.Exec(ctx, "SET ROLE "+quote(role))
	wantSQLState(t, err, "42501", "SET ROLE in a new session after revoke")
	wantSQLState(t, readSecret(ctx, fresh), "42501", "read in a new session after revoke")
	if _, err := bystanderSession.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("another user's session was ended too: %v", err)
	}
}

// TestRevokeWithoutTerminateSessionsLeavesSetRoleSessions shows why
// terminateSessions defaults to true: without it a session that ran SET ROLE
// keeps reading the role's table after the revoke, although the membership is
// gone and Check says absent. A session that only inherited the privileges
// loses them at once.
func TestRevokeWithoutTerminateSessionsLeavesSetRoleSessions(t *testing.T) {
	user, role := uniq("alice"), newRole(t, uniq("payments_rw"))
	pw := newUser(t, user)
	off := false
	c := operatorClient(t, func(p *accessv1alpha1.PostgresProvider) { p.TerminateSessions = &off })
	e := entitlement(user, role)
	mustGrant(t, c, e)

	ctx := testCtx(t)
	setRole, inheriting := login(t, user, pw), login(t, user, pw)
	if _, err := setRole.Exec(ctx, "SET ROLE "+quote(role)); err != nil {
		t.Fatalf("SET ROLE: %v", err)
	}
	for _, s := range []*pgx.Conn{setRole, inheriting} {
		if err := readSecret(ctx, s); err != nil {
			t.Fatalf("read before revoke: %v", err)
		}
	}

	mustRevoke(t, c, e)

	if obs := check(t, c, e); obs.Present {
		t.Fatalf("present after revoke: %q", obs.Evidence)
	}
	if err := readSecret(ctx, setRole); err != nil {
		t.Fatalf("expected the SET ROLE session to keep the role without terminateSessions, got %v", err)
	}
	wantSQLState(t, readSecret(ctx, inheriting), "42501", "read by inheritance after revoke")
	_, err := login(t, user, pw).Exec(ctx, "SET ROLE "+quote(role))
	wantSQLState(t, err, "42501", "SET ROLE in a new session after revoke")
}

// TestRevokeReportsSessionsItCannotEnd: an operator user without
// pg_signal_backend revokes the membership but says it could not end the
// subject's sessions, so the revoke is retried and someone is told.
func TestRevokeReportsSessionsItCannotEnd(t *testing.T) {
	user, role := uniq("alice"), newRole(t, uniq("payments_rw"))
	pw := newUser(t, user)
	weakOp := uniq("weak_op")
	weakPw := randomPassword()
	superExec(t, fmt.Sprintf("CREATE ROLE %s LOGIN CREATEROLE PASSWORD '%s'", weakOp, weakPw))
	c := newClient(t, connection(nil), secretsOf(map[string]string{keyUsername: weakOp, keyPassword: weakPw}))
	e := entitlement(user, role)
	mustGrant(t, c, e)
	login(t, user, pw)

	err := c.Revoke(testCtx(t), e)
	if err == nil || !strings.Contains(err.Error(), "could not end") || !strings.Contains(err.Error(), "42501") {
		t.Fatalf("revoke without pg_signal_backend: got %v, want an error saying the sessions could not be ended", err)
	}
	if obs := check(t, c, e); obs.Present {
		t.Fatalf("membership not revoked: %q", obs.Evidence)
	}
}
