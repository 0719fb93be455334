package controller

import (
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// What a request may hold in the target, read from its status: these decide
// whether it may go, whose revocation waits on it, and what is overdue.

// holdsAccess reports whether the request may have access in the target, so
// that it must be revoked before it may go.
func holdsAccess(er *accessv1alpha1.ElevationRequest) bool {
	if er.Spec.IsMultiTarget() && er.Status.Phase == accessv1alpha1.PhaseApproved {
		return anyTarget(er, holdsAccess)
	}
	switch er.Status.Phase {
	case accessv1alpha1.PhaseActive, accessv1alpha1.PhaseRevoking:
		return true
	case accessv1alpha1.PhaseApproved:
		return er.Status.Grant != nil
	}
	return false
}

// holdsForOthers reports whether the request holds the entitlement so that
// another request's revocation must leave it in place.
func holdsForOthers(er *accessv1alpha1.ElevationRequest) bool {
	if er.Status.Grant == nil || er.Status.Grant.Preexisting || !er.DeletionTimestamp.IsZero() {
		return false
	}
	return er.Status.Phase == accessv1alpha1.PhaseActive || er.Status.Phase == accessv1alpha1.PhaseApproved
}

// madeByElevator reports whether the request may have put the entitlement into
// the target and not yet verified it gone: a present entitlement is then not
// standing access, even while that request's revocation is being retried.
func madeByElevator(er *accessv1alpha1.ElevationRequest) bool {
	if er.Status.Grant == nil || er.Status.Grant.Preexisting {
		return false
	}
	switch er.Status.Phase {
	case accessv1alpha1.PhaseApproved, accessv1alpha1.PhaseActive, accessv1alpha1.PhaseRevoking:
		return true
	}
	return false
}

// isOverdue reports whether the request's access should be gone but a revoke or
// verification has failed. Waiting for another holder is not overdue.
func isOverdue(er *accessv1alpha1.ElevationRequest, now time.Time) bool {
	if er.Spec.IsMultiTarget() {
		return er.Status.Phase == accessv1alpha1.PhaseRevoking &&
			anyTarget(er, func(v *accessv1alpha1.ElevationRequest) bool { return isOverdue(v, now) })
	}
	rev := er.Status.Revocation
	if er.Status.Phase != accessv1alpha1.PhaseRevoking || rev == nil || rev.Attempts == 0 || rev.RetainedBy != "" {
		return false
	}
	return er.Status.ExpiresAt == nil || !now.Before(er.Status.ExpiresAt.Time) || rev.Reason != accessv1alpha1.RevocationExpired
}

// anyTarget reports whether pred holds for any target's view of a
// multi-target request.
func anyTarget(er *accessv1alpha1.ElevationRequest, pred func(*accessv1alpha1.ElevationRequest) bool) bool {
	for _, v := range targetViews(er) {
		if pred(v) {
			return true
		}
	}
	return false
}
