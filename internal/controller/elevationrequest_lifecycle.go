package controller

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// The lifecycle, one file per step:
//
//	""        → start                      elevationrequest_pending.go
//	Pending   → reconcilePending → approve elevationrequest_pending.go
//	Approved  → reconcileApproved → grant  elevationrequest_grant.go
//	Active    → reconcileActive            elevationrequest_grant.go
//	Revoking  → reconcileRevoking          elevationrequest_revoke.go
//
// Each step changes the status facts only; the conditions are derived from
// them before every write (elevationrequest_conditions.go).

// expiryPriority puts a request whose access ends ahead of grant work in the
// queue: revocation is the security boundary, and under load it must not wait
// behind new grants.
const expiryPriority = 10

// pollWhileBlocked is how often a request re-checks something it waits on that
// sends no event (a connection that does not exist yet).
const pollWhileBlocked = 30 * time.Second

// step runs one step of the lifecycle for the request's phase. It changes
// er.Status in memory; Reconcile writes it. What blocked the request at its
// last look is cleared first: the step sets it again if it still does.
func (r *ElevationRequestReconciler) step(ctx context.Context, er *accessv1alpha1.ElevationRequest, now time.Time) (ctrl.Result, error) {
	er.Status.Blocked = nil
	initTargets(er)
	if er.Spec.IsMultiTarget() {
		return r.stepTargets(ctx, er, now)
	}
	switch er.Status.Phase {
	case "":
		// A new request goes straight on to its Pending step in the same
		// reconcile: that step grants an auto-approved role at once and
		// schedules the pending timeout, and the status write that records
		// Pending wakes nobody (requestEvents).
		r.start(er)
		return r.reconcilePending(ctx, er, now)
	case accessv1alpha1.PhasePending:
		return r.reconcilePending(ctx, er, now)
	case accessv1alpha1.PhaseApproved:
		return r.reconcileApproved(ctx, er, now)
	case accessv1alpha1.PhaseActive:
		return r.reconcileActive(ctx, er, now)
	case accessv1alpha1.PhaseRevoking:
		return r.reconcileRevoking(ctx, er, now)
	}
	return ctrl.Result{}, nil
}

// block records what keeps the request from moving on at this look.
func block(er *accessv1alpha1.ElevationRequest, reason, msg string) {
	er.Status.Blocked = &accessv1alpha1.Blocker{Reason: reason, Message: msg}
}

func timePtr(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}
