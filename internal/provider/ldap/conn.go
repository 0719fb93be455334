package ldap

import (
	"context"
	"errors"
	"fmt"
	"net"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/elevator-dev/elevator/internal/provider"
)

// session is one connection, bound as the connection's bindDN, for one call.
type session struct {
	conn *goldap.Conn
	stop func() bool
}

// close ends the connection and stops watching the caller's context. Every
// result the session was for has been read by now, so a failure to close the
// socket changes nothing the caller could act on.
func (s *session) close() {
	s.stop()
	_ = s.conn.Close()
}

// connect dials the server, upgrades with StartTLS when configured, and binds.
// Every call gets its own connection: reads are never served from an earlier
// session, a restarted server or a rotated password needs no reconnect logic,
// and the volume of elevations is far too low for the handshake to matter.
func (c *client) connect(ctx context.Context) (*session, error) {
	password, err := c.password(ctx)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: c.cfg.timeout}
	if deadline, ok := ctx.Deadline(); ok {
		dialer.Deadline = deadline
	}
	conn, err := goldap.DialURL(c.cfg.url, goldap.DialWithDialer(dialer), goldap.DialWithTLSConfig(c.cfg.tls))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.cfg.url, err)
	}
	conn.SetTimeout(c.cfg.timeout)
	// Closing the connection makes any operation waiting on it return at once;
	// that operation reports the failure, so Close's own error adds nothing.
	s := &session{conn: conn, stop: context.AfterFunc(ctx, func() { _ = conn.Close() })}
	if err := c.startTLSAndBind(s.conn, password); err != nil {
		s.close()
		if ctx.Err() != nil {
			// The connection was closed because the caller gave up; say so,
			// and keep it retryable whatever the closed connection caused.
			return nil, fmt.Errorf("%s: %w", err.Error(), ctx.Err())
		}
		return nil, err
	}
	return s, nil
}

func (c *client) startTLSAndBind(conn *goldap.Conn, password string) error {
	if c.cfg.startTLS {
		if err := conn.StartTLS(c.cfg.tls); err != nil {
			if goldap.IsErrorWithCode(err, goldap.LDAPResultProtocolError) {
				return provider.Permanentf("StartTLS with %s failed: the server does not offer StartTLS (%w); "+
					"configure TLS on the server, use an ldaps:// URL, or unset startTLS", c.cfg.url, err)
			}
			return classify(fmt.Errorf("StartTLS with %s failed: %w", c.cfg.url, err))
		}
	}
	if err := conn.Bind(c.cfg.bindDN, password); err != nil {
		if goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			return provider.Permanentf("bind as %s failed: invalid credentials; check key %q of Secret %s",
				c.cfg.bindDN, passwordKey, c.cfg.secretName)
		}
		return classify(fmt.Errorf("bind as %s to %s failed: %w", c.cfg.bindDN, c.cfg.url, err))
	}
	return nil
}

// password reads the bind password from the Secret, fresh for every session
// so that a rotated password is used at once.
func (c *client) password(ctx context.Context) (string, error) {
	data, err := c.secrets(ctx, c.cfg.secretName)
	if err != nil {
		return "", fmt.Errorf("read Secret %s: %w", c.cfg.secretName, err)
	}
	pw, ok := data[passwordKey]
	if !ok || len(pw) == 0 {
		return "", provider.Permanentf("Secret %s has no key %q with the bind password", c.cfg.secretName, passwordKey)
	}
	return string(pw), nil
}

// permanentCodes are LDAP result codes that retrying the same request will not
// change: the request, the configuration or the bind account's rights are
// wrong. Everything else (network errors, busy, unavailable, time limits,
// "other") is treated as transient and retried.
var permanentCodes = map[uint16]bool{
	goldap.LDAPResultProtocolError:                true,
	goldap.LDAPResultAuthMethodNotSupported:       true,
	goldap.LDAPResultStrongAuthRequired:           true,
	goldap.LDAPResultUnavailableCriticalExtension: true,
	goldap.LDAPResultConfidentialityRequired:      true,
	goldap.LDAPResultNoSuchAttribute:              true,
	goldap.LDAPResultUndefinedAttributeType:       true,
	goldap.LDAPResultInappropriateMatching:        true,
	goldap.LDAPResultConstraintViolation:          true,
	goldap.LDAPResultAttributeOrValueExists:       true,
	goldap.LDAPResultInvalidAttributeSyntax:       true,
	goldap.LDAPResultNoSuchObject:                 true,
	goldap.LDAPResultAliasProblem:                 true,
	goldap.LDAPResultInvalidDNSyntax:              true,
	goldap.LDAPResultAliasDereferencingProblem:    true,
	goldap.LDAPResultInappropriateAuthentication:  true,
	goldap.LDAPResultInvalidCredentials:           true,
	goldap.LDAPResultInsufficientAccessRights:     true,
	goldap.LDAPResultUnwillingToPerform:           true,
	goldap.LDAPResultNamingViolation:              true,
	goldap.LDAPResultObjectClassViolation:         true,
	goldap.LDAPResultNotAllowedOnNonLeaf:          true,
	goldap.LDAPResultNotAllowedOnRDN:              true,
	goldap.LDAPResultEntryAlreadyExists:           true,
	goldap.LDAPResultObjectClassModsProhibited:    true,
	goldap.LDAPResultAffectsMultipleDSAs:          true,
	goldap.LDAPResultTLSNotSupported:              true,
	goldap.LDAPResultAuthorizationDenied:          true,
	goldap.ErrorFilterCompile:                     true,
	goldap.ErrorEmptyPassword:                     true,
}

// classify marks err Permanent when the LDAP result code it carries is one
// retrying cannot fix.
func classify(err error) error {
	if err == nil || provider.IsPermanent(err) {
		return err
	}
	var le *goldap.Error
	if errors.As(err, &le) && permanentCodes[le.ResultCode] {
		return provider.Permanent(err)
	}
	return err
}
