package scim

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

const logToken = "okta-api-token-value"

// pagedLog serves a fixed list of events at /api/v1/logs, pageMax a page,
// with Okta's Link next header. It ignores since, until and filter, as a
// server that does not honour them would: the client must bound and check
// every event itself.
type pagedLog struct {
	events  []LogEvent
	pageMax int
	mu      sync.Mutex
	queries []url.Values
	auth    []string
}

func (p *pagedLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.queries = append(p.queries, r.URL.Query())
	p.auth = append(p.auth, r.Header.Get("Authorization"))
	p.mu.Unlock()
	start, _ := strconv.Atoi(r.URL.Query().Get("after"))
	end := min(start+p.pageMax, len(p.events))
	if end < len(p.events) {
		next := url.Values{"after": {strconv.Itoa(end)}, "limit": {r.URL.Query().Get("limit")}}
		w.Header().Add("Link", fmt.Sprintf(`<https://elsewhere.example/api/v1/logs?%s>; rel="next"`, next.Encode()))
	}
	w.Header().Add("Link", `<https://elsewhere.example/api/v1/logs>; rel="self"`)
	_ = json.NewEncoder(w).Encode(p.events[start:end])
}

// oktaTestClient is a SCIM client whose activity source is the Okta log at
// server (trusted through its certificate), read with the clock *now.
func oktaTestClient(t *testing.T, server *httptest.Server, caPEM string, now *time.Time) *Client {
	t.Helper()
	conn := testConnection(accessv1alpha1.SCIMProvider{
		URL: "https://scim.example/scim/v2", CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "creds"},
		Activity: &accessv1alpha1.SCIMActivitySource{OktaSystemLog: &accessv1alpha1.OktaSystemLogSource{
			URL: server.URL, CABundle: caPEM, CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "okta"},
		}},
	})
	pc, err := New(context.Background(), provider.Config{Connection: conn, Secrets: func(_ context.Context, name string) (map[string][]byte, error) {
		if name != "okta" {
			return nil, errors.New("secret " + name + " not found")
		}
		return map[string][]byte{"token": []byte(logToken)}, nil
	}})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c := pc.(*Client)
	t.Cleanup(func() { _ = c.Close() })
	c.log.now = func() time.Time { return *now }
	return c
}

func certPEM(s *httptest.Server) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}))
}

func logEvent(uuid string, at time.Time, actor, eventType string) LogEvent {
	return LogEvent{UUID: uuid, Published: at.Format(time.RFC3339Nano), EventType: eventType, Actor: &LogActor{Type: "User", AlternateID: actor}}
}

func activityQuery(from time.Time, cursor string, limit int) provider.ActivityQuery {
	return provider.ActivityQuery{
		Entitlement: provider.Entitlement{Subject: "request-subject", Target: &accessv1alpha1.GrantTarget{
			Subject: &accessv1alpha1.TargetObject{ID: "u1", Name: "Alice@example.com"},
		}},
		From: from, Until: from.Add(time.Hour), Cursor: cursor, Limit: limit,
	}
}

func ids(actions []provider.Action) []string {
	var out []string
	for _, a := range actions {
		out = append(out, a.ID)
	}
	return out
}

