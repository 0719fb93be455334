package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/audit"
	"github.com/elevator-dev/elevator/internal/failpoint"
	"github.com/elevator-dev/elevator/internal/metrics"
	"github.com/elevator-dev/elevator/internal/policy"
	"github.com/elevator-dev/elevator/internal/provider"
)

// retainedRecheck is how often a request whose entitlement another request still
// holds looks again, in case it missed that request's event.
const retainedRecheck = time.Minute

// revoke moves the request to Revoking and makes the first attempt. Revoking
// never ends until a fresh read of the target shows the entitlement gone. When
// the first attempt already verifies that, the Verified Event tells the whole
// transition; otherwise Revoking gets an Event of its own.
func (r *ElevationRequestReconciler) revoke(ctx context.Context, er *accessv1alpha1.ElevationRequest, reason, user string, now time.Time) (ctrl.Result, error) {
	if er.Spec.IsMultiTarget() {
		r.revokeTargets(er, reason, user, now)
		result, err := r.reconcileRevokingTargets(ctx, er, now)
		if er.Status.Phase == accessv1alpha1.PhaseRevoking {
			r.event(er, corev1.EventTypeNormal, accessv1alpha1.ReasonRevoking, "Revoke", "%s", revokingMessage(er.Status.Revocation))
		}
		return result, err
	}
	er.Status.Phase = accessv1alpha1.PhaseRevoking
	er.Status.Revocation = &accessv1alpha1.Revocation{Reason: reason, RequestedBy: user, StartedAt: timePtr(now)}
	msg := revokingMessage(er.Status.Revocation)
	er.Status.Message = msg
	r.record(audit.ActionRevoke, er, user, "reason", reason)
	result, err := r.reconcileRevoking(ctx, er, now)
	if er.Status.Phase == accessv1alpha1.PhaseRevoking {
		r.event(er, corev1.EventTypeNormal, accessv1alpha1.ReasonRevoking, "Revoke", "%s", msg)
	}
	return result, err
}

func (r *ElevationRequestReconciler) reconcileRevoking(ctx context.Context, er *accessv1alpha1.ElevationRequest, now time.Time) (ctrl.Result, error) {
	if er.Status.Grant != nil && er.Status.Grant.Preexisting {
		r.leaveStandingAccess(er, now)
		return ctrl.Result{}, nil
	}
	conn, err := r.connection(ctx, er)
	if err != nil {
		return r.revocationFailed(er, "", accessv1alpha1.ReasonRevokeFailed, err)
	}
	if er.Status.Grant == nil {
		if role := r.unrecordedGrant(er, conn); role != nil {
			return r.removeAndVerify(ctx, er, conn, *role)
		}
		r.withdraw(er, now)
		return ctrl.Result{}, nil
	}
	if conn == nil {
		err := fmt.Errorf("SaaSConnection %q not found in namespace %s: cannot reach the target to revoke", er.Spec.Connection, er.Namespace)
		return r.revocationFailed(er, "", accessv1alpha1.ReasonRevokeFailed, err)
	}
	return r.removeAndVerify(ctx, er, conn, er.Status.Grant.Role)
}

// unrecordedGrant is the role a request may hold although no grant is recorded:
// a per-request entitlement's intent is stored together with the grant, so a
// crash between the grant and that write leaves a grant behind that only its
// approvals tell of. Nil when no grant can exist: the provider's entitlements
// are shared (their intent is always stored first), or the request was never
// approved.
func (r *ElevationRequestReconciler) unrecordedGrant(er *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection) *accessv1alpha1.Role {
	if conn == nil {
		return nil
	}
	reg, err := r.Providers.Lookup(conn)
	if err != nil || reg.Shared {
		return nil
	}
	role, err := policy.FindRole(conn, er.Spec.Role)
	if err != nil || len(countedApprovals(er)) < policy.RequiredApprovals(role) {
		return nil
	}
	return role
}

// removeAndVerify revokes the entitlement, unless another request still holds a
// shared one or it was just removed ahead of this record (removeAhead), and
// reads the target again to prove it gone.
func (r *ElevationRequestReconciler) removeAndVerify(ctx context.Context, er *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection, role accessv1alpha1.Role) (ctrl.Result, error) {
	target, reg, err := r.connect(ctx, conn)
	if err != nil {
		return r.revocationFailed(er, r.Providers.KindOf(conn.Spec.Provider), accessv1alpha1.ReasonRevokeFailed, err)
	}
	defer closeQuietly(target)
	if reg.Shared {
		if result, retained, err := r.retainForOthers(ctx, er); retained || err != nil {
			return result, err
		}
	}
	ent := entitlement(er, role)
	ent.Target = grantedTarget(er)
	if !r.ahead.take(er) {
		if err := target.Revoke(ctx, ent); err != nil {
			return r.revocationFailed(er, reg.Kind, accessv1alpha1.ReasonRevokeFailed, fmt.Errorf("revoke: %w", err))
		}
	}
	failpoint.Reach(failpoint.AfterRevoke)
	obs, err := target.Check(ctx, ent)
	if err != nil {
		return r.revocationFailed(er, reg.Kind, accessv1alpha1.ReasonVerifyFailed, fmt.Errorf("verify revocation: %w", err))
	}
	r.recordConnectionChange(er, obs.ConnectionChanged)
	if obs.Present {
		return r.revocationFailed(er, reg.Kind, accessv1alpha1.ReasonStillPresent, fmt.Errorf("revoked, but a fresh read still shows the access: %s", obs.Evidence))
	}
	if ent.Target == nil && reg.Shared && er.Status.GrantedAt != nil {
		obs.Evidence = resolvedAgainNote + obs.Evidence
	}
	now := r.Clock.Now()
	r.finishRevocation(er, now, obs)
	r.recordResidual(er, reg.Kind, obs.Residual, now)
	return ctrl.Result{}, nil
}

