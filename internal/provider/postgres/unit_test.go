package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err       error
		permanent bool
	}{
		{&pgconn.PgError{Code: "42704", Message: `role "x" does not exist`}, true},
		{&pgconn.PgError{Code: "42501", Message: "permission denied"}, true},
		{&pgconn.PgError{Code: "28P01", Message: "password authentication failed"}, true},
		{&pgconn.PgError{Code: "0LP01", Message: "role is a member of role"}, true},
		{&pgconn.PgError{Code: "3D000", Message: "database does not exist"}, true},
		{&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, false},
		{&pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, false},
		{&pgconn.PgError{Code: "08006", Message: "connection failure"}, false},
		{&pgconn.PgError{Code: "53300", Message: "too many connections"}, false},
		{&pgconn.PgError{Code: "55P03", Message: "lock timeout"}, false},
		{&pgconn.PgError{Code: "40001", Message: "serialization failure"}, false},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, false},
		{context.DeadlineExceeded, false},
	} {
		got := classify("grant", fmt.Errorf("wrapped: %w", tc.err))
		if provider.IsPermanent(got) != tc.permanent || !errors.Is(got, tc.err) {
			t.Errorf("classify(%v) = %v (permanent %t), want permanent %t, wrapping the cause", tc.err, got, provider.IsPermanent(got), tc.permanent)
		}
	}
}

func TestParseSettings(t *testing.T) {
	base := func() *accessv1alpha1.SaaSConnection {
		return &accessv1alpha1.SaaSConnection{Spec: accessv1alpha1.SaaSConnectionSpec{Provider: accessv1alpha1.ProviderSpec{
			Postgres: &accessv1alpha1.PostgresProvider{Host: "db.example", Database: "app", CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "s"}},
		}}}
	}
	s, err := parseSettings(base())
	if err != nil {
		t.Fatal(err)
	}
	if s.port != 5432 || s.sslMode != "verify-full" || !s.terminateSessions || s.roots != nil || s.address() != "db.example:5432/app" {
		t.Fatalf("defaults = %+v, want port 5432, sslMode verify-full, terminateSessions, system roots", s)
	}
	if cfg := s.tlsConfig(); cfg == nil || cfg.InsecureSkipVerify || cfg.ServerName != "db.example" {
		t.Fatalf("default TLS config: %+v, want the chain and the host name verified", cfg)
	}
	insecure := base()
	insecure.Spec.Provider.Postgres.SSLMode, insecure.Spec.Provider.Postgres.AllowInsecure = "require", true
	if s, err := parseSettings(insecure); err != nil || !s.tlsConfig().InsecureSkipVerify || s.tlsConfig().VerifyConnection != nil {
		t.Fatalf("require without a CA, allowInsecure: %+v, %v; want encryption without verification", s, err)
	}

	for want, mutate := range map[string]func(*accessv1alpha1.PostgresProvider){
		"sslMode \"prefer\" is not one of":                 func(p *accessv1alpha1.PostgresProvider) { p.SSLMode = "prefer" },
		"sslMode \"disable\" does not verify the server":   func(p *accessv1alpha1.PostgresProvider) { p.SSLMode = "disable" },
		"sslMode \"require\" does not verify the server":   func(p *accessv1alpha1.PostgresProvider) { p.SSLMode = "require" },
		"sslMode \"verify-ca\" does not verify the server": func(p *accessv1alpha1.PostgresProvider) { p.SSLMode = "verify-ca" },
		"caBundle holds no PEM":                            func(p *accessv1alpha1.PostgresProvider) { p.CABundle = "not a certificate" },
		"host is empty":                                    func(p *accessv1alpha1.PostgresProvider) { p.Host = "" },
		"port 70000 is out of range":                       func(p *accessv1alpha1.PostgresProvider) { p.Port = 70000 },
		"credentialsSecretRef.name":                        func(p *accessv1alpha1.PostgresProvider) { p.CredentialsSecretRef.Name = "" },
	} {
		conn := base()
		mutate(conn.Spec.Provider.Postgres)
		_, err := parseSettings(conn)
		if !provider.IsPermanent(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want a permanent error saying %q", err, want)
		}
	}

	conn := base()
	off := false
	conn.Spec.Provider.Postgres.TerminateSessions = &off
	conn.Spec.Provider.Postgres.SSLMode = "verify-full"
	if s, _ := parseSettings(conn); s.terminateSessions || s.tlsConfig().ServerName != "db.example" || s.tlsConfig().InsecureSkipVerify {
		t.Fatalf("terminateSessions false, verify-full: %+v", s)
	}
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{
		"alice":                 true,
		"Payments RW":           true,
		`bob"; DROP ROLE x; --`: true,
		"alice@example.com":     true,
		strings.Repeat("é", 31): true, // 62 bytes
		strings.Repeat("é", 32): false,
		strings.Repeat("a", 63): true,
		strings.Repeat("a", 64): false,
		"":                      false,
		"a\x00b":                false,
		"\xff":                  false,
		"public":                false,
		"none":                  false,
		"PUBLIC":                true, // a quoted identifier, not the keyword
		"current_user":          true,
	} {
		if err := validateName("subject", name); (err == nil) != ok {
			t.Errorf("validateName(%q) = %v, want ok %t", name, err, ok)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                 `"alice"`,
		"Payments RW":           `"Payments RW"`,
		`bob"; DROP ROLE x; --`: `"bob""; DROP ROLE x; --"`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}
