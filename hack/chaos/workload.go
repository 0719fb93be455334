package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// The lifecycles of the mixed workload.
const (
	scenarioExpire  = "expire"   // approved, granted, left to expire
	scenarioOverlap = "overlap"  // two at once for the same subject and role
	scenarioRevoke  = "revoke"   // revoked early by the requester once Active
	scenarioDelete  = "delete"   // deleted while Active
	scenarioPending = "pending"  // never approved: expires after pendingTimeout
	scenarioBatch   = "failover" // the batch whose expiry a leader failover straddles
	scenarioOutage  = "outage"   // the batch whose expiry a downstream outage straddles
	scenarioReadd   = "readd"    // in an outage batch: given the role by another path while the server is down
	// scenarioAPIServer is the batch that expires while the kube-apiserver is down.
	scenarioAPIServer = "apiserver"
	// scenarioEtcd is the batch that expires while etcd is down.
	scenarioEtcd = "etcd"
	// scenarioHang is the batch that expires while its server hangs;
	// scenarioHangOther the one on the cluster that expires meanwhile.
	scenarioHang      = "hang"
	scenarioHangOther = "hang-cluster"
	// scenarioBacklog is the batch that expires while no replica runs.
	scenarioBacklog = "backlog"
)

// subjects is how many people the workload elevates; overlapping requests
// share one.
const subjects = 10

// tracked is what the driver did to one request, for the checker.
type tracked struct {
	name     string
	subject  string
	scenario string
	// target is where the request elevates: targetKubernetes or a server's kind.
	target string
	// approved: an approval PATCH was admitted (the webhook recorded it).
	approved bool
	// endAsked is when the driver revoked or deleted it early; zero otherwise.
	endAsked time.Time
	deleted  bool
}

// workload creates the lifecycles and remembers them.
type workload struct {
	e   *env
	mu  sync.Mutex
	rng *rand.Rand
	// targets are what the random lifecycles pick from; the kubernetes one
	// twice, so that it keeps about 40% of them.
	targets []string
	seq     int
	all     map[string]*tracked
	wg      sync.WaitGroup
	// approveErrors counts approvals that failed every attempt.
	approveErrors int
	createErrors  int
	firstErrors   []string
}

func newWorkload(e *env, rng *rand.Rand, servers map[string]*downstream) *workload {
	targets := []string{targetKubernetes, targetKubernetes}
	for _, kind := range []string{targetLDAP, targetPostgres, targetSCIM} {
		if servers[kind] != nil {
			targets = append(targets, kind)
		}
	}
	return &workload{e: e, rng: rng, all: map[string]*tracked{}, targets: targets}
}

// connectionFor names the connection and role of a target.
func connectionFor(target string) (conn, roleName string) {
	if target == targetKubernetes {
		return connection, role
	}
	return "chaos-" + target, downstreamRole
}

// intn and duration draw from the shared source under the lock.
func (w *workload) intn(n int) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rng.IntN(n)
}

func (w *workload) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(w.intn(int(hi-lo)/int(time.Millisecond)+1))*time.Millisecond
}

// snapshot copies the tracked requests.
func (w *workload) snapshot() map[string]tracked {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]tracked, len(w.all))
	for k, v := range w.all {
		out[k] = *v
	}
	return out
}

func (w *workload) update(name string, f func(*tracked)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(w.all[name])
}

func (w *workload) noteError(counter *int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	*counter++
	if len(w.firstErrors) < 8 {
		w.firstErrors = append(w.firstErrors, err.Error())
	}
}

// run starts a random lifecycle every interval until creating ends; the
// lifecycles themselves run until ctx ends.
func (w *workload) run(ctx, creating context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	scenarios := []string{scenarioExpire, scenarioExpire, scenarioOverlap, scenarioRevoke, scenarioDelete, scenarioPending}
	for {
		select {
		case <-creating.Done():
			return
		case <-tick.C:
		}
		s := scenarios[w.intn(len(scenarios))]
		target := w.targets[w.intn(len(w.targets))]
		subject := fmt.Sprintf("dev-%d", w.intn(subjects))
		w.launch(ctx, s, target, subject, w.between(5*time.Second, 20*time.Second))
		if s == scenarioOverlap {
			w.launch(ctx, s, target, subject, w.between(5*time.Second, 20*time.Second))
		}
	}
}

