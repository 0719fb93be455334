package postgres

import (
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/postgres/pgtest"
)

// sessionUsesTLS opens a session the way the provider does and asks the server
// whether it is encrypted.
func sessionUsesTLS(t *testing.T, c provider.Client) bool {
	t.Helper()
	ctx := testCtx(t)
	conn, _, err := c.(*client).connect(ctx)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer closeConn(ctx, conn)
	var ssl bool
	if err := conn.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
		t.Fatalf("read pg_stat_ssl: %v", err)
	}
	return ssl
}

func TestSSLModes(t *testing.T) {
	otherCA, err := pgtest.NewCA("some other CA")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode, caBundle string
		wantTLS        bool
	}{
		{mode: "disable"},
		{mode: "require", wantTLS: true},
		{mode: "require", caBundle: string(srv.CACertPEM), wantTLS: true},
		{mode: "verify-ca", caBundle: string(srv.CACertPEM), wantTLS: true},
		{mode: "verify-full", caBundle: string(srv.CACertPEM), wantTLS: true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			c := operatorClient(t, func(p *accessv1alpha1.PostgresProvider) { p.SSLMode, p.CABundle = tc.mode, tc.caBundle })
			if err := c.Health(testCtx(t)); err != nil {
				t.Fatalf("health: %v", err)
			}
			if got := sessionUsesTLS(t, c); got != tc.wantTLS {
				t.Fatalf("session encrypted = %t, want %t", got, tc.wantTLS)
			}
		})
	}
	// A server certificate from another CA is refused, also by require when a
	// CA bundle is given (libpq's rule: then it verifies like verify-ca).
	for _, mode := range []string{"require", "verify-ca", "verify-full"} {
		t.Run(mode+" with the wrong CA", func(t *testing.T) {
			c := operatorClient(t, func(p *accessv1alpha1.PostgresProvider) { p.SSLMode, p.CABundle = mode, string(otherCA.CertPEM) })
			wantHealthError(t, c.Health(testCtx(t)), true, []string{"TLS verification of the server at", "sslMode " + mode, "unknown authority"}, operatorPassword)
		})
	}
}
