package controller

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// recordPriority queues the look that records a removal made ahead of its
// record (removeAhead) behind the expiries still due, and ahead of grant work.
const recordPriority = 8

// removeAhead removes a per-request entitlement (the kubernetes provider's
// bindings) as soon as its expiry is due, before anything is recorded, and
// leaves the record to a look queued right after at recordPriority: the move
// to Revoking, the fresh read that verifies the removal, the status write and
// the Events, about six API calls against the removal's one. When hundreds of
// expiries fall due together, their removals then all come first, and access
// ends at the rate the API server deletes rather than at the rate it takes
// whole revocations. Nothing is recorded as verified here: until the record's
// look reads the target fresh, the request stays Active. A shared
// entitlement (one membership for every request of the subject) takes the
// whole path at once, since whether another request still holds it is decided
// with the record; so do requests with several targets.
func (r *ElevationRequestReconciler) removeAhead(ctx context.Context, er *accessv1alpha1.ElevationRequest) (ctrl.Result, bool) {
	grant := er.Status.Grant
	if er.Spec.IsMultiTarget() || grant == nil || grant.Preexisting || r.ahead.has(er) {
		return ctrl.Result{}, false
	}
	conn, err := r.connection(ctx, er)
	if err != nil || conn == nil {
		return ctrl.Result{}, false
	}
	if reg, err := r.Providers.Lookup(conn); err != nil || reg.Shared {
		return ctrl.Result{}, false
	}
	target, _, err := r.connect(ctx, conn)
	if err != nil {
		return ctrl.Result{}, false
	}
	defer closeQuietly(target)
	ent := entitlement(er, grant.Role)
	ent.Target = grantedTarget(er)
	started := r.Clock.Now()
	if err := target.Revoke(ctx, ent); err != nil {
		// The record's path, which runs now, tries again and records the failure.
		return ctrl.Result{}, false
	}
	r.ahead.mark(er, started)
	return ctrl.Result{RequeueAfter: time.Nanosecond, Priority: ptr.To(recordPriority)}, true
}

// removalsAhead remembers, in memory only, the requests whose entitlement
// removeAhead removed, and when, so that the look that records the
// revocation verifies the removal instead of making it again, and records
// when it really started. After a restart or a leader change the record's
// look removes again and finds nothing to remove.
type removalsAhead struct {
	mu   sync.Mutex
	done map[types.NamespacedName]removal
}

// removal is one removal made ahead: of which request (its UID, as a
// same-named request made later is another), and when it started.
type removal struct {
	uid types.UID
	at  time.Time
}

func newRemovalsAhead() *removalsAhead {
	return &removalsAhead{done: map[types.NamespacedName]removal{}}
}

func (m *removalsAhead) mark(er *accessv1alpha1.ElevationRequest, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.done[types.NamespacedName{Namespace: er.Namespace, Name: er.Name}] = removal{uid: er.UID, at: at}
}

// lookup returns the request's removal made ahead, if there is one.
func (m *removalsAhead) lookup(er *accessv1alpha1.ElevationRequest) (removal, bool) {
	if m == nil {
		return removal{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	got, ok := m.done[types.NamespacedName{Namespace: er.Namespace, Name: er.Name}]
	return got, ok && got.uid == er.UID
}

func (m *removalsAhead) has(er *accessv1alpha1.ElevationRequest) bool {
	_, ok := m.lookup(er)
	return ok
}

// startedAt is when the request's revocation started: when its removal made
// ahead started, or else now.
func (m *removalsAhead) startedAt(er *accessv1alpha1.ElevationRequest, now time.Time) time.Time {
	if got, ok := m.lookup(er); ok {
		return got.at
	}
	return now
}

// take reports whether the request's entitlement was removed ahead, and
// forgets it: a removal is skipped once, and a verification that then finds
// the entitlement present makes the next attempt remove it again.
func (m *removalsAhead) take(er *accessv1alpha1.ElevationRequest) bool {
	if m == nil {
		return false
	}
	key := types.NamespacedName{Namespace: er.Namespace, Name: er.Name}
	m.mu.Lock()
	defer m.mu.Unlock()
	got, ok := m.done[key]
	delete(m.done, key)
	return ok && got.uid == er.UID
}

func (m *removalsAhead) forget(key types.NamespacedName) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.done, key)
}
