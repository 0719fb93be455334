package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/audit"
	"github.com/elevator-dev/elevator/internal/failpoint"
	"github.com/elevator-dev/elevator/internal/metrics"
	"github.com/elevator-dev/elevator/internal/policy"
	"github.com/elevator-dev/elevator/internal/provider"
)

// reconcileApproved records the intent to grant (with whether the entitlement
// was already there), then calls the provider and reads the grant back.
func (r *ElevationRequestReconciler) reconcileApproved(ctx context.Context, er *accessv1alpha1.ElevationRequest, now time.Time) (ctrl.Result, error) {
	if !er.DeletionTimestamp.IsZero() {
		return r.revoke(ctx, er, accessv1alpha1.RevocationDeleted, "", now)
	}
	if rev := r.revokeRequest(er); rev != nil && er.Status.Grant == nil {
		return r.revoke(ctx, er, accessv1alpha1.RevocationEarly, rev.User, now)
	}
	conn, err := r.connection(ctx, er)
	if err != nil || conn == nil {
		return ctrl.Result{RequeueAfter: pollWhileBlocked}, err
	}
	if er.Status.Grant == nil {
		role, err := r.grantableRole(er, conn)
		if err != nil {
			r.refuse(er, err)
			return ctrl.Result{}, nil
		}
		if err := r.recordGrantIntent(ctx, er, conn, role, now); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.grant(ctx, er, conn, now)
}

// grantableRole is the role the request may be granted in conn, re-checked
// before every grant in case a webhook was bypassed or the policy changed:
// the duration within every cap, the subject allowed, a grantable ClusterRole.
func (r *ElevationRequestReconciler) grantableRole(er *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection) (*accessv1alpha1.Role, error) {
	role, err := policy.Check(er, conn, r.MaxDuration)
	if err != nil {
		return nil, err
	}
	return role, policy.CheckGrantable(conn, role, r.GrantableClusterRoles)
}

// recordGrantIntent records the intent to grant. A shared entitlement (a group
// membership) may exist before the request, and whether it did decides whether
// Elevator removes it at the end: so the target is read first, and the intent is
// stored before the provider is called, or a crash after the grant would leave
// Elevator's own grant looking like standing access. A per-request entitlement
// (the request's own binding) cannot pre-exist and is removed by name, so its
// intent is stored with the grant, in one write.
func (r *ElevationRequestReconciler) recordGrantIntent(ctx context.Context, er *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection, role *accessv1alpha1.Role, now time.Time) error {
	shared, err := r.setGrantIntent(ctx, er, conn, role, now)
	if err != nil || !shared {
		return err
	}
	if err := r.checkpoint(ctx, er); err != nil {
		return err
	}
	failpoint.Reach(failpoint.AfterGrantIntent)
	return nil
}

// setGrantIntent sets status.grant to the intent to grant role, reading the
// target first when the provider's entitlements are shared; it reports
// whether they are, and so whether the intent must be stored before the grant.
func (r *ElevationRequestReconciler) setGrantIntent(ctx context.Context, er *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection, role *accessv1alpha1.Role, now time.Time) (bool, error) {
	reg, err := r.Providers.Lookup(conn)
	if err != nil {
		return false, err
	}
	intent := &accessv1alpha1.GrantAttempt{StartedAt: metav1.NewTime(now), Role: *role}
	if reg.Shared {
		if intent.Preexisting, intent.Evidence, err = r.standingAccess(ctx, er, conn, role); err != nil {
			return false, err
		}
	}
	er.Status.Grant = intent
	return reg.Shared, nil
}

// checkpoint stores the status now, in the middle of a reconcile. It replaces
// the whole status guarded by the resourceVersion, so a stale read fails here
// with a conflict before anything is granted.
func (r *ElevationRequestReconciler) checkpoint(ctx context.Context, er *accessv1alpha1.ElevationRequest) error {
	prepareStatusWrite(er)
	if err := r.Client.Status().Update(ctx, er); err != nil {
		return fmt.Errorf("store the intent to grant: %w", err)
	}
	r.held.flush(r.Recorder, er, true)
	return nil
}

// standingAccess reports whether the entitlement is already in the target with
// no Elevator request having made it, and what the read showed.
func (r *ElevationRequestReconciler) standingAccess(ctx context.Context, er *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection, role *accessv1alpha1.Role) (bool, string, error) {
	target, _, err := r.connect(ctx, conn)
	if err != nil {
		return false, "", err
	}
	defer closeQuietly(target)
	obs, err := target.Check(ctx, entitlement(er, *role))
	if err != nil {
		return false, "", fmt.Errorf("check before grant: %w", err)
	}
	if !obs.Present {
		return false, obs.Evidence, nil
	}
	makers, err := r.otherRequests(ctx, er, madeByElevator)
	if err != nil {
		return false, "", err
	}
	return len(makers) == 0, obs.Evidence, nil
}

func (r *ElevationRequestReconciler) grant(ctx context.Context, er *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection, now time.Time) (ctrl.Result, error) {
	duration, err := policy.ParseDuration("spec.duration", er.Spec.Duration)
	if err != nil {
		return r.revoke(ctx, er, accessv1alpha1.RevocationGrantUndo, "", now)
	}
	if err := r.ensureFresh(ctx, er); err != nil {
		return ctrl.Result{}, err
	}
	grantStart, obs, err := r.grantAndReadBack(ctx, er, conn)
	if refused := (*grantRefused)(nil); errors.As(err, &refused) {
		return r.grantFailed(ctx, er, refused.err, now)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	failpoint.Reach(failpoint.AfterGrant)
	r.activate(er, grantStart, duration, obs)
	return ctrl.Result{RequeueAfter: untilExpiryLook(er, now, r.leadFor(er)), Priority: ptr.To(expiryPriority)}, nil
}

// grantRefused is the provider's error when its Grant call failed, so the
// caller can tell a refused grant (perhaps for good) from a failed read-back.
type grantRefused struct{ err error }

func (e *grantRefused) Error() string { return e.err.Error() }
func (e *grantRefused) Unwrap() error { return e.err }

// grantAndReadBack makes the grant recorded in status.grant (unless it is
// standing access) and reads it back from the target, storing the identity
// it resolved to. It returns when the grant call began: the window counts
// from just before it, not from the step's start, since what came before (the
// fresh read) is not the subject's time.
func (r *ElevationRequestReconciler) grantAndReadBack(ctx context.Context, er *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection) (time.Time, provider.Observation, error) {
	target, _, err := r.connect(ctx, conn)
	if err != nil {
		return time.Time{}, provider.Observation{}, err
	}
	defer closeQuietly(target)
	ent := entitlement(er, er.Status.Grant.Role)
	grantStart := r.Clock.Now()
	if !er.Status.Grant.Preexisting {
		granted, err := target.Grant(ctx, ent)
		if err != nil {
			return grantStart, provider.Observation{}, &grantRefused{err: err}
		}
		ent.Target = &granted.Target
	}
	obs, err := target.Check(ctx, ent)
	if err != nil {
		return grantStart, obs, fmt.Errorf("verify grant: %w", err)
	}
	if !obs.Present {
		return grantStart, obs, fmt.Errorf("granted, but a fresh read does not show it yet: %s", obs.Evidence)
	}
	er.Status.Grant.Target = ent.Target
	er.Status.Grant.Verification = obs.Evidence
	return grantStart, obs, nil
}

// grantFailed retries a grant that may yet work, and undoes anything partly
// granted when the provider refused it for good.
func (r *ElevationRequestReconciler) grantFailed(ctx context.Context, er *accessv1alpha1.ElevationRequest, err error, now time.Time) (ctrl.Result, error) {
	if !provider.IsPermanent(err) {
		block(er, accessv1alpha1.ReasonGrantFailed, err.Error())
		return ctrl.Result{}, fmt.Errorf("grant: %w", err)
	}
	er.Status.Grant.Error = err.Error()
	er.Status.Message = "grant failed: " + err.Error()
	r.event(er, corev1.EventTypeWarning, accessv1alpha1.ReasonGrantFailed, "Grant", "grant failed, undoing anything partly granted: %v", err)
	return r.revoke(ctx, er, accessv1alpha1.RevocationGrantUndo, "", now)
}

func (r *ElevationRequestReconciler) activate(er *accessv1alpha1.ElevationRequest, now time.Time, duration time.Duration, obs provider.Observation) {
	er.Status.Phase = accessv1alpha1.PhaseActive
	er.Status.GrantedAt = timePtr(now.Truncate(time.Second))
	er.Status.ExpiresAt = accessv1alpha1.NewMilliTime(expiryOf(now, duration, r.ExpiryLead))
	msg := grantedMessage(er)
	er.Status.Message = msg
	r.event(er, corev1.EventTypeNormal, accessv1alpha1.ReasonGranted, "Grant", "%s; %s", approvalMessage(er), msg)
	r.record(audit.ActionGrant, er, "", "verificationMethod", obs.Method, "evidence", obs.Evidence, "preexisting", er.Status.Grant.Preexisting)
	observeApprovalToGrant(er, now)
}

func (r *ElevationRequestReconciler) reconcileActive(ctx context.Context, er *accessv1alpha1.ElevationRequest, now time.Time) (ctrl.Result, error) {
	lead := r.leadFor(er)
	switch rev := r.revokeRequest(er); {
	case !er.DeletionTimestamp.IsZero():
		return r.revoke(ctx, er, accessv1alpha1.RevocationDeleted, "", now)
	case rev != nil:
		return r.revoke(ctx, er, accessv1alpha1.RevocationEarly, rev.User, now)
	case expiryDue(er, now, lead):
		if result, removed := r.removeAhead(ctx, er); removed {
			return result, nil
		}
		return r.revoke(ctx, er, accessv1alpha1.RevocationExpired, "", r.ahead.startedAt(er, now))
	}
	return ctrl.Result{RequeueAfter: untilExpiryLook(er, now, lead), Priority: ptr.To(expiryPriority)}, nil
}

// observeApprovalToGrant measures from the deciding approval (or the creation,
// for a role that needs none) to the verified grant.
func observeApprovalToGrant(er *accessv1alpha1.ElevationRequest, now time.Time) {
	approved := lastApprovalTime(er, countedApprovals(er))
	metrics.ApprovalToGrant(now.Sub(approved).Seconds())
}