// The source returns the subject's actions in the window once each, oldest
// first, across pages and calls, among other callers' events in the same
// millisecond; it holds back what the log may still fill in before it, and
// reports an event it cannot place.
func TestActivityWalksTheWindowOnce(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	log := &pagedLog{pageMax: 2, events: []LogEvent{
		logEvent("e0", t0.Add(-time.Second), "alice@example.com", "user.account.update_profile"),
		logEvent("e1", t0.Add(ms), "alice@example.com", "group.user_membership.add"),
		logEvent("e2", t0.Add(ms), "bob@example.com", "group.user_membership.add"),
		logEvent("e3", t0.Add(ms), "ALICE@example.com", "user.account.update_profile"),
		logEvent("e4", t0.Add(2*ms), "alice@example.com", "user.lifecycle.create"),
		{UUID: "bad", Published: "2017-09-31T22:23:07.777Z", EventType: "user.session.start", Actor: &LogActor{AlternateID: "alice@example.com"}},
		logEvent("e5", t0.Add(10*time.Second), "alice@example.com", "group.user_membership.remove"),
	}}
	server := httptest.NewTLSServer(log)
	defer server.Close()
	now := t0.Add(DefaultDeliveryDelay + 5*time.Second)
	c := oktaTestClient(t, server, certPEM(server), &now)

	p1 := mustActivity(t, c, activityQuery(t0, "", 2))
	if got := ids(p1.Actions); strings.Join(got, ",") != "e1,e3" || !p1.More || p1.Gap != "" {
		t.Fatalf("page 1 = %v more=%v gap=%q; want e1,e3 with more", got, p1.More, p1.Gap)
	}
	if want := t0.Add(ms + DefaultDeliveryDelay); !p1.Through.Equal(want) {
		t.Errorf("page 1 Through = %s, want %s: only up to the cursor is returned", p1.Through, want)
	}
	if p1.Actions[0].Category != accessv1alpha1.ActivityAccess || !p1.Actions[0].At.Equal(t0.Add(ms)) {
		t.Errorf("e1 = %+v", p1.Actions[0])
	}
	wantQuery(t, log, t0, t0.Add(5*time.Second+ms))

	p2 := mustActivity(t, c, activityQuery(t0, p1.Cursor, 2))
	if got := ids(p2.Actions); strings.Join(got, ",") != "e4" || p2.More || !p2.Through.Equal(now) {
		t.Fatalf("page 2 = %v more=%v through=%s; want e4 alone, through the read's start (e5 is past the horizon)", got, p2.More, p2.Through)
	}
	if !strings.Contains(p2.Gap, `"bad"`) {
		t.Errorf("page 2 gap = %q, want the event whose time cannot be read named", p2.Gap)
	}

	now = t0.Add(10*time.Second + DefaultDeliveryDelay)
	p3 := mustActivity(t, c, activityQuery(t0, p2.Cursor, 2))
	if got := ids(p3.Actions); strings.Join(got, ",") != "e5" || p3.More {
		t.Fatalf("page 3 = %v more=%v; want e5 once the delivery delay has passed", got, p3.More)
	}
	p4 := mustActivity(t, c, activityQuery(t0, p3.Cursor, 2))
	if len(p4.Actions) != 0 || p4.Cursor != p3.Cursor {
		t.Errorf("page 4 = %v cursor %q; want nothing new and the cursor kept", ids(p4.Actions), p4.Cursor)
	}
	for i, a := range log.auth {
		if a != "SSWS "+logToken {
			t.Fatalf("request %d sent Authorization %q, want the SSWS token", i, a)
		}
	}
}

func mustActivity(t *testing.T, c *Client, q provider.ActivityQuery) provider.ActivityPage {
	t.Helper()
	p, err := c.Activity(context.Background(), q)
	if err != nil {
		t.Fatalf("Activity: %v", err)
	}
	return p
}

// wantQuery checks the first request: bounded by the window's start and the
// horizon (one millisecond past it), filtered on the stored login, ascending,
// asking for one more event than the page holds.
func wantQuery(t *testing.T, log *pagedLog, since, until time.Time) {
	t.Helper()
	q := log.queries[0]
	want := url.Values{
		"since": {oktaTime(since)}, "until": {oktaTime(until)}, "limit": {"3"}, "sortOrder": {"ASCENDING"},
		"filter": {`actor.alternateId eq "Alice@example.com"`},
	}
	for k := range want {
		if q.Get(k) != want.Get(k) {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), want.Get(k))
		}
	}
	if len(log.queries) < 2 || log.queries[1].Get("after") == "" {
		t.Errorf("the second page was not read through the next link: %v", log.queries)
	}
}

// Until a window's start is older than the delivery delay, nothing is read.
func TestActivityWaitsForTheDeliveryDelay(t *testing.T) {
	log := &pagedLog{pageMax: 10}
	server := httptest.NewTLSServer(log)
	defer server.Close()
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	now := t0.Add(DefaultDeliveryDelay / 2)
	c := oktaTestClient(t, server, certPEM(server), &now)
	p := mustActivity(t, c, activityQuery(t0, "", 10))
	if len(log.queries) != 0 || p.More || p.Cursor != "" || !p.Through.Equal(now) {
		t.Errorf("queries %d, page %+v; want no read, an empty cursor, Through the read's start", len(log.queries), p)
	}
}

func TestActivityErrors(t *testing.T) {
	var status int
	var reset string
	server := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Rate-Limit-Reset", reset)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`))
	}))
	defer server.Close()
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	c := oktaTestClient(t, server, certPEM(server), &now)
	q := activityQuery(now.Add(-time.Hour), "", 10)

	status, reset = http.StatusTooManyRequests, strconv.FormatInt(now.Add(30*time.Second).Unix(), 10)
	_, err := c.Activity(context.Background(), q)
	var oe *OktaError
	if !errors.As(err, &oe) || provider.IsPermanent(err) || oe.RetryAfter != 30*time.Second || !strings.Contains(err.Error(), "E0000047") {
		t.Errorf("429 = %v; want a transient error that retries after 30s", err)
	}
	status = http.StatusUnauthorized
	_, err = c.Activity(context.Background(), q)
	if !provider.IsPermanent(err) || !strings.Contains(err.Error(), "okta.logs.read") || !strings.Contains(err.Error(), "payments/okta") {
		t.Errorf("401 = %v; want a permanent error naming the Secret and the scope", err)
	}
	status = http.StatusInternalServerError
	if _, err = c.Activity(context.Background(), q); err == nil || provider.IsPermanent(err) {
		t.Errorf("500 = %v; want a transient error", err)
	}
	if err != nil && strings.Contains(err.Error(), logToken) {
		t.Error("an error holds the API token")
	}
	if _, err := c.Activity(context.Background(), activityQuery(now, "not a cursor", 10)); !provider.IsPermanent(err) {
		t.Errorf("a corrupt cursor = %v, want a permanent error", err)
	}
}