// retainForOthers leaves a shared entitlement in place while another request
// still holds it; the last holder to end removes it.
func (r *ElevationRequestReconciler) retainForOthers(ctx context.Context, er *accessv1alpha1.ElevationRequest) (ctrl.Result, bool, error) {
	holders, err := r.otherHolders(ctx, er)
	if err != nil {
		res, err := r.revocationFailed(er, "", accessv1alpha1.ReasonRevokeFailed, err)
		return res, false, err
	}
	if len(holders) == 0 {
		er.Status.Revocation.RetainedBy = ""
		return ctrl.Result{}, false, nil
	}
	holder := holders[0]
	rev := er.Status.Revocation
	before := rev.RetainedBy
	rev.RetainedBy = holder.Namespace + "/" + holder.Name
	msg := retainedMessage(rev.RetainedBy)
	er.Status.Message = msg
	if rev.RetainedBy != before {
		r.event(er, corev1.EventTypeNormal, accessv1alpha1.ReasonRetained, "Revoke", "%s", msg)
	}
	wait := retainedRecheck
	if holder.Status.ExpiresAt != nil {
		wait = min(wait, max(time.Until(holder.Status.ExpiresAt.Time), time.Second))
	}
	return ctrl.Result{RequeueAfter: wait}, true, nil
}

// revocationFailed records a failed attempt and returns the error, so the queue
// retries with backoff, forever.
func (r *ElevationRequestReconciler) revocationFailed(er *accessv1alpha1.ElevationRequest, kind, reason string, err error) (ctrl.Result, error) {
	er.Status.Revocation.Attempts++
	er.Status.Message = "revocation not verified, retrying: " + err.Error()
	block(er, reason, err.Error())
	r.event(er, corev1.EventTypeWarning, reason, "Revoke", "attempt %d: %v", er.Status.Revocation.Attempts, err)
	metrics.RevocationFailed(kind, reason)
	return ctrl.Result{}, err
}

// finishRevocation records the verified removal.
func (r *ElevationRequestReconciler) finishRevocation(er *accessv1alpha1.ElevationRequest, now time.Time, obs provider.Observation) {
	rev := er.Status.Revocation
	rev.VerifiedAt = timePtr(now)
	rev.Method = obs.Method
	rev.Detail = obs.Evidence
	if er.Status.Grant == nil {
		rev.Detail = "no grant was recorded; the request's own entitlement, which an interrupted grant could have left, was removed: " + obs.Evidence
	}
	rev.RetainedBy = ""
	er.Status.RevokedAt = accessv1alpha1.NewMilliTime(now)
	er.Status.Phase = accessv1alpha1.PhaseRevoked
	if rev.Reason == accessv1alpha1.RevocationGrantUndo {
		er.Status.Phase = accessv1alpha1.PhaseFailed
	}
	msg := fmt.Sprintf("access removed (%s) and verified gone at %s", rev.Reason, now.UTC().Format(time.RFC3339))
	er.Status.Message = msg
	r.event(er, corev1.EventTypeNormal, accessv1alpha1.ReasonVerified, "Verify", "%s; %s", msg, obs.Evidence)
	r.record(audit.ActionVerify, er, rev.RequestedBy, "evidence", obs.Evidence)
	if rev.Reason == accessv1alpha1.RevocationExpired && er.Status.ExpiresAt != nil {
		metrics.ExpiryToVerified(now.Sub(er.Status.ExpiresAt.Time).Seconds())
	}
}

// leaveStandingAccess ends a request whose entitlement existed before it and
// that no Elevator request made: Elevator did not grant it and does not remove it.
func (r *ElevationRequestReconciler) leaveStandingAccess(er *accessv1alpha1.ElevationRequest, now time.Time) {
	rev := er.Status.Revocation
	rev.Method = "none: standing access left in place"
	rev.Detail = "the entitlement existed before this request and was not made by Elevator: " + er.Status.Grant.Evidence
	er.Status.RevokedAt = accessv1alpha1.NewMilliTime(now)
	er.Status.Phase = accessv1alpha1.PhaseRevoked
	msg := "the request ended; the subject's standing access, which predates it, was left in place"
	er.Status.Message = msg
	r.event(er, corev1.EventTypeNormal, accessv1alpha1.ReasonStandingAccess, "Revoke", "%s", msg)
	r.record(audit.ActionVerify, er, rev.RequestedBy, "standingAccess", true)
}

// withdraw ends a request revoked before any grant can have begun: it was never
// approved, or its provider's entitlements are shared, and their intent to grant
// is always stored before the provider is called.
func (r *ElevationRequestReconciler) withdraw(er *accessv1alpha1.ElevationRequest, now time.Time) {
	rev := er.Status.Revocation
	rev.Method = "none: access was never granted"
	rev.Detail = "revoked before the grant began (status.grant was never recorded)"
	er.Status.RevokedAt = accessv1alpha1.NewMilliTime(now)
	er.Status.Phase = accessv1alpha1.PhaseRevoked
	msg := "withdrawn before access was granted"
	if rev.RequestedBy != "" {
		msg += " by " + rev.RequestedBy
	}
	er.Status.Message = msg
	r.event(er, corev1.EventTypeNormal, accessv1alpha1.ReasonNeverGranted, "Revoke", "%s", msg)
}
