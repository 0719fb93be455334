package controller

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// subjectIndex finds the requests of one subject, for a push source's wakeup.
const subjectIndex = "elevator.dev/subject"

// activityWorkers is the activity controller's worker count: reading audit
// logs is I/O bound, and has its own queue so it never waits behind, or holds
// up, the lifecycle.
const activityWorkers = 4

// SetupWithManager registers the activity controller: it looks at a request
// when its window opens or closes, on its own schedule while it collects, and
// when a push source names the request's subject.
func (r *ActivityReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &accessv1alpha1.ElevationRequest{}, subjectIndex,
		func(obj client.Object) []string { return []string{obj.(*accessv1alpha1.ElevationRequest).Spec.Subject} }); err != nil {
		return fmt.Errorf("index ElevationRequests by subject: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("activity").
		Watches(&accessv1alpha1.ElevationRequest{}, activityEvents()).
		WithOptions(controller.Options{MaxConcurrentReconciles: activityWorkers})
	if r.Wakeups != nil {
		wakeups := make(chan event.GenericEvent, 1024)
		if err := mgr.Add(wakeupRelay{from: r.Wakeups, to: wakeups}); err != nil {
			return fmt.Errorf("add the activity wakeup relay: %w", err)
		}
		b = b.WatchesRawSource(source.Channel(wakeups, handler.EnqueueRequestsFromMapFunc(r.requestsOfSubject)))
	}
	return b.Complete(r)
}

// activityEvents wakes a request when its window opens or closes, when it is
// deleted, and on the periodic resync; not on the status writes of its own.
func activityEvents() handler.EventHandler {
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q requestQueue) {
			if er, ok := e.Object.(*accessv1alpha1.ElevationRequest); ok && collectsActivity(er) {
				enqueue(q, er, nil)
			}
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q requestQueue) {
			old, okOld := e.ObjectOld.(*accessv1alpha1.ElevationRequest)
			cur, okCur := e.ObjectNew.(*accessv1alpha1.ElevationRequest)
			if okOld && okCur && collectsActivity(cur) && windowChanged(old, cur) {
				enqueue(q, cur, nil)
			}
		},
	}
}

// windowChanged reports an update that matters to the collection: the grant,
// the revocation, a residual path to link, a deletion, or a resync.
func windowChanged(old, cur *accessv1alpha1.ElevationRequest) bool {
	return old.ResourceVersion == cur.ResourceVersion ||
		old.Status.Phase != cur.Status.Phase ||
		!old.Status.GrantedAt.Equal(cur.Status.GrantedAt) ||
		!old.Status.RevokedAt.Same(cur.Status.RevokedAt) ||
		len(old.Status.ResidualAccess) != len(cur.Status.ResidualAccess) ||
		(old.DeletionTimestamp == nil) != (cur.DeletionTimestamp == nil)
}

// requestsOfSubject maps a wakeup, whose object's name is a subject, to that
// subject's requests that still collect.
func (r *ActivityReconciler) requestsOfSubject(ctx context.Context, obj client.Object) []reconcile.Request {
	var list accessv1alpha1.ElevationRequestList
	if err := r.Client.List(ctx, &list, client.MatchingFields{subjectIndex: obj.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list requests of a subject with new activity")
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if er := &list.Items[i]; collectsActivity(er) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: er.Namespace, Name: er.Name}})
		}
	}
	return out
}

// wakeupRelay turns subject names from a push source into generic events for
// the controller's channel source, dropping repeats while one is queued: a
// subject making a thousand writes a second wakes its requests, not the queue
// a thousand times.
type wakeupRelay struct {
	from <-chan string
	to   chan event.GenericEvent
}

// NeedLeaderElection is true: only the leader's controllers collect.
func (w wakeupRelay) NeedLeaderElection() bool { return true }

// Start relays until ctx ends.
func (w wakeupRelay) Start(ctx context.Context) error {
	queued := sets.New[string]()
	var pending []string
	for {
		var out chan event.GenericEvent
		var next event.GenericEvent
		if len(pending) > 0 {
			out = w.to
			next = event.GenericEvent{Object: &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: pending[0]}}}
		}
		select {
		case <-ctx.Done():
			return nil
		case subject := <-w.from:
			if !queued.Has(subject) {
				queued.Insert(subject)
				pending = append(pending, subject)
			}
		case out <- next:
			queued.Delete(pending[0])
			pending = pending[1:]
		}
	}
}
