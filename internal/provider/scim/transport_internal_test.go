package scim

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// countingServer counts the requests it receives and whether any carried the
// test token.
type countingServer struct {
	requests, sawToken atomic.Int32
}

func (c *countingServer) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		if strings.Contains(r.Header.Get("Authorization"), testToken) {
			c.sawToken.Add(1)
		}
		next.ServeHTTP(w, r)
	})
}

// Plain http is refused when the connection does not say allowInsecureHTTP,
// before any request is made.
func TestPlainHTTPNeedsAllowInsecureHTTP(t *testing.T) {
	listener := &countingServer{}
	srv := httptest.NewServer(listener.handler(http.NotFoundHandler()))
	t.Cleanup(srv.Close)
	conn := &accessv1alpha1.SaaSConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "billing", Namespace: "payments"},
		Spec: accessv1alpha1.SaaSConnectionSpec{Provider: accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{
			URL: srv.URL + "/scim/v2", CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "creds"},
		}}},
	}
	_, err := New(context.Background(), provider.Config{Connection: conn, Secrets: tokenSecret})
	if !provider.IsPermanent(err) || !strings.Contains(err.Error(), "plain http") || !strings.Contains(err.Error(), "allowInsecureHTTP: true") {
		t.Fatalf("New with an http URL = %v, want a permanent error naming allowInsecureHTTP", err)
	}
	if n := listener.requests.Load(); n != 0 {
		t.Fatalf("the listener received %d requests, want none", n)
	}
}

// A server that redirects does not get the token sent on: the redirect is
// not followed, the call fails permanently, and the redirect's target
// receives nothing.
func TestRedirectIsNotFollowed(t *testing.T) {
	elsewhere := &countingServer{}
	other := httptest.NewTLSServer(elsewhere.handler(http.NotFoundHandler()))
	t.Cleanup(other.Close)
	front := &countingServer{}
	redirector := httptest.NewTLSServer(front.handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})))
	t.Cleanup(redirector.Close)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: redirector.Certificate().Raw}))
	c, err := New(context.Background(), provider.Config{
		Connection: testConnection(accessv1alpha1.SCIMProvider{URL: redirector.URL + "/scim/v2", CABundle: caPEM, CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "creds"}}),
		Secrets:    tokenSecret,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	err = c.Health(context.Background())
	if !provider.IsPermanent(err) || !strings.Contains(err.Error(), "redirects are not followed") {
		t.Fatalf("health through a redirect = %v, want a permanent error saying redirects are not followed", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Fatal("the error shows the token")
	}
	if front.requests.Load() != 1 || front.sawToken.Load() != 1 {
		t.Fatalf("the configured server got %d requests (%d with the token), want 1 with the token", front.requests.Load(), front.sawToken.Load())
	}
	if n := elsewhere.requests.Load(); n != 0 {
		t.Fatalf("the redirect's target received %d requests, want none", n)
	}
}
