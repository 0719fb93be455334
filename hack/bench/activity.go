package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// With -activity K, every subject really acts while elevated: once its
// binding exists, it creates K ConfigMaps in the namespace through the
// audited apiserver (the bench impersonates it), and the bench times how long
// until the request's status.activity counts them.

// subjectKey carries the user a request is sent as.
type subjectKey struct{}

// impersonating sets Impersonate-User from the request's context, so one
// client acts as every subject.
type impersonating struct{ next http.RoundTripper }

func (i impersonating) RoundTrip(req *http.Request) (*http.Response, error) {
	if user, ok := req.Context().Value(subjectKey{}).(string); ok {
		req = req.Clone(req.Context())
		req.Header.Set("Impersonate-User", user)
	}
	return i.next.RoundTrip(req)
}

// actor makes the subjects act.
type actor struct {
	t      *timeline
	writes int
	client kubernetes.Interface
}

func newActor(adminCfg *rest.Config, t *timeline, writes int) (*actor, error) {
	cfg := rest.CopyConfig(adminCfg)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return impersonating{next: rt} }
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for the subjects: %w", err)
	}
	return &actor{t: t, writes: writes, client: cs}, nil
}

// actAll makes each granted subject act, with workers in parallel, until ctx ends.
func (a *actor) actAll(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case name := <-a.t.granted:
					a.act(ctx, name)
				}
			}
		}()
	}
	wg.Wait()
}

func (a *actor) act(ctx context.Context, name string) {
	subject := a.t.subjectOf(name)
	actx := context.WithValue(ctx, subjectKey{}, subject)
	for j := range a.writes {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-act-%d", name, j), Namespace: namespace}, Data: map[string]string{"by": subject}}
		if _, err := a.client.CoreV1().ConfigMaps(namespace).Create(actx, cm, metav1.CreateOptions{}); err != nil {
			a.t.mark(name, func(r *record) { r.actErr = err.Error() })
			return
		}
	}
	a.t.mark(name, func(r *record) { r.actedAt = time.Now() })
}
