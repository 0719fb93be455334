package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/audit"
	"github.com/elevator-dev/elevator/internal/metrics"
	"github.com/elevator-dev/elevator/internal/policy"
)

func (r *ElevationRequestReconciler) start(er *accessv1alpha1.ElevationRequest) {
	er.Status.Phase = accessv1alpha1.PhasePending
	er.Status.Message = "waiting for approval"
	r.event(er, corev1.EventTypeNormal, "Requested", "Request", "%s asked for %s for %s: %s",
		er.Spec.Subject, askedFor(er.Spec), er.Spec.Duration, er.Spec.Justification)
	r.record(audit.ActionRequest, er, er.Status.RequestedBy, "justification", er.Spec.Justification, "ticket", er.Spec.Ticket, "duration", er.Spec.Duration)
}

// reconcilePending ends a request that was denied, withdrawn or not approved in
// time, and approves one that has all the approvals its role needs.
func (r *ElevationRequestReconciler) reconcilePending(ctx context.Context, er *accessv1alpha1.ElevationRequest, now time.Time) (ctrl.Result, error) {
	if !er.DeletionTimestamp.IsZero() {
		return r.revoke(ctx, er, accessv1alpha1.RevocationDeleted, "", now)
	}
	if d := er.Status.Denial; d != nil {
		r.finishNeverGranted(er, accessv1alpha1.PhaseDenied, accessv1alpha1.ReasonDenied, denialMessage(d))
		r.record(audit.ActionDeny, er, d.User, "reason", d.Reason)
		return ctrl.Result{}, nil
	}
	if rev := r.revokeRequest(er); rev != nil {
		return r.revoke(ctx, er, accessv1alpha1.RevocationEarly, rev.User, now)
	}
	conn, err := r.connection(ctx, er)
	if err != nil {
		return ctrl.Result{}, err
	}
	timeout := policy.PendingTimeout(conn)
	if deadline := er.CreationTimestamp.Add(timeout); !now.Before(deadline) && !approvedInTime(er, conn, deadline) {
		r.finishNeverGranted(er, accessv1alpha1.PhaseExpired, accessv1alpha1.ReasonPendingTimeout, fmt.Sprintf("not approved within the pending timeout of %s", timeout))
		r.record(audit.ActionExpire, er, "")
		return ctrl.Result{}, nil
	}
	retry := ctrl.Result{RequeueAfter: min(er.CreationTimestamp.Add(timeout).Sub(now), pollWhileBlocked)}
	role, blocker := targetRole(er, conn)
	if blocker != nil {
		er.Status.Blocked = blocker
		return retry, nil
	}
	if err := policy.CheckAutoApproval(role, er.Spec.Subject, er.Status.RequestedBy); err != nil {
		r.refuse(er, err)
		return ctrl.Result{}, nil
	}
	er.Status.RequiredApprovals = int32(policy.RequiredApprovals(role))
	switch {
	case len(countedApprovals(er)) >= int(er.Status.RequiredApprovals):
		r.approve(er)
	case er.Status.BreakGlass == nil:
		er.Status.Message = "waiting for approval: " + awaitingMessage(er)
		return ctrl.Result{RequeueAfter: er.CreationTimestamp.Add(timeout).Sub(now)}, nil
	default:
		if err := policy.CheckBreakGlass(er, role); err != nil {
			r.refuse(er, fmt.Errorf("break-glass: %w", err))
			return ctrl.Result{}, nil
		}
		r.approveByBreakGlass(er, role)
	}
	result, err := r.reconcileApproved(ctx, er, now)
	if er.Status.Phase == accessv1alpha1.PhaseApproved {
		// Granting did not finish in this reconcile; the approval gets its own
		// Event. Otherwise the Granted Event tells both.
		r.event(er, corev1.EventTypeNormal, accessv1alpha1.ReasonApproved, "Approve", "%s", er.Status.Message)
	}
	return result, err
}

