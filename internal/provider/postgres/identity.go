package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// resolveSQL reads the subject ($1) and the role ($2): their OIDs, and whether
// the subject may log in and is a superuser.
const resolveSQL = `
SELECT s.oid::text, COALESCE(s.rolcanlogin, false), COALESCE(s.rolsuper, false), r.oid::text
FROM (VALUES (1)) AS one
LEFT JOIN pg_roles s ON s.rolname = $1
LEFT JOIN pg_roles r ON r.rolname = $2`

// namesSQL reads the current names of the roles with OIDs $1 and $2.
const namesSQL = `
SELECT s.rolname, r.rolname
FROM (VALUES (1)) AS one
LEFT JOIN pg_roles s ON s.oid = $1::text::oid
LEFT JOIN pg_roles r ON r.oid = $2::text::oid`

// roleIDs are the OIDs of the subject and the granted role, as text.
type roleIDs struct{ subject, role string }

// resolveRoles finds the subject and the role, and refuses a subject that is
// not a person's login: a role without LOGIN is a group or application role,
// and granting to it would hand the role to all of its members; a superuser
// needs no grant, and its revocation would prove nothing.
func (c *client) resolveRoles(ctx context.Context, conn *pgx.Conn, subject, role string) (roleIDs, error) {
	var (
		subjectOID, roleOID *string
		login, super        bool
	)
	if err := conn.QueryRow(ctx, resolveSQL, subject, role).Scan(&subjectOID, &login, &super, &roleOID); err != nil {
		return roleIDs{}, classify(fmt.Sprintf("look up roles %q and %q on %s", subject, role, c.settings.address()), err)
	}
	switch {
	case subjectOID == nil:
		return roleIDs{}, provider.Permanentf("subject %q: role %q does not exist on %s", subject, subject, c.settings.address())
	case roleOID == nil:
		return roleIDs{}, provider.Permanentf("role %q does not exist on %s", role, c.settings.address())
	case !login:
		return roleIDs{}, provider.Permanentf("subject %q is not a LOGIN role on %s: Elevator grants to people, not to group roles", subject, c.settings.address())
	case super:
		return roleIDs{}, provider.Permanentf("subject %q is a superuser on %s: it bypasses every permission check, so a grant and its revocation would mean nothing", subject, c.settings.address())
	}
	return roleIDs{subject: *subjectOID, role: *roleOID}, nil
}

// storedTarget is the grant's stored identity when it is complete enough to
// act on: both roles' OIDs.
func storedTarget(e provider.Entitlement) (*accessv1alpha1.GrantTarget, bool) {
	t := e.Target
	if t == nil || t.Subject == nil || t.Group == nil || t.Subject.ID == "" || t.Group.ID == "" {
		return nil, false
	}
	return t, true
}

// atEndpoint is the client for the server a grant was made on: c when it is
// the connection's address (or none was stored), otherwise a copy that
// connects to the stored host, port and database with the connection's
// credentials and TLS settings, and a note that the connection changed.
func (c *client) atEndpoint(endpoint string) (*client, string, error) {
	if endpoint == "" || endpoint == c.settings.address() {
		return c, "", nil
	}
	host, port, database, err := parseAddress(endpoint)
	if err != nil {
		return nil, "", provider.Permanentf("stored endpoint of the grant: %w", err)
	}
	at := *c
	at.settings.host, at.settings.port, at.settings.database = host, port, database
	note := fmt.Sprintf("the connection now points at %s, but the grant was made on %s: revoked and verified there", c.settings.address(), endpoint)
	return &at, note, nil
}

// parseAddress splits host:port/database, the form of settings.address.
func parseAddress(addr string) (string, uint16, string, error) {
	hostPort, database, ok := strings.Cut(addr, "/")
	if !ok || database == "" {
		return "", 0, "", fmt.Errorf("%q is not host:port/database", addr)
	}
	host, portText, err := net.SplitHostPort(hostPort)
	if err != nil {
		return "", 0, "", fmt.Errorf("%q is not host:port/database: %w", addr, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return "", 0, "", fmt.Errorf("%q has no valid port", addr)
	}
	return host, uint16(port), database, nil
}

// revokeStored revokes the stored role from the stored subject, by OID: a role
// renamed since the grant is found under its new name.
func (c *client) revokeStored(ctx context.Context, stored *accessv1alpha1.GrantTarget) error {
	conn, _, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer closeConn(ctx, conn)
	subject, role, err := c.currentNames(ctx, conn, stored)
	if errors.Is(err, errRoleDropped) {
		return nil // dropping a role drops its memberships
	}
	if err != nil {
		return err
	}
	return c.revokeNames(ctx, conn, subject, role)
}

var errRoleDropped = errors.New("role no longer exists")

// currentNames reads the stored roles' names now.
func (c *client) currentNames(ctx context.Context, conn *pgx.Conn, stored *accessv1alpha1.GrantTarget) (string, string, error) {
	var subject, role *string
	if err := conn.QueryRow(ctx, namesSQL, stored.Subject.ID, stored.Group.ID).Scan(&subject, &role); err != nil {
		return "", "", classify(fmt.Sprintf("read the names of role OIDs %s and %s on %s", stored.Subject.ID, stored.Group.ID, c.settings.address()), err)
	}
	if subject == nil || role == nil {
		return "", "", errRoleDropped
	}
	return *subject, *role, nil
}
