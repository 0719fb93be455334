package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// The notification sinks -sink chooses between: none, one that answers after
// 5 s, and one that never answers (the operator's send timeout ends each
// attempt). Both show whether a slow sink reaches the lifecycle's latencies.
const (
	sinkNone = "none"
	sinkSlow = "slow"
	sinkDead = "dead"
)

const (
	sinkSecret    = "bench-sink"
	slowSinkDelay = 5 * time.Second
)

// benchSink is an HTTP receiver of Slack-compatible notifications that
// answers slowly or never.
type benchSink struct {
	mode     string
	url      string
	received atomic.Int64
	srv      *http.Server
}

func startSink(ctx context.Context, mode string) (*benchSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the notification sink: %w", err)
	}
	s := &benchSink{mode: mode, url: "http://" + ln.Addr().String() + "/hooks/bench"}
	s.srv = &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(s.serve)}
	go func() { _ = s.srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = s.srv.Close() })
	return s, nil
}

func (s *benchSink) serve(w http.ResponseWriter, req *http.Request) {
	s.received.Add(1)
	wait := slowSinkDelay
	if s.mode == sinkDead {
		wait = time.Hour
	}
	select {
	case <-time.After(wait):
		w.WriteHeader(http.StatusOK)
	case <-req.Context().Done():
	}
}

func (s *benchSink) close() error { return s.srv.Close() }

// sinkSecretObject is the labelled Secret holding the sink's URL.
func sinkSecretObject(url string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: sinkSecret, Namespace: namespace, Labels: map[string]string{accessv1alpha1.LabelCredentials: "true"}},
		StringData: map[string]string{"url": url},
	}
}

// sinkSpec is the connection's notification sink.
func sinkSpec() []accessv1alpha1.NotificationSink {
	return []accessv1alpha1.NotificationSink{{Name: "bench", Type: accessv1alpha1.SinkSlack, SecretRef: accessv1alpha1.LocalSecretReference{Name: sinkSecret}}}
}
