package testenv

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// The receivers a platform team points notification sinks at, for the
// suites that test notifications: a CloudEvents receiver built from the SDK,
// and an HTTP receiver that accepts only Slack incoming-webhook JSON.

// CloudEventsReceiver keeps every CloudEvent posted to it.
type CloudEventsReceiver struct {
	// URL is where it listens, http:// or (with TLS) https://.
	URL    string
	mu     sync.Mutex
	events []cloudevents.Event
}

// StartCloudEventsReceiver serves on a loopback port until ctx ends, over TLS
// when tlsConfig is set.
func StartCloudEventsReceiver(ctx context.Context, tlsConfig *tls.Config) (*CloudEventsReceiver, error) {
	ln, scheme, err := listen(tlsConfig)
	if err != nil {
		return nil, err
	}
	p, err := cloudevents.NewHTTP(cehttp.WithListener(ln))
	if err != nil {
		return nil, fmt.Errorf("CloudEvents protocol: %w", err)
	}
	c, err := cloudevents.NewClient(p)
	if err != nil {
		return nil, fmt.Errorf("CloudEvents client: %w", err)
	}
	r := &CloudEventsReceiver{URL: scheme + "://" + ln.Addr().String()}
	go func() {
		_ = c.StartReceiver(ctx, func(e cloudevents.Event) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.events = append(r.events, e)
		})
	}()
	return r, nil
}

// Events are the events received so far, in order.
func (r *CloudEventsReceiver) Events() []cloudevents.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cloudevents.Event(nil), r.events...)
}

// ChatReceiver keeps the text of every Slack incoming-webhook post, and
// answers 400 to anything else.
type ChatReceiver struct {
	mu    sync.Mutex
	texts []string
}

// ServeHTTP implements http.Handler.
func (c *ChatReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var msg struct {
		Text string `json:"text"`
	}
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if req.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &msg) != nil || msg.Text == "" {
		http.Error(w, "not incoming-webhook JSON", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.texts = append(c.texts, msg.Text)
}

// Texts are the texts received so far, in order.
func (c *ChatReceiver) Texts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.texts...)
}

// Serve serves the receiver on addr (a loopback host:port, "" for a free
// one), over TLS when tlsConfig is set, and returns its base URL and a stop
// function.
func (c *ChatReceiver) Serve(addr string, tlsConfig *tls.Config) (string, func() error, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("listen for the chat receiver: %w", err)
	}
	scheme := "http"
	if tlsConfig != nil {
		ln, scheme = tls.NewListener(ln, tlsConfig), "https"
	}
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: c}
	go func() { _ = srv.Serve(ln) }()
	return scheme + "://" + ln.Addr().String(), srv.Close, nil
}

func listen(tlsConfig *tls.Config) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("listen for the receiver: %w", err)
	}
	if tlsConfig == nil {
		return ln, "http", nil
	}
	return tls.NewListener(ln, tlsConfig), "https", nil
}