// approvedInTime says whether the request had all the approvals its role needs
// before deadline, by the times the webhook recorded (signed) on them. Such a
// request is approved even if the controller sees it only later, e.g. after
// no leader ran across its pending timeout: the approval was admitted in time
// and must not be lost.
func approvedInTime(er *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection, deadline time.Time) bool {
	if conn == nil {
		return false
	}
	role, err := policy.FindRole(conn, er.Spec.Role)
	if err != nil {
		return false
	}
	need := policy.RequiredApprovals(role)
	approvals := countedApprovals(er)
	if need == 0 || len(approvals) < need {
		return false
	}
	times := make([]time.Time, 0, len(approvals))
	for _, a := range approvals {
		times = append(times, a.At.Time)
	}
	slices.SortFunc(times, time.Time.Compare)
	return times[need-1].Before(deadline)
}

// approve records that the request has all the approvals its role needs, as
// of its deciding approval.
func (r *ElevationRequestReconciler) approve(er *accessv1alpha1.ElevationRequest) {
	approvals := countedApprovals(er)
	er.Status.Phase = accessv1alpha1.PhaseApproved
	er.Status.ApprovedAt = timePtr(lastApprovalTime(er, approvals))
	er.Status.Message = approvalMessage(er)
	for _, a := range approvals {
		r.record(audit.ActionApprove, er, a.User, "comment", a.Comment, "at", a.At.UTC().Format(time.RFC3339))
	}
}

// approveByBreakGlass records the subject's own emergency approval, loudly:
// a Warning Event, the audit trail, a metric, and the review it is owed.
func (r *ElevationRequestReconciler) approveByBreakGlass(er *accessv1alpha1.ElevationRequest, role *accessv1alpha1.Role) {
	used := er.Status.BreakGlass.Used
	er.Status.Phase = accessv1alpha1.PhaseApproved
	er.Status.ApprovedAt = timePtr(used.At.Time)
	er.Status.BreakGlass.ReviewDeadline = timePtr(used.At.Add(policy.BreakGlassReviewWithin(role.BreakGlass)))
	er.Status.Message = approvalMessage(er)
	r.event(er, corev1.EventTypeWarning, accessv1alpha1.ReasonBreakGlass, "Approve", "%s broke the glass for role %s of %s: %s (review due by %s)",
		used.User, er.Spec.Role, er.Spec.Connection, used.Reason, er.Status.BreakGlass.ReviewDeadline.UTC().Format(time.RFC3339))
	r.record(audit.ActionBreakGlass, er, used.User, "reason", used.Reason, "justification", er.Spec.Justification,
		"reviewDeadline", er.Status.BreakGlass.ReviewDeadline.UTC().Format(time.RFC3339))
	metrics.BreakGlassUsed(er.Spec.Connection)
}

// refuse ends a request that policy forbids granting; nothing was granted.
func (r *ElevationRequestReconciler) refuse(er *accessv1alpha1.ElevationRequest, err error) {
	r.finishNeverGranted(er, accessv1alpha1.PhaseFailed, accessv1alpha1.ReasonPolicyViolation, "refused to grant: "+err.Error())
	r.record(audit.ActionFail, er, "", "reason", err.Error())
}

func (r *ElevationRequestReconciler) finishNeverGranted(er *accessv1alpha1.ElevationRequest, phase accessv1alpha1.Phase, reason, msg string) {
	er.Status.Phase = phase
	er.Status.Message = msg
	eventType := corev1.EventTypeNormal
	if phase == accessv1alpha1.PhaseFailed {
		eventType = corev1.EventTypeWarning
	}
	r.event(er, eventType, reason, string(phase), "%s", msg)
}

// askedFor names what the spec asks for: "role R of C", or each target's.
func askedFor(spec accessv1alpha1.ElevationRequestSpec) string {
	targets := spec.TargetsOf()
	parts := make([]string, len(targets))
	for i, t := range targets {
		parts[i] = fmt.Sprintf("role %s of %s", t.Role, t.Connection)
	}
	return strings.Join(parts, ", ")
}
