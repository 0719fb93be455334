package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/elevator-dev/elevator/internal/provider"
)

var injectionShaped = []string{
	`bob"; DROP ROLE x; --`,
	`x' OR '1'='1`,
	`Robert'); DROP TABLE t;--`,
	`x" WITH ADMIN OPTION; GRANT x TO "elevator_op`,
}

// catalog is what an injection could change: the roles, the memberships, and
// the canaries role x and table t (with its row).
type catalog struct{ roles, memberships, x, t int }

func catalogState(t *testing.T) catalog {
	t.Helper()
	return catalog{
		roles:       superCount(t, "SELECT count(*) FROM pg_roles"),
		memberships: superCount(t, "SELECT count(*) FROM pg_auth_members"),
		x:           superCount(t, "SELECT count(*) FROM pg_roles WHERE rolname = 'x'"),
		t:           superCount(t, "SELECT count(*) FROM t WHERE v = 'canary'"),
	}
}

// TestInjectionShapedNamesArePlainIdentifiers: as subject or as role, names
// shaped like SQL injection are names of roles that do not exist. Grant fails
// permanently, Revoke and Check find nothing, and nothing is dropped or granted.
func TestInjectionShapedNamesArePlainIdentifiers(t *testing.T) {
	user, role := uniq("alice"), newRole(t, uniq("payments_rw"))
	newUser(t, user)
	c := operatorClient(t)
	before := catalogState(t)
	for _, evil := range injectionShaped {
		for _, e := range []provider.Entitlement{entitlement(evil, role), entitlement(user, evil)} {
			err := grantErr(c.Grant(testCtx(t), e))
			if !provider.IsPermanent(err) || !strings.Contains(err.Error(), "does not exist") {
				t.Errorf("grant %q to %q: got %v, want a permanent 'does not exist'", e.Role.Postgres.Role, e.Subject, err)
			}
			if err := c.Revoke(testCtx(t), e); err != nil {
				t.Errorf("revoke %q from %q: %v", e.Role.Postgres.Role, e.Subject, err)
			}
			if obs := check(t, c, e); obs.Present || !strings.Contains(obs.Evidence, "does not exist") {
				t.Errorf("check %q in %q: %+v, want absent, does not exist", e.Subject, e.Role.Postgres.Role, obs)
			}
		}
	}
	if after := catalogState(t); after != before {
		t.Fatalf("the catalog changed: before %+v, after %+v", before, after)
	}
	if n := superCount(t, "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE r.rolname = 'x'"); n != 0 {
		t.Fatalf("someone was granted role x: %d memberships", n)
	}
}

// TestInjectionShapedNamesWorkWhenTheyExist: users and roles really named like
// an injection are granted, checked and revoked as themselves.
func TestInjectionShapedNamesWorkWhenTheyExist(t *testing.T) {
	c := operatorClient(t)
	before := catalogState(t)
	for _, evil := range injectionShaped {
		subject, role := uniq(evil), newRole(t, uniq(evil+" role"))
		newUser(t, subject)
		e := entitlement(subject, role)
		mustGrant(t, c, e)
		if n := directRows(t, subject, role); n != 1 {
			t.Fatalf("grant %q to %q: %d rows in pg_auth_members, want 1", role, subject, n)
		}
		wantEvidence(t, check(t, c, e), true, fmt.Sprintf("%s is a member of %s (direct: true, indirect: false)", subject, role))
		mustRevoke(t, c, e)
		wantEvidence(t, check(t, c, e), false, fmt.Sprintf("%s is not a member of %s (direct: false, indirect: false)", subject, role))
	}
	want := before
	want.roles += 2 * len(injectionShaped) // the users and roles made above
	if after := catalogState(t); after != want {
		t.Fatalf("the catalog changed beyond the users and roles this test made: want %+v, got %+v", want, after)
	}
}

// TestMixedCaseAndSpacedNames: names are exact, case-sensitive identifiers:
// "Payments RW" is not "payments rw", and "Alice" is not "alice".
func TestMixedCaseAndSpacedNames(t *testing.T) {
	n := seq.Add(1)
	role, lower := newRole(t, fmt.Sprintf("Payments RW %d", n)), newRole(t, fmt.Sprintf("payments rw %d", n))
	subject, lowerSubject := fmt.Sprintf(`Alice "A" O'Hara %d`, n), fmt.Sprintf(`alice "a" o'hara %d`, n)
	pw := newUser(t, subject)
	newUser(t, lowerSubject)
	c := operatorClient(t)
	e := entitlement(subject, role)
	mustGrant(t, c, e)
	wantEvidence(t, check(t, c, e), true, fmt.Sprintf("%s is a member of %s (direct: true, indirect: false)", subject, role))
	for _, other := range []provider.Entitlement{entitlement(subject, lower), entitlement(lowerSubject, role)} {
		if obs := check(t, c, other); obs.Present {
			t.Fatalf("%q in %q is present, but only %q in %q was granted", other.Subject, other.Role.Postgres.Role, subject, role)
		}
	}
	ctx := testCtx(t)
	session := login(t, subject, pw)
	if _, err := session.Exec(ctx, "SET ROLE "+quote(role)); err != nil {
		t.Fatalf("SET ROLE %s: %v", quote(role), err)
	}
	if err := readSecret(ctx, session); err != nil {
		t.Fatalf("read as %q: %v", role, err)
	}
	mustRevoke(t, c, e)
	wantEvidence(t, check(t, c, e), false, fmt.Sprintf("%s is not a member of %s (direct: false, indirect: false)", subject, role))
	if err := readSecret(ctx, session); err == nil || !session.IsClosed() {
		t.Fatalf("the mixed-case subject's session survived the revoke: %v", err)
	}
}
