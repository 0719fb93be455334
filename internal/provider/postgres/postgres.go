// Package postgres grants temporary membership in a PostgreSQL role.
//
// A connection's role (spec.roles[].postgres.role) is a PostgreSQL role; the
// entitlement is the subject's direct membership in it, made with
// GRANT role TO subject and removed with REVOKE role FROM subject. Check reads
// pg_auth_members for the direct membership and pg_has_role for membership by
// any path, and reports both; only the direct membership, the one Elevator
// grants, counts as present.
//
// Revoke also ends the subject's open sessions (unless terminateSessions is
// false): a session that ran SET ROLE before the revoke keeps the role's
// privileges until it ends, whatever pg_auth_members says.
//
// Identifiers are always quoted with pgx.Identifier and the statements run
// over the extended protocol, which refuses more than one statement; values
// are passed as parameters.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// maxIdentifierBytes is NAMEDATALEN-1. PostgreSQL silently truncates longer
// names, so a longer subject would be granted under another name than the one
// checked.
const maxIdentifierBytes = 63

// client talks to one PostgreSQL server. It holds no open session: every call
// opens its own, with credentials read afresh from the Secret.
type client struct {
	settings settings
	secrets  provider.SecretReader
	// roles are the PostgreSQL roles the connection's roles name, for Health.
	roles []string
}

// New builds a client for a connection with spec.provider.postgres. It does
// not connect; Health does.
func New(_ context.Context, cfg provider.Config) (provider.Client, error) {
	if cfg.Connection == nil {
		return nil, provider.Permanentf("postgres provider: no connection given")
	}
	if cfg.Secrets == nil {
		return nil, provider.Permanentf("postgres provider: no Secret reader given")
	}
	s, err := parseSettings(cfg.Connection)
	if err != nil {
		return nil, err
	}
	c := &client{settings: s, secrets: cfg.Secrets}
	seen := map[string]bool{}
	for _, r := range cfg.Connection.Spec.Roles {
		if r.Postgres != nil && !seen[r.Postgres.Role] {
			seen[r.Postgres.Role] = true
			c.roles = append(c.roles, r.Postgres.Role)
		}
	}
	return c, nil
}

// Close releases nothing: the client keeps no session open between calls.
func (c *client) Close() error { return nil }

// Grant runs GRANT role TO subject. Granting an existing membership succeeds
// (the server only sends a NOTICE). A subject or role that does not exist, and
// a subject that is not a LOGIN role or is a superuser, are Permanent errors.
// The Grant holds the server address and both roles' OIDs and names, which
// Revoke and Check then act on.
func (c *client) Grant(ctx context.Context, e provider.Entitlement) (provider.Grant, error) {
	role, err := targetRole(e)
	if err != nil {
		return provider.Grant{}, provider.Permanent(err)
	}
	if err := validateName("subject", e.Subject); err != nil {
		return provider.Grant{}, provider.Permanent(err)
	}
	conn, _, err := c.connect(ctx)
	if err != nil {
		return provider.Grant{}, err
	}
	defer closeConn(ctx, conn)
	ids, err := c.resolveRoles(ctx, conn, e.Subject, role)
	if err != nil {
		return provider.Grant{}, err
	}
	stmt := "GRANT " + quote(role) + " TO " + quote(e.Subject)
	if err := execOne(ctx, conn, stmt); err != nil {
		return provider.Grant{}, classify(fmt.Sprintf("grant role %q to %q on %s", role, e.Subject, c.settings.address()), err)
	}
	return provider.Grant{Target: accessv1alpha1.GrantTarget{
		Endpoint: c.settings.address(),
		Subject:  &accessv1alpha1.TargetObject{ID: ids.subject, Name: e.Subject},
		Group:    &accessv1alpha1.TargetObject{ID: ids.role, Name: role},
	}}, nil
}

// Revoke runs REVOKE role FROM subject, then ends the subject's sessions when
// terminateSessions is on. With a stored target, the roles are the stored
// OIDs, under whatever names they have now, at the stored server. Revoking a
// missing membership succeeds (the server only sends a WARNING), and so does
// revoking from a subject or a role that does not exist: there is nothing to
// take away (dropping a role drops its memberships).
//
// The sessions are ended after the REVOKE has committed, so a session opened
// in between cannot SET ROLE any more. They are ended on every call, also when
// the membership was already gone: an earlier call may have revoked and then
// failed before ending them.
func (c *client) Revoke(ctx context.Context, e provider.Entitlement) error {
	if stored, ok := storedTarget(e); ok {
		at, _, err := c.atEndpoint(stored.Endpoint)
		if err != nil {
			return err
		}
		return at.revokeStored(ctx, stored)
	}
	role, err := targetRole(e)
	if err != nil {
		if e.Role.Postgres == nil {
			return provider.Permanent(err)
		}
		return nil // an invalid name was never granted
	}
	if validateName("subject", e.Subject) != nil {
		return nil // no role can have this name, so it holds nothing
	}
	conn, _, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer closeConn(ctx, conn)
	return c.revokeNames(ctx, conn, e.Subject, role)
}

// revokeNames revokes role from subject, both by name, and ends the subject's
// sessions.
func (c *client) revokeNames(ctx context.Context, conn *pgx.Conn, subject, role string) error {
	stmt := "REVOKE " + quote(role) + " FROM " + quote(subject)
	if err := execOne(ctx, conn, stmt); err != nil && sqlState(err) != codeUndefinedObject {
		return classify(fmt.Sprintf("revoke role %q from %q on %s", role, subject, c.settings.address()), err)
	}
	if !c.settings.terminateSessions {
		return nil
	}
	if err := terminateSessions(ctx, conn, subject); err != nil {
		return classify(fmt.Sprintf("revoked role %q from %q on %s, but could not end %q's open sessions", role, subject, c.settings.address(), subject), err)
	}
	return nil
}

// targetRole is the PostgreSQL role the entitlement's role names.
func targetRole(e provider.Entitlement) (string, error) {
	if e.Role.Postgres == nil {
		return "", fmt.Errorf("role %q of the connection has no postgres block", e.Role.Name)
	}
	role := e.Role.Postgres.Role
	return role, validateName("role", role)
}

// validateName refuses names PostgreSQL would not store as given: empty, too
// long (it would truncate them), with a NUL byte (pgx would drop it), not UTF-8,
// or reserved ("public" means every role; "none" is refused by the server).
func validateName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s is empty", what)
	case len(name) > maxIdentifierBytes:
		return fmt.Errorf("%s %q is %d bytes long: PostgreSQL role names are at most %d bytes", what, name, len(name), maxIdentifierBytes)
	case strings.ContainsRune(name, 0):
		return errors.New(what + " contains a NUL byte")
	case !utf8.ValidString(name):
		return fmt.Errorf("%s %q is not valid UTF-8", what, name)
	case name == "public" || name == "none":
		return fmt.Errorf("%s %q is a reserved name in PostgreSQL, not a role", what, name)
	}
	return nil
}

// quote makes a role name an SQL identifier, whatever it contains.
func quote(name string) string { return pgx.Identifier{name}.Sanitize() }

// execOne runs one statement without parameters over the extended protocol,
// which, unlike the simple protocol, refuses a string holding two statements.
func execOne(ctx context.Context, conn *pgx.Conn, stmt string) error {
	_, err := conn.PgConn().ExecParams(ctx, stmt, nil, nil, nil, nil).Close()
	return err
}
