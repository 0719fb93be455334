package postgres

import (
	"context"
	"fmt"

	"github.com/elevator-dev/elevator/internal/provider"
)

// checkSQL reads, in one statement, whether subject ($1) and role ($2) exist,
// whether the subject is a superuser, whether it is a direct member (a row in
// pg_auth_members), and whether it is a member through another role it belongs
// to (pg_has_role(MEMBER) of that role, which follows every path). pg_has_role
// is called with OIDs: with names it fails on a missing role.
const checkSQL = `
SELECT s.oid IS NOT NULL,
       r.oid IS NOT NULL,
       COALESCE(s.rolsuper, false),
       EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.roleid = r.oid AND m.member = s.oid),
       EXISTS (SELECT 1 FROM pg_auth_members m
               WHERE m.member = s.oid AND m.roleid <> r.oid AND pg_has_role(m.roleid, r.oid, 'MEMBER'))
FROM (VALUES (1)) AS one
LEFT JOIN pg_roles s ON s.rolname = $1
LEFT JOIN pg_roles r ON r.rolname = $2`

// membership is what checkSQL read.
type membership struct {
	subjectExists, roleExists, superuser bool
	direct, indirect                     bool
}

// Check reads the subject's membership in the role afresh. Present means the
// direct membership, the one Grant makes and Revoke removes. Membership through
// another role is reported in the evidence but is not Elevator's to revoke.
func (c *client) Check(ctx context.Context, e provider.Entitlement) (provider.Observation, error) {
	obs := provider.Observation{Method: "SELECT pg_auth_members, pg_has_role(..., 'MEMBER') on " + c.settings.address()}
	role, err := targetRole(e)
	if err == nil {
		err = validateName("subject", e.Subject)
	}
	if err != nil {
		if e.Role.Postgres == nil {
			return provider.Observation{}, provider.Permanent(err)
		}
		obs.Evidence = fmt.Sprintf("%s is not a member of %s: %v, so no such role can exist", e.Subject, e.Role.Postgres.Role, err)
		return obs, nil
	}
	conn, _, err := c.connect(ctx)
	if err != nil {
		return provider.Observation{}, err
	}
	defer closeConn(ctx, conn)
	var m membership
	err = conn.QueryRow(ctx, checkSQL, e.Subject, role).
		Scan(&m.subjectExists, &m.roleExists, &m.superuser, &m.direct, &m.indirect)
	if err != nil {
		return provider.Observation{}, classify(fmt.Sprintf("read membership of %q in role %q on %s", e.Subject, role, c.settings.address()), err)
	}
	obs.Present = m.direct
	obs.Evidence = m.evidence(e.Subject, role)
	return obs, nil
}

// evidence says what was read, in words an auditor can follow.
func (m membership) evidence(subject, role string) string {
	switch {
	case !m.subjectExists:
		return fmt.Sprintf("%s is not a member of %s: role %q does not exist", subject, role, subject)
	case !m.roleExists:
		return fmt.Sprintf("%s is not a member of %s: role %q does not exist", subject, role, role)
	}
	var s string
	switch {
	case m.direct:
		s = fmt.Sprintf("%s is a member of %s (direct: true, indirect: %t)", subject, role, m.indirect)
	case m.indirect:
		s = fmt.Sprintf("%s is not a direct member of %s, but holds it through another role it belongs to (direct: false, indirect: true)", subject, role)
	default:
		s = fmt.Sprintf("%s is not a member of %s (direct: false, indirect: false)", subject, role)
	}
	if m.superuser {
		s += fmt.Sprintf("; %s is a superuser, which bypasses every permission check", subject)
	}
	return s
}
