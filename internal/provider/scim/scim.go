// Package scim is Elevator's SCIM 2.0 provider (RFC 7643/7644): a role is a
// SCIM Group, and granting it adds the subject, a SCIM User found by userName,
// to the group's members.
//
// How each call talks to the server:
//
//   - Grant: GET /Users?filter=userName eq "<subject>", GET /Groups/{id}, and,
//     when the user is not yet a member, PATCH /Groups/{id} with op "add".
//   - Revoke: the same reads, and, when the user is a member, PATCH
//     /Groups/{id} with op "remove" and path members[value eq "<user id>"].
//   - Check: GET /Groups/{id}, read fresh, looking for the user's id in
//     members. It never asks the server to filter groups by members.value:
//     some servers answer such a filter with no results while the user is a
//     member, which would make a failed revocation look verified.
//   - Health: GET /ServiceProviderConfig with the token.
//
// Servers answer "already a member" and "not a member" in many ways (200, 204,
// 409, 400 with a scimType). Grant and Revoke therefore read the group before
// patching it, and read it again after a 4xx answer to the patch: when the group
// is already in the wanted state, the call succeeds whatever the server said.
package scim

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/elevator-dev/elevator/internal/provider"
)

// DefaultTimeout bounds one HTTP request when the connection sets no timeout.
const DefaultTimeout = 10 * time.Second

// tokenKey is the key of the bearer token in the credentials Secret.
const tokenKey = "token"

// Registration is the SCIM provider for the registry. A group membership is one
// fact per subject and group, so two requests for the same role share it.
func Registration() provider.Registration {
	return provider.Registration{Kind: provider.KindSCIM, Shared: true, New: New}
}

// Client is a provider.Client for one SCIM service provider.
type Client struct {
	// baseURL is the SCIM base URL without a trailing slash.
	baseURL string
	// token is the bearer token. It never goes into errors, evidence or logs.
	token string
	// secret names the Secret the token came from, for messages a person can act on.
	secret string
	http   *http.Client
	// timeout bounds each HTTP request.
	timeout time.Duration
	retry   retryPolicy
}

var _ provider.Client = (*Client)(nil)

// New builds a Client for a connection whose spec.provider.scim is set. It reads
// the bearer token from the Secret once; a rotated token takes effect when the
// controller builds a new client.
func New(ctx context.Context, cfg provider.Config) (provider.Client, error) {
	conn := cfg.Connection
	if conn == nil || conn.Spec.Provider.SCIM == nil {
		return nil, provider.Permanentf("connection has no spec.provider.scim")
	}
	spec := conn.Spec.Provider.SCIM
	base, err := parseBaseURL(spec.URL)
	if err != nil {
		return nil, err
	}
	timeout, err := parseTimeout(spec.Timeout)
	if err != nil {
		return nil, err
	}
	transport, err := newTransport(spec.CABundle)
	if err != nil {
		return nil, err
	}
	secret := conn.Namespace + "/" + spec.CredentialsSecretRef.Name
	token, err := readToken(ctx, cfg.Secrets, spec.CredentialsSecretRef.Name, secret)
	if err != nil {
		return nil, err
	}
	return &Client{
		baseURL: base,
		token:   token,
		secret:  secret,
		http:    &http.Client{Transport: transport},
		timeout: timeout,
		retry:   defaultRetryPolicy(),
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// parseBaseURL checks the SCIM base URL and drops a trailing slash, so that
// endpoint paths can be appended to it.
func parseBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", provider.Permanentf("spec.provider.scim.url %q is not a URL: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", provider.Permanentf("spec.provider.scim.url %q must be an http or https URL with a host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", provider.Permanentf("spec.provider.scim.url %q must not carry user info, a query or a fragment: put the token in the credentials Secret", u.Redacted())
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func parseTimeout(raw string) (time.Duration, error) {
	if raw == "" {
		return DefaultTimeout, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		return 0, provider.Permanentf("spec.provider.scim.timeout %q must be a positive Go duration such as 10s", raw)
	}
	return d, nil
}

// newTransport trusts the PEM bundle in place of the system roots when one is
// given.
func newTransport(caBundle string) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caBundle == "" {
		return t, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caBundle)) {
		return nil, provider.Permanentf("spec.provider.scim.caBundle holds no PEM certificate")
	}
	t.TLSClientConfig.RootCAs = pool
	return t, nil
}

// readToken reads the bearer token. A Secret that can't be read may appear
// later, so that error is transient; a Secret without a token is a
// configuration error.
func readToken(ctx context.Context, secrets provider.SecretReader, name, display string) (string, error) {
	if secrets == nil {
		return "", provider.Permanentf("no Secret reader configured for the SCIM provider")
	}
	data, err := secrets(ctx, name)
	if err != nil {
		return "", fmt.Errorf("read SCIM credentials Secret %s: %w", display, err)
	}
	token := strings.TrimSpace(string(data[tokenKey]))
	if token == "" {
		return "", provider.Permanentf("SCIM credentials Secret %s has no key %q with the bearer token", display, tokenKey)
	}
	return token, nil
}