// launch starts one lifecycle in its own goroutine and returns its name.
func (w *workload) launch(ctx context.Context, scenario, target, subject string, d time.Duration) string {
	w.mu.Lock()
	w.seq++
	name := fmt.Sprintf("c-%05d", w.seq)
	w.all[name] = &tracked{name: name, subject: subject, scenario: scenario, target: target}
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		w.lifecycle(ctx, name, target, subject, scenario, d)
	}()
	return name
}

func (w *workload) lifecycle(ctx context.Context, name, target, subject, scenario string, d time.Duration) {
	conn, roleName := connectionFor(target)
	er := &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: accessv1alpha1.ElevationRequestSpec{
			Subject: subject, Connection: conn, Role: roleName,
			Duration: d.Round(time.Second).String(), Justification: "chaos " + scenario,
		},
	}
	if err := w.e.requester.Create(ctx, er); err != nil {
		w.noteError(&w.createErrors, fmt.Errorf("create %s: %w", name, err))
		return
	}
	if scenario == scenarioPending {
		return
	}
	if !w.waitPhase(ctx, name, accessv1alpha1.PhasePending, time.Minute) || !w.approve(ctx, name) {
		return
	}
	if scenario != scenarioRevoke && scenario != scenarioDelete {
		return
	}
	if !w.waitPhase(ctx, name, accessv1alpha1.PhaseActive, time.Minute) {
		return
	}
	sleep(ctx, w.between(500*time.Millisecond, 3*time.Second))
	w.endEarly(ctx, name, scenario)
}

// approve sets the approve trigger as the approver; the webhook checks the
// approver and records the approval. A failed call is retried: during a kill
// the forwarder may have picked the replica that just died.
func (w *workload) approve(ctx context.Context, name string) bool {
	patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"`+accessv1alpha1.AnnotationApprove+`":"chaos"}}}`))
	var err error
	for range 10 {
		obj := &accessv1alpha1.ElevationRequest{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
		if err = w.e.approver.Patch(ctx, obj, patch); err == nil {
			w.update(name, func(t *tracked) { t.approved = true })
			return true
		}
		sleep(ctx, 500*time.Millisecond)
	}
	w.noteError(&w.approveErrors, fmt.Errorf("approve %s: %w", name, err))
	return false
}

// endEarly revokes (as the requester) or deletes (as the admin) the request.
func (w *workload) endEarly(ctx context.Context, name, scenario string) {
	obj := &accessv1alpha1.ElevationRequest{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	for range 10 {
		asked := time.Now()
		var err error
		if scenario == scenarioDelete {
			err = w.e.admin.Delete(ctx, obj)
		} else {
			patch := client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"`+accessv1alpha1.AnnotationRevoke+`":"chaos: done early"}}}`))
			err = w.e.requester.Patch(ctx, obj, patch)
		}
		if err == nil || apierrors.IsNotFound(err) {
			w.update(name, func(t *tracked) { t.endAsked, t.deleted = asked, scenario == scenarioDelete })
			return
		}
		sleep(ctx, 500*time.Millisecond)
	}
}

// waitPhase polls the request until it is in phase (true), terminal or gone
// once it existed (false), or timeout.
func (w *workload) waitPhase(ctx context.Context, name string, phase accessv1alpha1.Phase, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	existed := false
	for time.Now().Before(deadline) && ctx.Err() == nil {
		er := &accessv1alpha1.ElevationRequest{}
		err := w.e.admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, er)
		existed = existed || err == nil
		switch {
		case apierrors.IsNotFound(err) && existed:
			return false
		case err == nil && er.Status.Phase == phase:
			return true
		case err == nil && er.Status.Phase.IsTerminal():
			return false
		}
		sleep(ctx, 200*time.Millisecond)
	}
	return false
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
