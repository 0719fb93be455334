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

// Client is a provider.Client for one SCIM service provider.
type Client struct {
	// baseURL is the SCIM base URL without a trailing slash.
	baseURL string
	// secrets reads the Secret named secretName, which holds the token.
	secrets    provider.SecretReader
	secretName string
	// secret is namespace/name of that Secret, for messages a person can act on.
	secret string
	http   *http.Client
	// timeout bounds each HTTP request.
	timeout time.Duration
	retry   retryPolicy
	// connection is namespace/name of the SaaSConnection, for messages.
	connection string
	// log is the activity source, nil when the connection sets none.
	log *oktaLog
}

var _ provider.Client = (*Client)(nil)

// session is a Client with the bearer token read for one call. The token
// never goes into errors, evidence or logs.
type session struct {
	*Client
	token string
}

// session reads the token afresh, so that a rotated token is used at once.
func (c *Client) session(ctx context.Context) (*session, error) {
	token, err := readToken(ctx, c.secrets, c.secretName, c.secret)
	if err != nil {
		return nil, err
	}
	return &session{Client: c, token: token}, nil
}

// Grant adds the subject's SCIM user to the role's group. A subject the
// server does not know, or that more than one user answers to, is a Permanent
// error. The Grant holds the base URL and the user's and group's ids, which
// Revoke and Check then act on.
func (c *Client) Grant(ctx context.Context, e provider.Entitlement) (provider.Grant, error) {
	s, err := c.session(ctx)
	if err != nil {
		return provider.Grant{}, err
	}
	return s.grant(ctx, e)
}

// Revoke removes the subject's SCIM user from the role's group: with a stored
// target, the stored user id from the stored group at the stored base URL,
// whatever the user is called now. Without one, a subject the server does not
// know has nothing to remove.
func (c *Client) Revoke(ctx context.Context, e provider.Entitlement) error {
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	return s.revoke(ctx, e)
}

// Check reads the role's group fresh (GET /Groups/{id}) and reports whether
// the subject's user id (the stored one, when the grant stored it) is among its
// members.
func (c *Client) Check(ctx context.Context, e provider.Entitlement) (provider.Observation, error) {
	s, err := c.session(ctx)
	if err != nil {
		return provider.Observation{}, err
	}
	return s.check(ctx, e)
}

// Health reads the ServiceProviderConfig with the token, which proves that
// the URL is a SCIM server and that the token is accepted.
func (c *Client) Health(ctx context.Context) error {
	s, err := c.session(ctx)
	if err != nil {
		return err
	}
	return s.health(ctx)
}

// New builds a Client for a connection whose spec.provider.scim is set. It
// checks the configuration; the token is read from the Secret by every call.
func New(_ context.Context, cfg provider.Config) (provider.Client, error) {
	conn := cfg.Connection
	if conn == nil || conn.Spec.Provider.SCIM == nil {
		return nil, provider.Permanentf("connection has no spec.provider.scim")
	}
	spec := conn.Spec.Provider.SCIM
	base, err := parseBaseURL("spec.provider.scim.url", spec.URL, spec.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	timeout, err := parseTimeout(spec.Timeout)
	if err != nil {
		return nil, err
	}
	transport, err := newTransport("spec.provider.scim.caBundle", spec.CABundle)
	if err != nil {
		return nil, err
	}
	if cfg.Secrets == nil {
		return nil, provider.Permanentf("no Secret reader configured for the SCIM provider")
	}
	var log *oktaLog
	if spec.Activity != nil && spec.Activity.OktaSystemLog != nil {
		if log, err = newOktaLog(spec.Activity.OktaSystemLog, conn.Namespace, cfg.Secrets, timeout); err != nil {
			return nil, err
		}
	}
	return &Client{
		connection: conn.Namespace + "/" + conn.Name,
		log:        log,
		baseURL:    base,
		secrets:    cfg.Secrets,
		secretName: spec.CredentialsSecretRef.Name,
		secret:     conn.Namespace + "/" + spec.CredentialsSecretRef.Name,
		http:       &http.Client{Transport: transport, CheckRedirect: refuseRedirect},
		timeout:    timeout,
		retry:      defaultRetryPolicy(),
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// refuseRedirect follows no redirect: the token is sent to spec.provider.scim.url
// and nowhere else, and the endpoint allowlist checked that URL's host only.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	return provider.Permanentf("the SCIM server redirected to %s://%s%s; redirects are not followed, so that the token goes to spec.provider.scim.url only: set the URL the server redirects to",
		req.URL.Scheme, req.URL.Host, req.URL.Path)
}

// parseBaseURL checks a base URL (the SCIM one, or the Okta org's, named by
// field) and drops a trailing slash, so that endpoint paths can be appended to
// it. Plain http needs allowInsecureHTTP.
func parseBaseURL(field, raw string, allowInsecureHTTP bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", provider.Permanentf("%s %q is not a URL: %w", field, raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", provider.Permanentf("%s %q must be an http or https URL with a host", field, raw)
	}
	if u.Scheme == "http" && !allowInsecureHTTP {
		return "", provider.Permanentf("%s %q is plain http, which sends the token unencrypted: use https, or set allowInsecureHTTP: true", field, u.Redacted())
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", provider.Permanentf("%s %q must not carry user info, a query or a fragment: put the token in the credentials Secret", field, u.Redacted())
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

// newTransport trusts the PEM bundle (of the field named) in place of the
// system roots when one is given.
func newTransport(field, caBundle string) (*http.Transport, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caBundle == "" {
		return t, nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caBundle)) {
		return nil, provider.Permanentf("%s holds no PEM certificate", field)
	}
	t.TLSClientConfig.RootCAs = pool
	return t, nil
}

// readToken reads the bearer token. A Secret that can't be read may appear
// later, so that error is transient; a Secret without a token is a
// configuration error.
func readToken(ctx context.Context, secrets provider.SecretReader, name, display string) (string, error) {
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
