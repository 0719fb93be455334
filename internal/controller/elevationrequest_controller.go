// Package controller holds Elevator's reconcilers: the ElevationRequest lifecycle
// (approve → grant → expire → revoke → verify) and the SaaSConnection health
// check. Neither knows any provider: they talk to downstream systems only through
// the provider.Registry.
package controller

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/audit"
	"github.com/elevator-dev/elevator/internal/failpoint"
	"github.com/elevator-dev/elevator/internal/metrics"
	"github.com/elevator-dev/elevator/internal/policy"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/records"
)

// Revocation is the security boundary, so its retries back off only to this
// cap: once a target that was down is back, the access is gone within about
// the cap (hack/chaos measured 24 s after a 30 s outage with a 30 s cap). The
// price is one attempt per failing request every retryMaxDelay while down.
const (
	retryBaseDelay = 200 * time.Millisecond
	retryMaxDelay  = 5 * time.Second
)

// retryLimiter is the queue's backoff for a reconcile that failed.
func retryLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](retryBaseDelay, retryMaxDelay)
}

// ElevationRequestReconciler drives an ElevationRequest through its lifecycle.
type ElevationRequestReconciler struct {
	Client client.Client
	// APIReader reads from the API server, bypassing the cache: the request is
	// re-read before anything is granted, so a stale cache can never re-grant.
	APIReader   client.Reader
	Providers   *provider.Registry
	Recorder    events.EventRecorder
	Clock       clock.PassiveClock
	Audit       audit.Logger
	Metrics     *metrics.Tracker
	MaxDuration time.Duration
	// ExpiryLead is how long before expiresAt an expiring request's
	// revocation starts (--expiry-lead; see expiryLead).
	ExpiryLead time.Duration
	// ExpiryRate is the revocations per second counted on when requests share
	// an expiry (--expiry-rate; see expiryCalendar); 0 turns spreading off.
	ExpiryRate float64
	// GrantableClusterRoles are the only ClusterRoles a grant may bind,
	// re-checked before every grant in case a webhook was bypassed.
	GrantableClusterRoles policy.GrantableClusterRoles
	// MaxConcurrentReconciles is the number of workers; 0 means the default.
	MaxConcurrentReconciles int
	// Records verifies the records in annotations; only signed ones are acted on.
	Records *records.Signer

	held     heldOutput
	expiries *expiryCalendar
	ahead    *removalsAhead
	behind   *cacheBehind
}

// +kubebuilder:rbac:groups=access.elevator.dev,resources=elevationrequests,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=access.elevator.dev,resources=elevationrequests/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=access.elevator.dev,resources=elevationrequests/finalizers,verbs=update
// +kubebuilder:rbac:groups=access.elevator.dev,resources=saasconnections,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch

// Reconcile fetches the request, keeps its finalizer, runs one step of the
// lifecycle and writes the status back.
func (r *ElevationRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	er, err := r.read(ctx, req.NamespacedName)
	if err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.Forget(req.NamespacedName)
			r.expiries.forget(req.NamespacedName)
			r.ahead.forget(req.NamespacedName)
			r.behind.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if er.DeletionTimestamp.IsZero() && !er.Status.Phase.IsTerminal() && !controllerutil.ContainsFinalizer(er, accessv1alpha1.Finalizer) {
		// The mutating webhook adds the finalizer on create; this covers an
		// operator run without webhooks.
		if err := r.addFinalizer(ctx, er); err != nil {
			return conflictRetry(err)
		}
	}

	before := er.DeepCopy()
	r.syncRecords(ctx, er)
	now := r.Clock.Now()
	result, stepErr := r.step(ctx, er, now)

	prepareStatusWrite(er)
	if !equality.Semantic.DeepEqual(before.Status, er.Status) {
		if err := r.Client.Status().Patch(ctx, er, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			r.held.flush(r.Recorder, er, false)
			return conflictRetry(fmt.Errorf("patch status of %s: %w", req.NamespacedName, err))
		}
	}
	r.held.flush(r.Recorder, er, true)
	r.Metrics.Observe(req.NamespacedName, er.Status.Phase, isOverdue(er, r.Clock.Now()))
	if er.Status.Phase != accessv1alpha1.PhaseActive {
		r.expiries.forget(req.NamespacedName)
		r.ahead.forget(req.NamespacedName)
	}
	result.RequeueAfter = sinceStep(result.RequeueAfter, r.Clock.Since(now))
	result = r.nextLook(ctx, er, result, stepErr)
	result = r.reviewLook(er, result, r.Clock.Now())

	if !er.DeletionTimestamp.IsZero() && !holdsAccess(er) && stepErr == nil {
		failpoint.Reach(failpoint.BeforeFinalizerRemoval)
		return conflictRetry(r.removeFinalizer(ctx, er))
	}
	return result, stepErr
}

