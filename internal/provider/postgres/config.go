package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// Keys of the credentials Secret.
const (
	keyUsername = "username"
	keyPassword = "password"
)

const (
	defaultPort    = 5432
	defaultSSLMode = "verify-full"
	connectTimeout = 10 * time.Second
	closeTimeout   = 5 * time.Second
	// statementTimeout and lockTimeout bound every statement, so a GRANT stuck
	// behind a lock on the catalog fails and is retried instead of hanging.
	statementTimeout = "30s"
	lockTimeout      = "10s"
	applicationName  = "elevator"
)

// settings is the validated connection spec.
type settings struct {
	host              string
	port              uint16
	database          string
	sslMode           string
	roots             *x509.CertPool // nil: the system roots
	secretName        string
	terminateSessions bool
}

// address is host:port/database, for messages and evidence.
func (s settings) address() string {
	return net.JoinHostPort(s.host, strconv.Itoa(int(s.port))) + "/" + s.database
}

// parseSettings validates spec.provider.postgres. Its errors are Permanent:
// they are configuration mistakes.
func parseSettings(conn *accessv1alpha1.SaaSConnection) (settings, error) {
	spec := conn.Spec.Provider.Postgres
	if spec == nil {
		return settings{}, provider.Permanentf("connection %s/%s has no spec.provider.postgres", conn.Namespace, conn.Name)
	}
	s := settings{
		host:              spec.Host,
		port:              defaultPort,
		database:          spec.Database,
		sslMode:           spec.SSLMode,
		secretName:        spec.CredentialsSecretRef.Name,
		terminateSessions: spec.TerminateSessions == nil || *spec.TerminateSessions,
	}
	if spec.Port != 0 {
		if spec.Port < 1 || spec.Port > 65535 {
			return settings{}, provider.Permanentf("spec.provider.postgres.port %d is out of range", spec.Port)
		}
		s.port = uint16(spec.Port)
	}
	if s.sslMode == "" {
		s.sslMode = defaultSSLMode
	}
	switch {
	case s.host == "":
		return settings{}, provider.Permanentf("spec.provider.postgres.host is empty")
	case s.database == "":
		return settings{}, provider.Permanentf("spec.provider.postgres.database is empty")
	case s.secretName == "":
		return settings{}, provider.Permanentf("spec.provider.postgres.credentialsSecretRef.name is empty")
	}
	switch s.sslMode {
	case "disable", "require", "verify-ca", "verify-full":
	default:
		return settings{}, provider.Permanentf("spec.provider.postgres.sslMode %q is not one of disable, require, verify-ca, verify-full", s.sslMode)
	}
	if err := checkTLSAllowed(s.sslMode, spec.CABundle != "", spec.AllowInsecure); err != nil {
		return settings{}, err
	}
	if spec.CABundle != "" {
		s.roots = x509.NewCertPool()
		if !s.roots.AppendCertsFromPEM([]byte(spec.CABundle)) {
			return settings{}, provider.Permanentf("spec.provider.postgres.caBundle holds no PEM certificate")
		}
	}
	return s, nil
}

// checkTLSAllowed refuses, unless allowInsecure is set, every sslMode that lets
// whoever is on the network path read the session or pose as the server:
// disable, require, and verify-ca without a caBundle (any certificate a public
// CA issued would pass).
func checkTLSAllowed(sslMode string, hasCABundle, allowInsecure bool) error {
	if allowInsecure || sslMode == "verify-full" || (sslMode == "verify-ca" && hasCABundle) {
		return nil
	}
	return provider.Permanentf("spec.provider.postgres.sslMode %q does not verify the server (the password and every statement could go to whoever poses as it): "+
		"use verify-full, or verify-ca with a caBundle, or set allowInsecure: true", sslMode)
}

// tlsConfig follows libpq's sslmode: require encrypts without checking the
// certificate (unless a CA bundle is given: then, as in libpq, it acts as
// verify-ca), verify-ca checks the chain only, verify-full the chain and the
// host name.
func (s settings) tlsConfig() *tls.Config {
	switch {
	case s.sslMode == "disable":
		return nil
	case s.sslMode == "require" && s.roots == nil:
		return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // sslmode=require means encryption without verification, as in libpq.
	case s.sslMode == "verify-full":
		return &tls.Config{RootCAs: s.roots, ServerName: s.host, MinVersion: tls.VersionTLS12}
	default: // verify-ca, or require with a CA bundle
		// Go's own verification always checks the host name, so it is turned
		// off and the chain verified by hand. VerifyConnection, unlike
		// VerifyPeerCertificate, also runs when a session is resumed, so a
		// resumed session cannot skip the check.
		return &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the chain is verified in VerifyConnection.
			VerifyConnection:   verifyChain(s.roots),
			MinVersion:         tls.VersionTLS12,
		}
	}
}

// verifyChain returns a tls.Config.VerifyConnection callback that checks the
// server's certificate chain against roots, ignoring the host name.
func verifyChain(roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		certs := cs.PeerCertificates
		if len(certs) == 0 {
			return errors.New("server sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, c := range certs[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := certs[0].Verify(opts); err != nil {
			return fmt.Errorf("verify server certificate: %w", err)
		}
		return nil
	}
}

// credentials reads the Secret afresh on every connection, so a rotated
// password is used at once.
func (c *client) credentials(ctx context.Context) (username, password string, err error) {
	data, err := c.secrets(ctx, c.settings.secretName)
	if err != nil {
		wrapped := fmt.Errorf("read Secret %q: %w", c.settings.secretName, err)
		if apierrors.IsNotFound(err) {
			return "", "", provider.Permanent(wrapped)
		}
		return "", "", wrapped
	}
	for _, key := range []string{keyUsername, keyPassword} {
		if len(data[key]) == 0 {
			return "", "", provider.Permanentf("Secret %q has no key %q (it needs %q and %q)", c.settings.secretName, key, keyUsername, keyPassword)
		}
	}
	return string(data[keyUsername]), string(data[keyPassword]), nil
}

// connConfig builds the pgx configuration field by field: the password is
// never formatted into a connection string that could end up in a log.
func (c *client) connConfig(username, password string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig("sslmode=disable")
	if err != nil {
		return nil, fmt.Errorf("build connection config: %w", err)
	}
	s := c.settings
	cfg.Host, cfg.Port, cfg.Database = s.host, s.port, s.database
	cfg.User, cfg.Password = username, password
	cfg.TLSConfig = s.tlsConfig()
	// Drop what ParseConfig may have taken from PG* environment variables or a
	// passfile: only the connection's spec counts.
	cfg.Fallbacks, cfg.ValidateConnect, cfg.SSLNegotiation = nil, nil, ""
	cfg.ConnectTimeout = connectTimeout
	cfg.RuntimeParams = map[string]string{
		"application_name":  applicationName,
		"statement_timeout": statementTimeout,
		"lock_timeout":      lockTimeout,
	}
	return cfg, nil
}

// connect opens a new session as the operator's user. Every operation uses its
// own session, so nothing is cached between a grant and the check after it.
func (c *client) connect(ctx context.Context) (*pgx.Conn, string, error) {
	username, password, err := c.credentials(ctx)
	if err != nil {
		return nil, "", err
	}
	cfg, err := c.connConfig(username, password)
	if err != nil {
		return nil, "", err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, "", c.connectError(username, err)
	}
	return conn, username, nil
}

// closeConn ends a session, bounded even when ctx is already done.
func closeConn(ctx context.Context, conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}