// The log's server certificate is verified: without its CA bundle the
// system roots do not trust a test certificate, and nothing is read.
func TestActivityVerifiesTLS(t *testing.T) {
	log := &pagedLog{pageMax: 10}
	server := httptest.NewTLSServer(log)
	defer server.Close()
	now := time.Now()
	c := oktaTestClient(t, server, "", &now)
	_, err := c.Activity(context.Background(), activityQuery(now.Add(-time.Hour), "", 10))
	if err == nil || !strings.Contains(err.Error(), "certificate") || len(log.queries) != 0 {
		t.Errorf("Activity against an untrusted certificate = %v (%d requests served)", err, len(log.queries))
	}
}

func TestActivityWithoutSourceIsUnavailable(t *testing.T) {
	c, _ := newTestClient(t, "http://scim.example/scim/v2", "")
	_, err := c.Activity(context.Background(), activityQuery(time.Now(), "", 10))
	if !provider.IsUnavailable(err) || !strings.Contains(err.Error(), "payments/billing") || !strings.Contains(err.Error(), "spec.provider.scim.activity") {
		t.Errorf("Activity without a source = %v, want Unavailable naming the connection and the setting", err)
	}
	if c.ActivityDelay() != 0 || c.ActivitySourceName() != "" {
		t.Errorf("delay %s, name %q without a source", c.ActivityDelay(), c.ActivitySourceName())
	}
}

func TestOktaSettingsAreChecked(t *testing.T) {
	for name, src := range map[string]accessv1alpha1.OktaSystemLogSource{
		"plain http":      {URL: "http://org.okta.example", CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "okta"}},
		"no secret":       {URL: "https://org.okta.example"},
		"negative delay":  {URL: "https://org.okta.example", CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "okta"}, DeliveryDelay: "-1s"},
		"not a CA bundle": {URL: "https://org.okta.example", CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "okta"}, CABundle: "x"},
	} {
		conn := testConnection(accessv1alpha1.SCIMProvider{URL: "https://scim.example/v2", Activity: &accessv1alpha1.SCIMActivitySource{OktaSystemLog: &src}})
		if _, err := New(context.Background(), provider.Config{Connection: conn, Secrets: tokenSecret}); !provider.IsPermanent(err) || !strings.Contains(err.Error(), oktaField) {
			t.Errorf("%s: New = %v, want a permanent error naming %s", name, err, oktaField)
		}
	}
	src := accessv1alpha1.OktaSystemLogSource{URL: "https://org.okta.example/", CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "okta"}, DeliveryDelay: "5m"}
	conn := testConnection(accessv1alpha1.SCIMProvider{URL: "https://scim.example/v2", Activity: &accessv1alpha1.SCIMActivitySource{OktaSystemLog: &src}})
	pc, err := New(context.Background(), provider.Config{Connection: conn, Secrets: tokenSecret})
	if err != nil {
		t.Fatal(err)
	}
	c := pc.(*Client)
	if c.ActivityDelay() != 5*time.Minute || c.ActivitySourceName() != OktaSourceName || c.log.logsURL != "https://org.okta.example/api/v1/logs" {
		t.Errorf("delay %s, name %q, logs URL %s", c.ActivityDelay(), c.ActivitySourceName(), c.log.logsURL)
	}
}

// The cursor fits status.activity.cursor however many events share its
// millisecond and however long their uuids are, and still knows the newest.
func TestCursorStaysBounded(t *testing.T) {
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var c logCursor
	for i := 0; i < 40; i++ {
		c.consume(at, strings.Repeat("u", 300)+strconv.Itoa(i))
	}
	raw := c.encode()
	if len(raw) > 1024 {
		t.Fatalf("cursor is %d bytes, more than status.activity.cursor holds", len(raw))
	}
	back, err := decodeCursor(raw)
	if err != nil || !back.At.Equal(at) || !back.seen(strings.Repeat("u", 300)+"39") || back.seen(strings.Repeat("u", 300)+"0") {
		t.Errorf("decoded cursor %+v, %v; want the newest uuids kept", back, err)
	}
}