// nextLook makes sure the request's next reconcile is scheduled, and reports a
// step that forgot to schedule it (ensureNextLook).
func (r *ElevationRequestReconciler) nextLook(ctx context.Context, er *accessv1alpha1.ElevationRequest, result ctrl.Result, stepErr error) ctrl.Result {
	next, missed := ensureNextLook(er.Status.Phase, result, stepErr)
	if missed {
		metrics.MissedNextLook(string(er.Status.Phase))
		ctrl.LoggerFrom(ctx).Error(nil, "a lifecycle step scheduled no next look; looking again after the safety delay", "phase", er.Status.Phase, "after", next.RequeueAfter)
	}
	return next
}

// prepareStatusWrite derives the conditions from the status facts and marks
// the generation they were written for: the one thing every status write does
// first, so that no write stores conditions that disagree with the facts.
func prepareStatusWrite(er *accessv1alpha1.ElevationRequest) {
	setConditions(er)
	er.Status.ObservedGeneration = er.Generation
}

func (r *ElevationRequestReconciler) addFinalizer(ctx context.Context, er *accessv1alpha1.ElevationRequest) error {
	patch := client.MergeFromWithOptions(er.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(er, accessv1alpha1.Finalizer)
	if err := r.Client.Patch(ctx, er, patch); err != nil {
		return fmt.Errorf("add finalizer to %s/%s: %w", er.Namespace, er.Name, err)
	}
	return nil
}

// conflictRetry turns a write conflict into a quick retry: the cache was behind
// the API server, and the newer version may have been a status write of our own,
// whose event does not wake the request (see requestEvents).
func conflictRetry(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: retryBaseDelay}, nil
	}
	return ctrl.Result{}, err
}

func (r *ElevationRequestReconciler) removeFinalizer(ctx context.Context, er *accessv1alpha1.ElevationRequest) error {
	if !controllerutil.ContainsFinalizer(er, accessv1alpha1.Finalizer) {
		return nil
	}
	patch := client.MergeFromWithOptions(er.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(er, accessv1alpha1.Finalizer)
	if err := r.Client.Patch(ctx, er, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove finalizer from %s/%s: %w", er.Namespace, er.Name, err)
	}
	return nil
}

// SetupWithManager registers the controller, the index it finds overlapping
// requests with, and the watch that wakes a request whose revocation waits for
// another request holding the same entitlement.
func (r *ElevationRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.expiries = newExpiryCalendar(r.ExpiryRate)
	r.ahead = newRemovalsAhead()
	r.behind = newCacheBehind()
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &accessv1alpha1.ElevationRequest{}, entitlementIndex,
		func(obj client.Object) []string {
			return entitlementKeys(obj.(*accessv1alpha1.ElevationRequest))
		}); err != nil {
		return fmt.Errorf("index ElevationRequests by entitlement: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Watches(&accessv1alpha1.ElevationRequest{}, requestEvents(r.Clock)).
		Watches(&accessv1alpha1.ElevationRequest{}, handler.EnqueueRequestsFromMapFunc(r.waitingOnSameEntitlement)).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: r.MaxConcurrentReconciles,
			RateLimiter:             retryLimiter(),
		}).
		Named("elevationrequest").
		Complete(r)
}

// waitingOnSameEntitlement maps a change of one request to the other requests for
// the same entitlement whose revocation waits on it.
func (r *ElevationRequestReconciler) waitingOnSameEntitlement(ctx context.Context, obj client.Object) []reconcile.Request {
	er, ok := obj.(*accessv1alpha1.ElevationRequest)
	if !ok || er.Status.Phase == accessv1alpha1.PhasePending {
		return nil
	}
	var out []reconcile.Request
	for _, key := range entitlementKeys(er) {
		var list accessv1alpha1.ElevationRequestList
		if err := r.Client.List(ctx, &list, client.InNamespace(er.Namespace), client.MatchingFields{entitlementIndex: key}); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "list requests for the same entitlement")
			return nil
		}
		for i := range list.Items {
			other := &list.Items[i]
			if other.Name != er.Name && other.Status.Phase == accessv1alpha1.PhaseRevoking {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: other.Namespace, Name: other.Name}})
			}
		}
	}
	return out
}
