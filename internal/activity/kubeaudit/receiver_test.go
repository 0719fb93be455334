package kubeaudit

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/elevator-dev/elevator/internal/testenv"
)

const testToken = "s3cr3t-token-for-the-test"

// receiverServer runs a receiver with both a token and a client CA over TLS,
// and returns it with its CA (for client certificates) and the server's CA pool.
func receiverServer(t *testing.T, store *Store) (*httptest.Server, *testenv.CA) {
	t.Helper()
	return receiverServerLeading(t, store, nil)
}

// receiverServerLeading is receiverServer with ReceiverOptions.Leading.
func receiverServerLeading(t *testing.T, store *Store, leading <-chan struct{}) (*httptest.Server, *testenv.CA) {
	t.Helper()
	dir := t.TempDir()
	clientCA, err := testenv.NewCA("apiserver client CA")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "token"), []byte(testToken+"\n"))
	write(t, filepath.Join(dir, "client-ca.crt"), clientCA.CertPEM)
	r, err := NewReceiver(store, ReceiverOptions{TokenFile: filepath.Join(dir, "token"), ClientCAFile: filepath.Join(dir, "client-ca.crt"), MaxBodyBytes: 64 << 10, Leading: leading})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(r)
	srv.TLS = r.TLSConfig()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, clientCA
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// clientWith trusts the test server and shows the certificate, if any.
func clientWith(srv *httptest.Server, cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

func clientCert(t *testing.T, ca *testenv.CA) *tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := ca.IssueClient("kube-apiserver")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &cert
}

func post(t *testing.T, c *http.Client, url, token, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestReceiverAuthenticatesTheAPIServer(t *testing.T) {
	store, _ := newTestStore(100)
	srv, clientCA := receiverServer(t, store)
	otherCA, err := testenv.NewCA("some other CA")
	if err != nil {
		t.Fatal(err)
	}
	plain := clientWith(srv, nil)
	for _, tc := range []struct {
		name   string
		client *http.Client
		token  string
		want   int
	}{
		{"no credentials", plain, "", http.StatusUnauthorized},
		{"a wrong token", plain, "not-the-token", http.StatusUnauthorized},
		{"a prefix of the token", plain, testToken[:5], http.StatusUnauthorized},
		{"a certificate of another CA", clientWith(srv, clientCert(t, otherCA)), "", http.StatusUnauthorized},
		{"the token", plain, testToken, http.StatusOK},
		{"a certificate of the client CA", clientWith(srv, clientCert(t, clientCA)), "", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := store.Len()
			if got := post(t, tc.client, srv.URL, tc.token, validList); got != tc.want {
				t.Fatalf("status %d, want %d", got, tc.want)
			}
			if tc.want != http.StatusOK && store.Len() != before {
				t.Errorf("a refused post was stored")
			}
		})
	}
	// The two accepted posts carried the same three events: kept once.
	if store.Len() != 3 {
		t.Errorf("the store holds %d events, want 3", store.Len())
	}
}

func TestReceiverRefusesWhatIsNotAnEventList(t *testing.T) {
	store, _ := newTestStore(100)
	srv, _ := receiverServer(t, store)
	c := clientWith(srv, nil)
	tooLarge := testutil.ToFloat64(postsRejected.WithLabelValues("too_large"))
	big := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Repeat(`{"auditID":"x"},`, 10000) + `{}]}`
	if got := post(t, c, srv.URL, testToken, big); got != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over the limit: status %d, want 413", got)
	}
	if testutil.ToFloat64(postsRejected.WithLabelValues("too_large")) != tooLarge+1 {
		t.Error("the too-large post was not counted")
	}
	for _, body := range []string{`{"kind":`, `{"kind":"EventList","apiVersion":"audit.k8s.io/v1beta1","items":[]}`} {
		if got := post(t, c, srv.URL, testToken, body); got != http.StatusBadRequest {
			t.Errorf("post %q: status %d, want 400", body, got)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", resp.StatusCode)
	}
	if store.Len() != 0 {
		t.Errorf("refused posts stored %d events", store.Len())
	}
}

func TestReceiverCountsEventsWithoutAnAuditIDAsDropped(t *testing.T) {
	store, _ := newTestStore(100)
	srv, _ := receiverServer(t, store)
	invalid := testutil.ToFloat64(eventsDropped.WithLabelValues("invalid"))
	body := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"stage":"ResponseComplete","verb":"create","user":{"username":"alice"}}]}`
	if got := post(t, clientWith(srv, nil), srv.URL, testToken, body); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	if testutil.ToFloat64(eventsDropped.WithLabelValues("invalid")) != invalid+1 || store.Len() != 0 {
		t.Error("an event without an audit ID was not counted as dropped, or was stored")
	}
}

func TestNewReceiverRefusesToRunUnauthenticated(t *testing.T) {
	store, _ := newTestStore(1)
	if _, err := NewReceiver(store, ReceiverOptions{}); err == nil {
		t.Error("a receiver without a token or a client CA was made")
	}
	empty := filepath.Join(t.TempDir(), "token")
	write(t, empty, []byte("\n"))
	if _, err := NewReceiver(store, ReceiverOptions{TokenFile: empty}); err == nil {
		t.Error("a receiver with an empty token was made: any empty bearer would pass")
	}
	notPEM := filepath.Join(t.TempDir(), "ca.crt")
	write(t, notPEM, bytes.Repeat([]byte("x"), 10))
	if _, err := NewReceiver(store, ReceiverOptions{ClientCAFile: notPEM}); err == nil {
		t.Error("a receiver with a client CA file without certificates was made")
	}
}

func TestReceiverKeepsNothingUntilItsReplicaLeads(t *testing.T) {
	store, _ := newTestStore(100)
	leading := make(chan struct{})
	srv, _ := receiverServerLeading(t, store, leading)
	body := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"a1","stage":"ResponseComplete","verb":"create","user":{"username":"alice"},"requestReceivedTimestamp":"2026-12-02T10:00:00.000000Z","stageTimestamp":"2026-12-02T10:00:00.100000Z"}]}`
	if got := post(t, clientWith(srv, nil), srv.URL, testToken, body); got != http.StatusServiceUnavailable {
		t.Fatalf("a standby answered %d, want 503 so that the apiserver retries", got)
	}
	if got := post(t, clientWith(srv, nil), srv.URL, "wrong", body); got != http.StatusUnauthorized {
		t.Errorf("a standby answered an unauthenticated post with %d, want 401 first", got)
	}
	if store.Len() != 0 {
		t.Fatal("a standby kept events the leader will never read")
	}
	close(leading)
	if got := post(t, clientWith(srv, nil), srv.URL, testToken, body); got != http.StatusOK {
		t.Fatalf("the leader answered %d", got)
	}
	if store.Len() != 1 {
		t.Errorf("the leader kept %d events, want 1", store.Len())
	}
}
