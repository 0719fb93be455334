package postgres

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/testenv"
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
	otherCA, err := testenv.NewCA("some other CA")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode, caBundle string
		allowInsecure  bool
		wantTLS        bool
	}{
		{mode: "disable", allowInsecure: true},
		{mode: "require", allowInsecure: true, wantTLS: true},
		{mode: "require", caBundle: string(srv.CACertPEM), allowInsecure: true, wantTLS: true},
		{mode: "verify-ca", caBundle: string(srv.CACertPEM), wantTLS: true},
		{mode: "verify-full", caBundle: string(srv.CACertPEM), wantTLS: true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			c := operatorClient(t, func(p *accessv1alpha1.PostgresProvider) {
				p.SSLMode, p.CABundle, p.AllowInsecure = tc.mode, tc.caBundle, tc.allowInsecure
			})
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
			c := operatorClient(t, func(p *accessv1alpha1.PostgresProvider) {
				p.SSLMode, p.CABundle, p.AllowInsecure = mode, string(otherCA.CertPEM), mode == "require"
			})
			wantHealthError(t, c.Health(testCtx(t)), true, []string{"TLS verification of the server at", "sslMode " + mode, "unknown authority"}, operatorPassword)
		})
	}
}

// Attack 6: a connection that leaves sslMode out gets verify-full. A server
// whose certificate no trusted CA signed (here the system roots, which do not
// hold the test CA) fails the health check before the password is sent; an
// insecure mode is refused unless the connection says allowInsecure.
func TestDefaultSSLModeVerifiesTheServer(t *testing.T) {
	c := operatorClient(t, func(p *accessv1alpha1.PostgresProvider) { p.SSLMode, p.CABundle = "", "" })
	wantHealthError(t, c.Health(testCtx(t)), true, []string{"TLS verification of the server at", "sslMode verify-full", "unknown authority"}, operatorPassword)

	for _, mode := range []string{"disable", "require"} {
		conn := connection(nil, func(p *accessv1alpha1.PostgresProvider) { p.SSLMode, p.CABundle = mode, "" })
		_, err := Registration().New(testCtx(t), provider.Config{Connection: conn, Secrets: operatorSecret()})
		if !provider.IsPermanent(err) || !strings.Contains(err.Error(), "does not verify the server") || !strings.Contains(err.Error(), "allowInsecure: true") {
			t.Errorf("sslMode %s without allowInsecure: got %v, want a permanent error naming allowInsecure", mode, err)
		}
	}
}

// verify-ca checks the chain in VerifyConnection, which Go runs on resumed
// sessions too (VerifyPeerCertificate is skipped on resumption), so a resumed
// session is held to the same CA.
func TestVerifyCAOnResumedSession(t *testing.T) {
	ours, ourCert := newTestCA(t, "our CA")
	_, otherCert := newTestCA(t, "another CA")
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ours.CertPEM) {
		t.Fatal("our CA's PEM holds no certificate")
	}
	cfg := settings{sslMode: "verify-ca", roots: roots}.tlsConfig()
	if cfg.VerifyConnection == nil || cfg.VerifyPeerCertificate != nil {
		t.Fatalf("verify-ca: VerifyConnection set = %t, VerifyPeerCertificate set = %t; want only VerifyConnection",
			cfg.VerifyConnection != nil, cfg.VerifyPeerCertificate != nil)
	}
	for _, tc := range []struct {
		name    string
		certs   []*x509.Certificate
		wantErr string
	}{
		{name: "our CA", certs: []*x509.Certificate{ourCert}},
		{name: "another CA", certs: []*x509.Certificate{otherCert}, wantErr: "unknown authority"},
		{name: "no certificate", wantErr: "server sent no certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := cfg.VerifyConnection(tls.ConnectionState{DidResume: true, PeerCertificates: tc.certs})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got %v, want the chain accepted", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
}

func newTestCA(t *testing.T, name string) (*testenv.CA, *x509.Certificate) {
	t.Helper()
	ca, err := testenv.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(ca.CertPEM)
	if block == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ca, cert
}
