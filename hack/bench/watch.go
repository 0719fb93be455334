package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// record is what the bench saw of one request. Times are the bench's clock when
// it made a call or an informer delivered an event; expiresAt and verifiedAt
// are the operator's, from status (which stores them to the second). With
// -targets K, bindingSeen is when the last of the request's K bindings
// appeared (the subject has every target's access) and bindingGone when the
// last was deleted (it has none left).
type record struct {
	created     time.Time
	approveSent time.Time
	approveDone time.Time
	bindingSeen time.Time
	bindingGone time.Time
	// bindingsAdded and bindingsDeleted count the request's binding events.
	bindingsAdded, bindingsDeleted int
	activeSeen                     time.Time
	revokedSeen                    time.Time
	expiresAt                      time.Time
	verifiedAt                     time.Time
	phase                          accessv1alpha1.Phase
	pendingQueued                  bool
	// subject is spec.subject; actedAt is when the subject's -activity
	// writes were done (actErr why they were not), and activitySeen when a
	// watch first saw status.activity count them all.
	subject      string
	actedAt      time.Time
	actErr       string
	activitySeen time.Time
}

// timeline collects the records of a run and the concurrency peaks.
type timeline struct {
	mu           sync.Mutex
	records      map[string]*record
	active       int
	peakActive   int
	bindings     int
	peakBindings int
	terminal     int
	// pending receives each request's name once, when it is first seen Pending.
	pending chan string
	// granted receives each request's name once, when its binding is first
	// seen, with -activity.
	granted chan string
	// writes is -activity: how many actions status.activity must count.
	writes int64
	// targets is -targets: how many bindings make one request's access.
	targets int
}

func newTimeline(n, writes, targets int) *timeline {
	t := &timeline{records: make(map[string]*record, n), pending: make(chan string, n), writes: int64(writes), targets: targets}
	if writes > 0 {
		t.granted = make(chan string, n)
	}
	return t
}

// subjectOf is the request's spec.subject as a watch saw it.
func (t *timeline) subjectOf(name string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.get(name).subject
}

func (t *timeline) get(name string) *record {
	r, ok := t.records[name]
	if !ok {
		r = &record{}
		t.records[name] = r
	}
	return r
}

// mark sets one time of a request under the lock.
func (t *timeline) mark(name string, set func(*record)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	set(t.get(name))
}

func (t *timeline) onRequest(obj any) {
	er, ok := obj.(*accessv1alpha1.ElevationRequest)
	if !ok {
		return
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.get(er.Name)
	r.subject = er.Spec.Subject
	st := er.Status
	if t.writes > 0 && activityTotal(&st) >= t.writes && r.activitySeen.IsZero() {
		r.activitySeen = now
	}
	if st.ExpiresAt != nil {
		r.expiresAt = st.ExpiresAt.Time
	}
	if st.Revocation != nil && st.Revocation.VerifiedAt != nil {
		r.verifiedAt = st.Revocation.VerifiedAt.Time
	}
	if st.Phase == r.phase {
		return
	}
	if r.phase == accessv1alpha1.PhaseActive {
		t.active--
	}
	switch st.Phase {
	case accessv1alpha1.PhasePending:
		if !r.pendingQueued {
			r.pendingQueued = true
			t.pending <- er.Name
		}
	case accessv1alpha1.PhaseActive:
		r.activeSeen = now
		t.active++
		t.peakActive = max(t.peakActive, t.active)
	case accessv1alpha1.PhaseRevoked:
		r.revokedSeen = now
	}
	if st.Phase.IsTerminal() && !r.phase.IsTerminal() {
		t.terminal++
	}
	r.phase = st.Phase
}

func (t *timeline) onBinding(obj any, added bool) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	rb, ok := obj.(*rbacv1.RoleBinding)
	if !ok {
		return
	}
	name := rb.Labels[accessv1alpha1.LabelRequestName]
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.get(name)
	if added {
		r.bindingsAdded++
		if r.bindingsAdded == t.targets {
			r.bindingSeen = now
			if t.granted != nil {
				t.granted <- name
			}
		}
		t.bindings++
		t.peakBindings = max(t.peakBindings, t.bindings)
		return
	}
	r.bindingsDeleted++
	if r.bindingsDeleted == t.targets {
		r.bindingGone = now
	}
	t.bindings--
}

// progress is how many requests are terminal and how many bindings exist.
func (t *timeline) progress() (terminal, bindings, active int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.terminal, t.bindings, t.active
}

// watch starts informers on the run's ElevationRequests and on the RoleBindings
// the operator labels in every target namespace, feeding the timeline, and
// waits for their first sync.
func watch(ctx context.Context, e *env, t *timeline) error {
	selector, err := labels.Parse(accessv1alpha1.LabelRequestName)
	if err != nil {
		return fmt.Errorf("label selector: %w", err)
	}
	namespaces := map[string]cache.Config{}
	for _, ns := range targetNamespaces(e.targets) {
		namespaces[ns] = cache.Config{}
	}
	c, err := cache.New(e.adminCfg, cache.Options{
		Scheme:            scheme,
		DefaultNamespaces: namespaces,
		ByObject:          map[client.Object]cache.ByObject{&rbacv1.RoleBinding{}: {Label: selector}},
	})
	if err != nil {
		return fmt.Errorf("informer cache: %w", err)
	}
	requests, err := c.GetInformer(ctx, &accessv1alpha1.ElevationRequest{})
	if err != nil {
		return fmt.Errorf("ElevationRequest informer: %w", err)
	}
	if _, err := requests.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { t.onRequest(obj) },
		UpdateFunc: func(_, obj any) { t.onRequest(obj) },
	}); err != nil {
		return fmt.Errorf("ElevationRequest handler: %w", err)
	}
	bindings, err := c.GetInformer(ctx, &rbacv1.RoleBinding{})
	if err != nil {
		return fmt.Errorf("RoleBinding informer: %w", err)
	}
	if _, err := bindings.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { t.onBinding(obj, true) },
		DeleteFunc: func(obj any) { t.onBinding(obj, false) },
	}); err != nil {
		return fmt.Errorf("RoleBinding handler: %w", err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return fmt.Errorf("informers did not sync")
	}
	return nil
}

// lastExpiry is the latest expiresAt of any request.
func (t *timeline) lastExpiry() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var last time.Time
	for _, r := range t.records {
		if r.expiresAt.After(last) {
			last = r.expiresAt
		}
	}
	return last
}
