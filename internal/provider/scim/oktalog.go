package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

const (
	// OktaSourceName names the Okta System Log in status.activity.source.
	OktaSourceName = "Okta System Log"
	// DefaultDeliveryDelay is how long after an event the System Log may still
	// return it, when the connection sets no deliveryDelay.
	DefaultDeliveryDelay = 60 * time.Second
	// oktaLogsPath is the System Log API's one endpoint.
	oktaLogsPath = "/api/v1/logs"
	// maxLogBody caps one page of the System Log: a thousand events of a few
	// kilobytes each.
	maxLogBody = 16 << 20
	// maxLogPageSize is the most events Okta returns in one page.
	maxLogPageSize = 1000
	// oktaField is the connection field the log's settings are under.
	oktaField = "spec.provider.scim.activity.oktaSystemLog"
)

// oktaLog reads one Okta org's System Log with a read-only API token.
type oktaLog struct {
	// logsURL is {url}/api/v1/logs.
	logsURL string
	// secrets reads the Secret named secretName, which holds the token; secret
	// is namespace/name of it, for messages.
	secrets    provider.SecretReader
	secretName string
	secret     string
	http       *http.Client
	timeout    time.Duration
	delay      time.Duration
	now        func() time.Time
}

// newOktaLog checks the connection's oktaSystemLog settings. The token is read
// by every call, so that a rotated token is used at once.
func newOktaLog(src *accessv1alpha1.OktaSystemLogSource, namespace string, secrets provider.SecretReader, timeout time.Duration) (*oktaLog, error) {
	base, err := parseBaseURL(oktaField+".url", src.URL, src.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	delay, err := parseDeliveryDelay(src.DeliveryDelay)
	if err != nil {
		return nil, err
	}
	transport, err := newTransport(oktaField+".caBundle", src.CABundle)
	if err != nil {
		return nil, err
	}
	if src.CredentialsSecretRef.Name == "" {
		return nil, provider.Permanentf("%s.credentialsSecretRef names no Secret", oktaField)
	}
	return &oktaLog{
		logsURL:    base + oktaLogsPath,
		secrets:    secrets,
		secretName: src.CredentialsSecretRef.Name,
		secret:     namespace + "/" + src.CredentialsSecretRef.Name,
		http:       &http.Client{Transport: transport, CheckRedirect: refuseOktaRedirect},
		timeout:    timeout,
		delay:      delay,
		now:        time.Now,
	}, nil
}

func parseDeliveryDelay(raw string) (time.Duration, error) {
	if raw == "" {
		return DefaultDeliveryDelay, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 {
		return 0, provider.Permanentf("%s.deliveryDelay %q must be a Go duration such as 60s", oktaField, raw)
	}
	return d, nil
}

// refuseOktaRedirect follows no redirect, so that the API token goes to the
// configured org, whose host the endpoint allowlist checked, and nowhere else.
func refuseOktaRedirect(req *http.Request, _ []*http.Request) error {
	return provider.Permanentf("the Okta System Log redirected to %s://%s%s; redirects are not followed, so that the API token goes to %s.url only",
		req.URL.Scheme, req.URL.Host, req.URL.Path, oktaField)
}

// OktaError is an answer of the System Log API outside 2xx.
type OktaError struct {
	// URL is the logs endpoint, without the query.
	URL    string
	Status int
	// Code and Summary are Okta's errorCode and errorSummary, when sent.
	Code, Summary string
	// RetryAfter is when a rate-limited request may be sent again.
	RetryAfter time.Duration
	Hint       string
}

func (e *OktaError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Okta System Log at %s answered %d %s", e.URL, e.Status, http.StatusText(e.Status))
	if e.Code != "" || e.Summary != "" {
		fmt.Fprintf(&b, " (%s %s)", e.Code, e.Summary)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; rate limited, retry after %s", e.RetryAfter)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, ": %s", e.Hint)
	}
	return b.String()
}

// oktaErrorBody is the body of an Okta API error.
type oktaErrorBody struct {
	ErrorCode    string `json:"errorCode"`
	ErrorSummary string `json:"errorSummary"`
}

// readToken reads the API token from the log's Secret.
func (l *oktaLog) readToken(ctx context.Context) (string, error) {
	data, err := l.secrets(ctx, l.secretName)
	if err != nil {
		return "", fmt.Errorf("read Okta System Log credentials Secret %s: %w", l.secret, err)
	}
	token := strings.TrimSpace(string(data[tokenKey]))
	if token == "" {
		return "", provider.Permanentf("Okta System Log credentials Secret %s has no key %q with the API token", l.secret, tokenKey)
	}
	return token, nil
}

// get reads one page of the System Log. next is the query of the page after
// it, taken from the Link header's rel="next", nil on the last page. Only the
// next link's query is used, sent to the configured logs URL: the token never
// goes to a host the link names.
func (l *oktaLog) get(ctx context.Context, token string, query url.Values) (events []LogEvent, next url.Values, err error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.logsURL+"?"+query.Encode(), nil)
	if err != nil {
		return nil, nil, provider.Permanentf("build the System Log request for %s: %w", l.logsURL, err)
	}
	req.Header.Set("Authorization", "SSWS "+token)
	req.Header.Set("Accept", "application/json")
	resp, err := l.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot reach the Okta System Log at %s: %w", l.logsURL, unwrapURLError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxLogBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read the answer of the Okta System Log at %s: %w", l.logsURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, classifyOkta(l.statusError(resp, body))
	}
	if len(body) > maxLogBody {
		return nil, nil, fmt.Errorf("the Okta System Log at %s answered with more than %d bytes in one page", l.logsURL, maxLogBody)
	}
	if err := json.Unmarshal(bytes.TrimSpace(body), &events); err != nil {
		return nil, nil, fmt.Errorf("the Okta System Log at %s answered with something other than a JSON array of LogEvents: %w", l.logsURL, err)
	}
	next, err = nextQuery(resp.Header.Values("Link"))
	if err != nil {
		return nil, nil, fmt.Errorf("the Okta System Log at %s: %w", l.logsURL, err)
	}
	return events, next, nil
}

