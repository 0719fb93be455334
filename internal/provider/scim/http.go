package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/elevator-dev/elevator/internal/provider"
)

const (
	contentType = "application/scim+json"
	// maxBody caps what is read of one response; a group with many thousands
	// of members still fits.
	maxBody = 32 << 20
	// maxDetail caps how much of a server's error detail goes into an error.
	maxDetail = 300
)

// request is one call to the SCIM API.
type request struct {
	method string
	// path is relative to the base URL and already escaped, e.g. "/Groups/abc".
	path  string
	query url.Values
	body  any
}

// String names the request for messages and evidence, with the query unescaped
// so that a person can read the filter.
func (r request) String() string {
	s := r.method + " " + r.path
	if len(r.query) > 0 {
		q, err := url.QueryUnescape(r.query.Encode())
		if err != nil {
			q = r.query.Encode()
		}
		s += "?" + q
	}
	return s
}

// StatusError is a SCIM server's answer outside 2xx.
type StatusError struct {
	// Server is the SCIM base URL.
	Server string
	// Request is the method and path, e.g. "PATCH /Groups/abc".
	Request string
	// Status is the HTTP status code.
	Status int
	// ScimType and Detail come from the SCIM error body, when there is one.
	ScimType string
	Detail   string
	// RetryAfter is the server's Retry-After, zero when it sent none.
	RetryAfter time.Duration
	// Hint says what a person can do about it, when we know.
	Hint string
}

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "SCIM server at %s answered %d %s to %s", e.Server, e.Status, http.StatusText(e.Status), e.Request)
	if e.ScimType != "" {
		fmt.Fprintf(&b, " (scimType %s)", e.ScimType)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; it asked to retry after %s", e.RetryAfter)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, ": %s", e.Hint)
	}
	return b.String()
}

// retryable reports whether the server may answer differently later: it is
// overloaded (429), timed out (408) or failing (5xx).
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// classify marks 4xx answers Permanent, except those worth retrying.
func classify(err error) error {
	var se *StatusError
	if errors.As(err, &se) && !retryable(se.Status) && se.Status >= 400 && se.Status < 500 {
		return provider.Permanent(err)
	}
	return err
}

// retryPolicy bounds the retries made inside one call, for 429 and 5xx.
// Longer waits are left to the controller's backoff.
type retryPolicy struct {
	attempts int
	// backoff is the first wait when the server sends no Retry-After.
	backoff time.Duration
	// maxWait is the longest wait made in-call; a longer Retry-After ends the
	// call with a transient error.
	maxWait time.Duration
	sleep   func(ctx context.Context, d time.Duration) error
}

func defaultRetryPolicy() retryPolicy {
	return retryPolicy{attempts: 3, backoff: 250 * time.Millisecond, maxWait: 3 * time.Second, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// do sends the request, retrying 429 and 5xx a few times, and decodes a 2xx
// JSON answer into out (when out is not nil). A non-2xx answer is a
// *StatusError, classified: 4xx other than 408 and 429 are Permanent.
func (c *session) do(ctx context.Context, r request, out any) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = c.once(ctx, r, out)
		var se *StatusError
		if !errors.As(err, &se) || !retryable(se.Status) || attempt >= c.retry.attempts {
			return classify(err)
		}
		wait := c.retry.backoff << (attempt - 1)
		if se.RetryAfter > 0 {
			wait = se.RetryAfter
		}
		if wait > c.retry.maxWait {
			return err
		}
		if serr := c.retry.sleep(ctx, wait); serr != nil {
			return err
		}
	}
}

// once sends the request one time, bounded by the connection's timeout.
func (c *session) once(ctx context.Context, r request, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := c.newHTTPRequest(ctx, r)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach SCIM server at %s: %s: %w", c.baseURL, r, unwrapURLError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("read the answer of SCIM server at %s to %s: %w", c.baseURL, r, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.statusError(r, resp, body)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent || len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("SCIM server at %s answered %s with something other than SCIM JSON: %w", c.baseURL, r, err)
	}
	return nil
}

func (c *session) newHTTPRequest(ctx context.Context, r request) (*http.Request, error) {
	target := c.baseURL + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		raw, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", r, err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, provider.Permanentf("build %s for SCIM server at %s: %w", r, c.baseURL, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", contentType+", application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	return req, nil
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the full
// URL with its query, so that the error says the request once, in our words.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// scimError is the body of a SCIM error answer (RFC 7644 section 3.12). Status
// is a string in the RFC, a number in some servers, so it is not decoded.
type scimError struct {
	ScimType string `json:"scimType"`
	Detail   string `json:"detail"`
}

func (c *session) statusError(r request, resp *http.Response, body []byte) *StatusError {
	se := &StatusError{
		Server:     c.baseURL,
		Request:    r.String(),
		Status:     resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	if se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden {
		se.Hint = fmt.Sprintf("check the bearer token in key %q of Secret %s", tokenKey, c.secret)
	}
	var e scimError
	if json.Unmarshal(body, &e) == nil {
		se.ScimType = e.ScimType
		se.Detail = truncate(e.Detail, maxDetail)
	}
	return se
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now).Round(time.Second)
	}
	return 0
}

// truncate shortens s to at most n runes.
func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "..."
}
