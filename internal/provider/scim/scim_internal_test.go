package scim

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/scim/scimtest"
)

const testToken = "s3cret-token-value"

// testConnection is a connection with spec; the httptest servers of these
// tests speak plain http, so it sets allowInsecureHTTP for an http URL.
func testConnection(spec accessv1alpha1.SCIMProvider) *accessv1alpha1.SaaSConnection {
	spec.AllowInsecureHTTP = strings.HasPrefix(spec.URL, "http://")
	return &accessv1alpha1.SaaSConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "billing", Namespace: "payments"},
		Spec:       accessv1alpha1.SaaSConnectionSpec{Provider: accessv1alpha1.ProviderSpec{SCIM: &spec}},
	}
}

func tokenSecret(_ context.Context, name string) (map[string][]byte, error) {
	if name != "creds" {
		return nil, errors.New("secret " + name + " not found")
	}
	return map[string][]byte{"token": []byte(testToken + "\n")}, nil
}

// newTestClient builds a client for base whose in-call retries record their
// waits instead of sleeping.
func newTestClient(t *testing.T, base, timeout string) (*Client, *[]time.Duration) {
	t.Helper()
	pc, err := New(context.Background(), provider.Config{
		Connection: testConnection(accessv1alpha1.SCIMProvider{URL: base, CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "creds"}, Timeout: timeout}),
		Secrets:    tokenSecret,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c := pc.(*Client)
	t.Cleanup(func() { _ = c.Close() })
	var waits []time.Duration
	c.retry.sleep = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}
	return c, &waits
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                  `"alice"`,
		`bob" or userName pr "`:  `"bob\" or userName pr \""`,
		`corp\bob`:               `"corp\\bob"`,
		`\"`:                     `"\\\""`,
		`alice) or (userName pr`: `"alice) or (userName pr"`,
		`x' OR '1'='1`:           `"x' OR '1'='1"`,
	} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestNeedsEscape(t *testing.T) {
	for in, want := range map[string]bool{
		"alice@example.com":      false,
		`alice) or (userName pr`: false,
		`x' OR '1'='1`:           false,
		`bob"`:                   true,
		`corp\bob`:               true,
		"tab\there":              true,
	} {
		if got := needsEscape(in); got != want {
			t.Errorf("needsEscape(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-3":                            0,
		"soon":                          0,
		"Fri, 02 Jan 2026 03:04:35 GMT": 30 * time.Second,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

// statusServer answers each request with the next status of the list (the
// last one repeats), with an optional Retry-After. It models overload and
// outage answers only, for classifying them; SCIM semantics are tested
// against the real servers.
func statusServer(t *testing.T, retryAfter string, statuses ...int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		i := int(n.Add(1)) - 1
		status := statuses[min(i, len(statuses)-1)]
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(status)
		if status == http.StatusOK {
			_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]}`))
			return
		}
		_, _ = w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"` + http.StatusText(status) + `","detail":"try later"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// retryCase is one server behaviour and how Health must classify it.
type retryCase struct {
	name       string
	retryAfter string
	statuses   []int
	wantErr    bool
	permanent  bool
	requests   int32
	waits      []time.Duration
	mentions   []string
}

func TestRetryAndClassification(t *testing.T) {
	cases := []retryCase{
		{name: "429 then 200 waits Retry-After", retryAfter: "2", statuses: []int{429, 200}, requests: 2, waits: []time.Duration{2 * time.Second}},
		{name: "503 then 200 backs off", statuses: []int{503, 200}, requests: 2, waits: []time.Duration{250 * time.Millisecond}},
		{name: "503 every time is transient", statuses: []int{503}, wantErr: true, requests: 3,
			waits: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}, mentions: []string{"503 Service Unavailable", "GET /ServiceProviderConfig"}},
		{name: "500 is transient", statuses: []int{500}, wantErr: true, requests: 3,
			waits: []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}, mentions: []string{"500"}},
		{name: "429 with a long Retry-After returns at once, transient", retryAfter: "120", statuses: []int{429}, wantErr: true, requests: 1,
			mentions: []string{"429 Too Many Requests", "retry after 2m0s"}},
		{name: "400 is permanent", statuses: []int{400}, wantErr: true, permanent: true, requests: 1, mentions: []string{"400 Bad Request", "try later"}},
		{name: "404 is permanent", statuses: []int{404}, wantErr: true, permanent: true, requests: 1, mentions: []string{"404"}},
		{name: "401 is permanent", statuses: []int{401}, wantErr: true, permanent: true, requests: 1, mentions: []string{"401", "payments/creds"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := statusServer(t, tc.retryAfter, tc.statuses...)
			c, waits := newTestClient(t, srv.URL, "")
			err := c.Health(context.Background())
			wantClassified(t, err, tc)
			if got := n.Load(); got != tc.requests {
				t.Errorf("server saw %d requests, want %d", got, tc.requests)
			}
			wantWaits(t, *waits, tc.waits)
			wantMentions(t, err, tc.mentions)
		})
	}
}

// wantClassified checks that Health failed exactly when the case expects it,
// and as permanent or transient as the case says.
func wantClassified(t *testing.T, err error, tc retryCase) {
	t.Helper()
	if (err != nil) != tc.wantErr {
		t.Fatalf("Health error = %v, want error %v", err, tc.wantErr)
	}
	if err != nil && provider.IsPermanent(err) != tc.permanent {
		t.Errorf("IsPermanent = %v, want %v (%v)", provider.IsPermanent(err), tc.permanent, err)
	}
}

// wantWaits checks the client's sleeps between attempts, one by one.
func wantWaits(t *testing.T, got, want []time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("waits = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("waits = %v, want %v", got, want)
		}
	}
}

// wantMentions checks that the error names what the operator needs to act on,
// and never the token.
func wantMentions(t *testing.T, err error, mentions []string) {
	t.Helper()
	for _, s := range mentions {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if err != nil && strings.Contains(err.Error(), testToken) {
		t.Errorf("error shows the token: %v", err)
	}
}

// TestRequestTimeout: a server slower than spec.timeout is a transient error.
func TestRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c, _ := newTestClient(t, srv.URL, "100ms")
	start := time.Now()
	err := c.Health(context.Background())
	if err == nil || provider.IsPermanent(err) || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("Health against a stalled server = %v, want a transient deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Health took %s with a 100ms timeout", d)
	}
}

// TestPatchMemberDialects sends the PATCH even when the group is already in
// the wanted state, as happens when two grants race, and checks every real
// server's answer (200 with a duplicate, 204, or 409 and 400 noTarget from the
// strict server) ends as success.
func TestPatchMemberDialects(t *testing.T) {
	starts := map[string]func(t testing.TB, token string) string{
		"elimity":        func(t testing.TB, token string) string { return scimtest.StartElimity(t, token) },
		"elimity-strict": func(t testing.TB, token string) string { return scimtest.StartElimity(t, token, scimtest.Strict()) },
		"scimmy":         scimtest.StartScimmy,
	}
	for name, start := range starts {
		t.Run(name, func(t *testing.T) {
			base := start(t, testToken)
			admin := scimtest.NewAdmin(base, testToken)
			alice := admin.CreateUser(t, "alice")
			g := admin.CreateGroup(t, "billing-admins", alice)
			cl, _ := newTestClient(t, base, "")
			ctx := context.Background()
			c, err := cl.session(ctx)
			if err != nil {
				t.Fatalf("session: %v", err)
			}
			if err := c.patchMember(ctx, g, alice, true); err != nil {
				t.Fatalf("add of a member already there: %v", err)
			}
			if err := c.patchMember(ctx, g, alice, false); err != nil {
				t.Fatalf("remove: %v", err)
			}
			if got := admin.MemberIDs(t, g); len(got) != 0 {
				t.Fatalf("members after remove = %v, want none", got)
			}
			if err := c.patchMember(ctx, g, alice, false); err != nil {
				t.Fatalf("remove of a member already gone: %v", err)
			}
			err = c.patchMember(ctx, "no-such-group", alice, true)
			if err == nil || !provider.IsPermanent(err) || !strings.Contains(err.Error(), "404") {
				t.Fatalf("add to a missing group = %v, want a Permanent 404", err)
			}
		})
	}
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	good := accessv1alpha1.SCIMProvider{URL: "https://scim.example.com/scim/v2/", CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "creds"}}
	cases := []struct {
		name      string
		edit      func(*accessv1alpha1.SCIMProvider)
		permanent bool
		mentions  string
	}{
		{"ftp URL", func(s *accessv1alpha1.SCIMProvider) { s.URL = "ftp://scim.example.com" }, true, "http or https"},
		{"URL with user info", func(s *accessv1alpha1.SCIMProvider) { s.URL = "https://u:pw@scim.example.com" }, true, "user info"},
		{"bad timeout", func(s *accessv1alpha1.SCIMProvider) { s.Timeout = "-1s" }, true, "timeout"},
		{"CA bundle without a certificate", func(s *accessv1alpha1.SCIMProvider) { s.CABundle = "not pem" }, true, "caBundle"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := good
			tc.edit(&spec)
			_, err := New(context.Background(), provider.Config{Connection: testConnection(spec), Secrets: tokenSecret})
			if err == nil {
				t.Fatal("New accepted the configuration")
			}
			if provider.IsPermanent(err) != tc.permanent || !strings.Contains(err.Error(), tc.mentions) {
				t.Errorf("New error = %v (permanent %v), want permanent %v mentioning %q", err, provider.IsPermanent(err), tc.permanent, tc.mentions)
			}
			if strings.Contains(err.Error(), "pw") {
				t.Errorf("error shows the URL's password: %v", err)
			}
		})
	}
	pc, err := New(context.Background(), provider.Config{Connection: testConnection(good), Secrets: tokenSecret})
	if err != nil {
		t.Fatalf("New with a good configuration: %v", err)
	}
	c := pc.(*Client)
	if c.baseURL != "https://scim.example.com/scim/v2" || c.timeout != DefaultTimeout {
		t.Errorf("client = base %q timeout %s, want the URL without its trailing slash and %s", c.baseURL, c.timeout, DefaultTimeout)
	}
	s, err := c.session(context.Background())
	if err != nil || s.token != testToken {
		t.Errorf("session token trimmed of its newline = %v (err %v)", s != nil && s.token == testToken, err)
	}
}

// TestTokenSecret: the token is read from the Secret by every call, so a
// rotated token works at once, and a Secret without one is a clear error.
func TestTokenSecret(t *testing.T) {
	base := scimtest.StartElimity(t, testToken)
	current := map[string][]byte{"token": []byte("old-token")}
	reader := func(_ context.Context, name string) (map[string][]byte, error) {
		switch name {
		case "creds":
			return current, nil
		case "empty":
			return map[string][]byte{"password": []byte("x")}, nil
		}
		return nil, errors.New("secrets \"" + name + "\" not found")
	}
	client := func(secret string) provider.Client {
		c, err := New(context.Background(), provider.Config{
			Connection: testConnection(accessv1alpha1.SCIMProvider{URL: base, CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: secret}}),
			Secrets:    reader,
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	c := client("creds")
	if err := c.Health(context.Background()); err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "old-token") {
		t.Fatalf("Health with the old token = %v, want a 401 that does not show the token", err)
	}
	current = map[string][]byte{"token": []byte(testToken)}
	if err := c.Health(context.Background()); err != nil {
		t.Fatalf("Health after the token was rotated in the Secret: %v", err)
	}
	err := client("empty").Health(context.Background())
	if err == nil || !provider.IsPermanent(err) || !strings.Contains(err.Error(), `payments/empty has no key "token"`) {
		t.Errorf("Health with a Secret without a token = %v, want a Permanent error naming the Secret and key", err)
	}
	err = client("missing").Health(context.Background())
	if err == nil || provider.IsPermanent(err) || !strings.Contains(err.Error(), "payments/missing") {
		t.Errorf("Health with a missing Secret = %v, want a transient error naming the Secret", err)
	}
}

func TestRegistration(t *testing.T) {
	reg := Registration()
	if reg.Kind != Kind || !reg.Shared || reg.New == nil {
		t.Fatalf("Registration() = %+v, want kind scim, shared, with a factory", reg)
	}
}

// TestPick: a subject must resolve to exactly one user; groups keep the exact
// match when several differ only in case.
func TestPick(t *testing.T) {
	alice, bigAlice := resource{ID: "1", UserName: "alice"}, resource{ID: "2", UserName: "ALICE"}
	ops, bigOps := resource{ID: "3", DisplayName: "ops"}, resource{ID: "4", DisplayName: "OPS"}
	tests := []struct {
		name       string
		k          kind
		candidates []resource
		value      string
		wantID     string
		wantErr    string
	}{
		{name: "one user", k: users, candidates: []resource{alice}, value: "alice", wantID: "1"},
		{name: "one user, other case", k: users, candidates: []resource{bigAlice}, value: "alice", wantID: "2"},
		{name: "no user", k: users, candidates: []resource{{ID: "9", UserName: "bob"}}, value: "alice"},
		{name: "users differing in case are ambiguous", k: users, candidates: []resource{alice, bigAlice}, value: "alice", wantErr: `subject "alice" is ambiguous: 2 SCIM users`},
		{name: "a user without id does not count", k: users, candidates: []resource{{UserName: "alice"}}, value: "alice"},
		{name: "groups: the exact match wins", k: groups, candidates: []resource{ops, bigOps}, value: "OPS", wantID: "4"},
		{name: "groups: no exact match among several", k: groups, candidates: []resource{ops, bigOps}, value: "Ops", wantErr: "cannot tell which one is meant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pick(tt.k, tt.candidates, tt.value)
			if tt.wantErr != "" {
				if err == nil || !provider.IsPermanent(err) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("pick error = %v, want a Permanent one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("pick: %v", err)
			}
			gotID := ""
			if got != nil {
				gotID = got.ID
			}
			if gotID != tt.wantID {
				t.Fatalf("pick = %q, want %q", gotID, tt.wantID)
			}
		})
	}
}
