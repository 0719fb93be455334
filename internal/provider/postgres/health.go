package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/elevator-dev/elevator/internal/provider"
)

const (
	// operatorSQL reads what the operator's user may do.
	operatorSQL = `SELECT rolsuper, rolcreaterole, pg_has_role(current_user, 'pg_signal_backend', 'MEMBER')
FROM pg_roles WHERE rolname = current_user`
	// grantableSQL reads whether role ($1) exists, is a superuser role, and
	// whether the operator's user holds it WITH ADMIN OPTION.
	grantableSQL = `SELECT rolsuper, pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION')
FROM pg_roles WHERE rolname = $1`
)

// operator is what the operator's user may do.
type operator struct {
	name                    string
	superuser, createRole   bool
	signalBackend           bool
	serverMajor             int
	terminateSessionsWanted bool
}

// Health connects, runs SELECT 1, and checks that the operator's user can
// grant every role the connection names and, when terminateSessions is on, end
// other users' sessions. It reports everything missing at once.
func (c *client) Health(ctx context.Context) error {
	conn, username, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer closeConn(ctx, conn)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return classify("SELECT 1 on "+c.settings.address(), err)
	}
	op := operator{name: username, serverMajor: serverMajor(conn), terminateSessionsWanted: c.settings.terminateSessions}
	if err := conn.QueryRow(ctx, operatorSQL).Scan(&op.superuser, &op.createRole, &op.signalBackend); err != nil {
		return classify(fmt.Sprintf("read the privileges of user %q on %s", username, c.settings.address()), err)
	}
	problems := op.sessionProblems()
	for _, role := range c.roles {
		p, err := op.grantProblem(ctx, conn, role)
		if err != nil {
			return classify(fmt.Sprintf("read role %q on %s", role, c.settings.address()), err)
		}
		if p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return provider.Permanentf("user %q on %s: %s", username, c.settings.address(), strings.Join(problems, "; "))
	}
	return nil
}

// sessionProblems says what is missing to end other users' sessions on revoke.
func (op operator) sessionProblems() []string {
	if !op.terminateSessionsWanted || op.superuser || op.signalBackend {
		return nil
	}
	return []string{fmt.Sprintf(
		"cannot end the subject's sessions on revoke: needs membership in pg_signal_backend (GRANT pg_signal_backend TO %s), or set terminateSessions: false",
		quote(op.name))}
}

// grantProblem says why the operator's user cannot grant role, or "" if it can.
// A superuser can grant any role; only a superuser can grant a superuser role.
// Otherwise PostgreSQL 16 and newer need the ADMIN OPTION on the role; older
// servers also accept CREATEROLE.
func (op operator) grantProblem(ctx context.Context, conn *pgx.Conn, role string) (string, error) {
	if err := validateName("role", role); err != nil {
		return err.Error(), nil
	}
	var roleSuper, admin bool
	err := conn.QueryRow(ctx, grantableSQL, role).Scan(&roleSuper, &admin)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Sprintf("role %q does not exist", role), nil
	case err != nil:
		return "", err
	case op.superuser:
		return "", nil
	case roleSuper:
		return fmt.Sprintf("cannot grant role %q: it is a superuser role, which only a superuser can grant", role), nil
	case admin || op.createRole && op.serverMajor < 16:
		return "", nil
	}
	need := "the ADMIN OPTION on it"
	if op.serverMajor < 16 {
		need = "CREATEROLE or " + need
	}
	return fmt.Sprintf("cannot grant role %q: needs %s (GRANT %s TO %s WITH ADMIN OPTION)", role, need, quote(role), quote(op.name)), nil
}
