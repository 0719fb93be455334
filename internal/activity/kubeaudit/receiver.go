package kubeaudit

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	eventsReceived = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "elevator_audit_events_received_total",
		Help: "Audit events the kube-apiserver posted to the audit receiver, every stage, before de-duplication.",
	})
	postsRejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "elevator_audit_posts_rejected_total",
		Help: "Posts to the audit receiver it refused, by reason: unauthenticated, method, too_large, malformed, read_error.",
	}, []string{"reason"})
	eventsDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "elevator_audit_events_dropped_total",
		Help: "Completed audit events the receiver did not keep, by reason: evicted (the buffer was full), invalid (no audit ID).",
	}, []string{"reason"})
)

func init() {
	crmetrics.Registry.MustRegister(eventsReceived, postsRejected, eventsDropped)
	// Every reason is served at 0 from the start, so that an alert's
	// increase() sees the first drop or refusal (config/prometheus/rules.yaml).
	for _, reason := range []string{"unauthenticated", "not_leader", "method", "too_large", "malformed", "read_error"} {
		postsRejected.WithLabelValues(reason)
	}
	for _, reason := range []string{"evicted", "invalid"} {
		eventsDropped.WithLabelValues(reason)
	}
}

// ReceiverOptions configure a Receiver.
type ReceiverOptions struct {
	// BindAddress is host:port the receiver serves HTTPS on.
	BindAddress string
	// CertDir holds the serving certificate, tls.crt and tls.key; they are
	// re-read when they change.
	CertDir string
	// TokenFile holds the bearer token the apiserver sends (its webhook
	// kubeconfig's user token). Read once, at NewReceiver.
	TokenFile string
	// ClientCAFile holds the CA certificates a client certificate must chain
	// to (the one in the apiserver's webhook kubeconfig).
	ClientCAFile string
	// MaxBodyBytes bounds one post; DefaultMaxBodyBytes when not positive.
	MaxBodyBytes int64
	// Log receives what the receiver refuses and why, never a body.
	Log logr.Logger
	// Leading, when set, is closed once this replica leads. Until then the
	// receiver answers 503 with Retry-After, which the apiserver's webhook
	// backend retries: only the leader reads the buffer, so a standby that
	// kept a batch would lose it without anyone knowing.
	Leading <-chan struct{}
}

// Receiver is the HTTPS endpoint the kube-apiserver's audit webhook backend
// posts to, and a manager Runnable that serves it. It accepts a post only from
// a client that shows the bearer token or a client certificate of the CA it
// was given (at least one of them is required), and never logs a body: audit
// events hold the objects written.
type Receiver struct {
	store    *Store
	opts     ReceiverOptions
	token    []byte
	clientCA *x509.CertPool
}

// NewReceiver makes a receiver that keeps what it is posted in store.
func NewReceiver(store *Store, opts ReceiverOptions) (*Receiver, error) {
	if opts.TokenFile == "" && opts.ClientCAFile == "" {
		return nil, errors.New("the audit receiver needs a token file or a client CA file: an unauthenticated receiver would accept forged activity")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	r := &Receiver{store: store, opts: opts}
	if opts.TokenFile != "" {
		data, err := os.ReadFile(opts.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("read the audit receiver's token file: %w", err)
		}
		if r.token = []byte(strings.TrimSpace(string(data))); len(r.token) == 0 {
			return nil, fmt.Errorf("the audit receiver's token file %s is empty", opts.TokenFile)
		}
	}
	if opts.ClientCAFile != "" {
		data, err := os.ReadFile(opts.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("read the audit receiver's client CA file: %w", err)
		}
		r.clientCA = x509.NewCertPool()
		if !r.clientCA.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("the audit receiver's client CA file %s holds no PEM certificate", opts.ClientCAFile)
		}
	}
	return r, nil
}

// TLSConfig is the server side of the receiver's TLS, without the serving
// certificate: client certificates are asked for and, when given, verified
// against the client CA.
func (r *Receiver) TLSConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if r.clientCA != nil {
		cfg.ClientCAs = r.clientCA
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg
}