func (l *oktaLog) statusError(resp *http.Response, body []byte) *OktaError {
	e := &OktaError{URL: l.logsURL, Status: resp.StatusCode}
	var b oktaErrorBody
	if json.Unmarshal(body, &b) == nil {
		e.Code, e.Summary = truncate(b.ErrorCode, 32), truncate(b.ErrorSummary, maxDetail)
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		e.Hint = fmt.Sprintf("check the API token in key %q of Secret %s; it needs the okta.logs.read scope", tokenKey, l.secret)
	case http.StatusTooManyRequests:
		e.RetryAfter = rateLimitWait(resp.Header, l.now())
	}
	return e
}

// classifyOkta marks answers that retrying will not change Permanent: 4xx
// other than 408 and 429.
func classifyOkta(e *OktaError) error {
	if e.Status >= 400 && e.Status < 500 && !retryable(e.Status) {
		return provider.Permanent(e)
	}
	return e
}

// rateLimitWait reads when Okta lets the caller send again: X-Rate-Limit-Reset
// (a Unix time in seconds) or, failing that, Retry-After.
func rateLimitWait(h http.Header, now time.Time) time.Duration {
	if reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Rate-Limit-Reset")), 10, 64); err == nil {
		if wait := time.Unix(reset, 0).Sub(now); wait > 0 {
			return wait.Round(time.Second)
		}
	}
	return parseRetryAfter(h.Get("Retry-After"), now)
}

// nextQuery finds the rel="next" link among Link header values (Okta sends
// self and next, as separate headers or in one) and returns its query.
func nextQuery(values []string) (url.Values, error) {
	for _, v := range values {
		for _, link := range strings.Split(v, ",") {
			target, ok := relNext(link)
			if !ok {
				continue
			}
			u, err := url.Parse(target)
			if err != nil {
				return nil, fmt.Errorf("its next link is not a URL: %w", err)
			}
			if !strings.HasSuffix(u.Path, oktaLogsPath) {
				return nil, fmt.Errorf("its next link points at %s, not at %s", u.Path, oktaLogsPath)
			}
			return u.Query(), nil
		}
	}
	return nil, nil
}

// relNext returns the URL of one link-value, `<url>; rel="next"`, when its
// relation is next.
func relNext(link string) (string, bool) {
	parts := strings.Split(link, ";")
	target := strings.TrimSpace(parts[0])
	if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
		return "", false
	}
	for _, p := range parts[1:] {
		name, value, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(name), "rel") && strings.Trim(strings.TrimSpace(value), `"`) == "next" {
			return target[1 : len(target)-1], true
		}
	}
	return "", false
}

// actorFilter is the System Log filter for events whose actor is login. The
// login is a JSON string literal (a SCIM filter's string is JSON's), so that
// a quote or backslash in it can't end the literal and widen the filter.
func actorFilter(login string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(login) // encoding a string cannot fail
	return "actor.alternateId eq " + strings.TrimSpace(b.String())
}
