package postgres

import (
	"context"
	"fmt"

	"github.com/elevator-dev/elevator/internal/provider"
)

// checkSelect reads, in one statement, whether the subject and the role exist,
// their names, whether the subject is a superuser, whether it is a direct
// member (a row in pg_auth_members), and the other roles it belongs to through
// which it is still a member of the role (pg_has_role(MEMBER), which follows
// every path). pg_has_role is called with OIDs: with names it fails on a
// missing role. The two joins below pick the roles by name or by OID.
const checkSelect = `
SELECT s.oid IS NOT NULL,
       r.oid IS NOT NULL,
       COALESCE(s.rolname::text, ''),
       COALESCE(r.rolname::text, ''),
       COALESCE(s.rolsuper, false),
       EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.roleid = r.oid AND m.member = s.oid),
       ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
             WHERE m.member = s.oid AND m.roleid <> r.oid AND pg_has_role(m.roleid, r.oid, 'MEMBER')
             ORDER BY 1)
FROM (VALUES (1)) AS one`

const (
	checkByNameSQL = checkSelect + `
LEFT JOIN pg_roles s ON s.rolname = $1
LEFT JOIN pg_roles r ON r.rolname = $2`
	checkByOIDSQL = checkSelect + `
LEFT JOIN pg_roles s ON s.oid = $1::text::oid
LEFT JOIN pg_roles r ON r.oid = $2::text::oid`
)

// membership is what checkSelect read.
type membership struct {
	subjectExists, roleExists bool
	subjectName, roleName     string
	superuser, direct         bool
	// through are the roles the subject belongs to that are members of the role.
	through []string
}

func (m membership) indirect() bool { return len(m.through) > 0 }

// Check reads the subject's membership in the role afresh. Present means the
// direct membership, the one Grant makes and Revoke removes. With a stored
// target the roles are the stored OIDs at the stored server, whatever they are
// called now. Membership through another role, and a superuser subject, are
// reported in Residual: not Elevator's to revoke, never hidden.
func (c *client) Check(ctx context.Context, e provider.Entitlement) (provider.Observation, error) {
	if stored, ok := storedTarget(e); ok {
		return c.checkStored(ctx, stored.Endpoint, stored.Subject.ID, stored.Group.ID, stored.Subject.Name)
	}
	obs := provider.Observation{Method: c.method()}
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
	m, err := c.readMembership(ctx, checkByNameSQL, e.Subject, role)
	if err != nil {
		return provider.Observation{}, err
	}
	return m.observation(obs, e.Subject, role), nil
}

func (c *client) method() string {
	return "SELECT pg_auth_members, pg_has_role(..., 'MEMBER') on " + c.settings.address()
}

// checkStored is Check for the stored roles at the stored server; it notes a
// changed connection and a renamed subject.
func (c *client) checkStored(ctx context.Context, endpoint, subjectOID, roleOID, storedName string) (provider.Observation, error) {
	at, note, err := c.atEndpoint(endpoint)
	if err != nil {
		return provider.Observation{}, err
	}
	m, err := at.readMembership(ctx, checkByOIDSQL, subjectOID, roleOID)
	if err != nil {
		return provider.Observation{}, err
	}
	subject, role := m.subjectName, m.roleName
	if !m.subjectExists {
		subject = storedName + " (OID " + subjectOID + ")"
	}
	if !m.roleExists {
		role = "role OID " + roleOID
	}
	obs := m.observation(provider.Observation{Method: at.method() + ", by the OIDs stored at grant"}, subject, role)
	if note == "" && m.subjectExists && m.subjectName != storedName {
		note = fmt.Sprintf("role %q (OID %s) was renamed to %q since the grant; acted on the OID", storedName, subjectOID, m.subjectName)
	}
	obs.ConnectionChanged = note
	return obs, nil
}

func (c *client) readMembership(ctx context.Context, query, subject, role string) (membership, error) {
	conn, _, err := c.connect(ctx)
	if err != nil {
		return membership{}, err
	}
	defer closeConn(ctx, conn)
	var m membership
	err = conn.QueryRow(ctx, query, subject, role).
		Scan(&m.subjectExists, &m.roleExists, &m.subjectName, &m.roleName, &m.superuser, &m.direct, &m.through)
	if err != nil {
		return membership{}, classify(fmt.Sprintf("read membership of %q in role %q on %s", subject, role, c.settings.address()), err)
	}
	return m, nil
}

// observation fills obs from what was read.
func (m membership) observation(obs provider.Observation, subject, role string) provider.Observation {
	obs.Present = m.direct
	obs.Evidence = m.evidence(subject, role)
	if !m.direct {
		obs.Residual = m.residual(subject, role)
	}
	return obs
}

// residual names the paths by which the subject still holds the role.
// PostgreSQL keeps no creation time for roles or memberships.
func (m membership) residual(subject, role string) []provider.ResidualPath {
	var paths []provider.ResidualPath
	for _, via := range m.through {
		paths = append(paths, provider.ResidualPath{Name: fmt.Sprintf("PostgreSQL role %q, of which %s is a member, is a member of %s", via, subject, role)})
	}
	if m.superuser {
		paths = append(paths, provider.ResidualPath{Name: fmt.Sprintf("%s is a superuser", subject)})
	}
	return paths
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
		s = fmt.Sprintf("%s is a member of %s (direct: true, indirect: %t)", subject, role, m.indirect())
	case m.indirect():
		s = fmt.Sprintf("%s is not a direct member of %s, but holds it through another role it belongs to (direct: false, indirect: true)", subject, role)
	default:
		s = fmt.Sprintf("%s is not a member of %s (direct: false, indirect: false)", subject, role)
	}
	if m.superuser {
		s += fmt.Sprintf("; %s is a superuser, which bypasses every permission check", subject)
	}
	return s
}