// ServeHTTP takes one posted EventList.
func (r *Receiver) leading() bool {
	if r.opts.Leading == nil {
		return true
	}
	select {
	case <-r.opts.Leading:
		return true
	default:
		return false
	}
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !r.authenticated(req) {
		r.reject(w, "unauthenticated", http.StatusUnauthorized, "a bearer token or a client certificate of the receiver's CA is required")
		return
	}
	if !r.leading() {
		w.Header().Set("Retry-After", "1")
		r.reject(w, "not_leader", http.StatusServiceUnavailable, "this replica does not lead; only the leader keeps audit events")
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.reject(w, "method", http.StatusMethodNotAllowed, "only POST")
		return
	}
	list, err := DecodeEventList(http.MaxBytesReader(w, req.Body, r.opts.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	var malformed *DecodeError
	switch {
	case errors.As(err, &tooLarge):
		r.reject(w, "too_large", http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the body is larger than %d bytes: lower --audit-webhook-truncate-max-batch-size", r.opts.MaxBodyBytes))
		return
	case errors.As(err, &malformed):
		r.reject(w, "malformed", http.StatusBadRequest, malformed.Error())
		return
	case err != nil:
		r.reject(w, "read_error", http.StatusBadRequest, err.Error())
		return
	}
	eventsReceived.Add(float64(len(list.Items)))
	evs := make([]Event, 0, len(list.Items))
	for i := range list.Items {
		ev, ok := FromAudit(&list.Items[i])
		if !ok {
			eventsDropped.WithLabelValues("invalid").Inc()
			continue
		}
		evs = append(evs, ev)
	}
	if _, evicted := r.store.Add(evs); evicted > 0 {
		eventsDropped.WithLabelValues("evicted").Add(float64(evicted))
	}
	w.WriteHeader(http.StatusOK)
}

// authenticated reports whether the client showed a verified certificate of
// the client CA or the bearer token.
func (r *Receiver) authenticated(req *http.Request) bool {
	if r.clientCA != nil && req.TLS != nil && len(req.TLS.VerifiedChains) > 0 {
		return true
	}
	if r.token == nil {
		return false
	}
	got, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), r.token) == 1
}

func (r *Receiver) reject(w http.ResponseWriter, reason string, code int, msg string) {
	postsRejected.WithLabelValues(reason).Inc()
	r.opts.Log.V(1).Info("refused an audit post", "reason", reason, "status", code, "detail", msg)
	http.Error(w, msg, code)
}

// NeedLeaderElection is false: the apiserver posts to every replica the
// Service routes to, and each keeps what it is posted.
func (r *Receiver) NeedLeaderElection() bool { return false }

// Start serves the receiver on BindAddress until ctx ends.
func (r *Receiver) Start(ctx context.Context) error {
	watcher, err := certwatcher.New(filepath.Join(r.opts.CertDir, "tls.crt"), filepath.Join(r.opts.CertDir, "tls.key"))
	if err != nil {
		return fmt.Errorf("load the audit receiver's serving certificate from %s: %w", r.opts.CertDir, err)
	}
	go func() {
		if err := watcher.Start(ctx); err != nil {
			r.opts.Log.Error(err, "watch the audit receiver's serving certificate")
		}
	}()
	cfg := r.TLSConfig()
	cfg.GetCertificate = watcher.GetCertificate
	l, err := net.Listen("tcp", r.opts.BindAddress)
	if err != nil {
		return fmt.Errorf("listen on %s for the audit receiver: %w", r.opts.BindAddress, err)
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tls.NewListener(l, cfg)) }()
	r.opts.Log.Info("serving the audit receiver", "address", l.Addr().String())
	select {
	case err := <-done:
		return fmt.Errorf("serve the audit receiver: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fmt.Errorf("stop the audit receiver: %w", err)
	}
	return nil
}
