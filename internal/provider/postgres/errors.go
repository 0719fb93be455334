package postgres

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/elevator-dev/elevator/internal/provider"
)

// SQLSTATE codes the provider treats specially.
const (
	codeUndefinedObject = "42704" // a role in GRANT or REVOKE does not exist
	codeInvalidDatabase = "3D000"
)

// permanentClasses are the SQLSTATE classes (the first two characters) that
// retrying will not fix: the request or the configuration is wrong. Everything
// else (connection exceptions 08, operator intervention 57 such as an admin
// shutdown, insufficient resources 53, lock timeouts 55, serialization
// failures 40, network errors and timeouts) is transient.
var permanentClasses = map[string]bool{
	"0L": true, // invalid grantor
	"0P": true, // invalid role specification
	"22": true, // data exception
	"28": true, // invalid authorization specification
	"3D": true, // invalid catalog name: the database does not exist
	"42": true, // syntax error or access rule violation, e.g. 42704 undefined_object, 42501 insufficient_privilege
}

// sqlState returns the SQLSTATE of err, or "" when err did not come from the server.
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// isPermanent reports whether err is one retrying will not fix.
func isPermanent(err error) bool {
	code := sqlState(err)
	return len(code) == 5 && permanentClasses[code[:2]]
}

// classify wraps err with what was being done, marking it Permanent when
// retrying will not fix it.
func classify(doing string, err error) error {
	wrapped := fmt.Errorf("%s: %w", doing, err)
	if isPermanent(err) {
		return provider.Permanent(wrapped)
	}
	return wrapped
}

// connectError turns a failed connection into a message a person can act on.
// It never holds the password: pgx's errors name the user and database only.
func (c *client) connectError(username string, err error) error {
	s := c.settings
	addr := s.address()
	code := sqlState(err)
	switch {
	case strings.HasPrefix(code, "28"):
		return provider.Permanent(fmt.Errorf(
			"authentication as user %q on %s failed: check Secret %q (keys %q and %q) and the server's pg_hba.conf: %w",
			username, addr, s.secretName, keyUsername, keyPassword, unwrapPgError(err)))
	case code == codeInvalidDatabase:
		return provider.Permanent(fmt.Errorf(
			"database %q does not exist on %s: check spec.provider.postgres.database: %w", s.database, addr, unwrapPgError(err)))
	case isCertificateError(err):
		return provider.Permanent(fmt.Errorf(
			"TLS verification of the server at %s failed (sslMode %s): check spec.provider.postgres.caBundle and host: %w", addr, s.sslMode, err))
	}
	return classify(fmt.Sprintf("connect to PostgreSQL at %s as user %q", addr, username), err)
}

// unwrapPgError returns the server's error inside err, which reads shorter
// than pgx's connect error around it.
func unwrapPgError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr
	}
	return err
}

// isCertificateError reports whether the server's certificate was refused.
func isCertificateError(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
	)
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid)
}
