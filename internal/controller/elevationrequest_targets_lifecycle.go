package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/audit"
	"github.com/elevator-dev/elevator/internal/failpoint"
	"github.com/elevator-dev/elevator/internal/policy"
	"github.com/elevator-dev/elevator/internal/provider"
)

// The lifecycle of a request with spec.targets, one function per phase, each
// running the single-target steps on the targets' views (elevationrequest_targets.go):
//
//	Pending   → reconcilePendingTargets: every target has its approvals
//	Approved  → reconcileApprovedTargets: every target granted, or none
//	Active    → reconcileActive (shared): one expiresAt for all
//	Revoking  → reconcileRevokingTargets: each removal verified on its own

func (r *ElevationRequestReconciler) stepTargets(ctx context.Context, er *accessv1alpha1.ElevationRequest, now time.Time) (ctrl.Result, error) {
	switch er.Status.Phase {
	case "":
		r.start(er)
		return r.reconcilePendingTargets(ctx, er, now)
	case accessv1alpha1.PhasePending:
		return r.reconcilePendingTargets(ctx, er, now)
	case accessv1alpha1.PhaseApproved:
		return r.reconcileApprovedTargets(ctx, er, now)
	case accessv1alpha1.PhaseActive:
		return r.reconcileActive(ctx, er, now)
	case accessv1alpha1.PhaseRevoking:
		return r.reconcileRevokingTargets(ctx, er, now)
	}
	return ctrl.Result{}, nil
}

// reconcilePendingTargets ends a request that was denied, withdrawn or not
// approved in time, and approves it once every target has the approvals its
// role needs from the approvers of its connection.
func (r *ElevationRequestReconciler) reconcilePendingTargets(ctx context.Context, er *accessv1alpha1.ElevationRequest, now time.Time) (ctrl.Result, error) {
	switch rev := r.revokeRequest(er); {
	case !er.DeletionTimestamp.IsZero():
		return r.revoke(ctx, er, accessv1alpha1.RevocationDeleted, "", now)
	case er.Status.Denial != nil:
		r.denyTargets(er)
		return ctrl.Result{}, nil
	case rev != nil:
		return r.revoke(ctx, er, accessv1alpha1.RevocationEarly, rev.User, now)
	}
	views := targetViews(er)
	conns, err := r.connections(ctx, views)
	if err != nil {
		return ctrl.Result{}, err
	}
	timeout, _ := policy.RequestPendingTimeout(&er.Spec, conns)
	deadline := er.CreationTimestamp.Add(timeout)
	if !now.Before(deadline) && !targetsApprovedInTime(views, conns, deadline) {
		r.finishNeverGranted(er, accessv1alpha1.PhaseExpired, accessv1alpha1.ReasonPendingTimeout,
			fmt.Sprintf("not approved within the pending timeout of %s", timeout))
		r.record(audit.ActionExpire, er, "")
		endTargets(er, accessv1alpha1.PhaseExpired)
		return ctrl.Result{}, nil
	}
	approved, err := r.countTargetApprovals(er, views, conns)
	if err != nil {
		r.refuse(er, err)
		endTargets(er, accessv1alpha1.PhaseFailed)
		return ctrl.Result{}, nil
	}
	if er.Status.Blocked != nil {
		return ctrl.Result{RequeueAfter: min(deadline.Sub(now), pollWhileBlocked)}, nil
	}
	if !approved {
		er.Status.Message = "waiting for approval: " + awaitingMessage(er)
		return ctrl.Result{RequeueAfter: deadline.Sub(now)}, nil
	}
	r.approveTargets(er)
	result, err := r.reconcileApprovedTargets(ctx, er, now)
	if er.Status.Phase == accessv1alpha1.PhaseApproved {
		r.event(er, corev1.EventTypeNormal, accessv1alpha1.ReasonApproved, "Approve", "%s", er.Status.Message)
	}
	return result, err
}

// denyTargets ends a request an approver denied, and each of its targets.
func (r *ElevationRequestReconciler) denyTargets(er *accessv1alpha1.ElevationRequest) {
	d := er.Status.Denial
	r.finishNeverGranted(er, accessv1alpha1.PhaseDenied, accessv1alpha1.ReasonDenied, denialMessage(d))
	r.record(audit.ActionDeny, er, d.User, "reason", d.Reason)
	endTargets(er, accessv1alpha1.PhaseDenied)
}

// endTargets ends every target of a request that ended before any grant
// began, in the request's terminal phase.
func endTargets(er *accessv1alpha1.ElevationRequest, phase accessv1alpha1.Phase) {
	for i := range er.Status.Targets {
		er.Status.Targets[i].Phase = phase
	}
}

// countTargetApprovals records, per target, how many approvals it needs and
// how many count for it, and blocks the request on a target whose connection
// or role is missing. It reports whether every target is approved; an error
// is a policy refusal.
func (r *ElevationRequestReconciler) countTargetApprovals(er *accessv1alpha1.ElevationRequest, views []*accessv1alpha1.ElevationRequest, conns map[string]*accessv1alpha1.SaaSConnection) (bool, error) {
	approved := true
	er.Status.RequiredApprovals = 0
	for i, v := range views {
		ts := &er.Status.Targets[i]
		ts.Blocked = nil
		role, blocker := targetRole(v, conns[v.Spec.Connection])
		if blocker != nil {
			ts.Blocked = blocker
			er.Status.Blocked = &accessv1alpha1.Blocker{Reason: blocker.Reason, Message: ts.String() + ": " + blocker.Message}
			approved = false
			continue
		}
		if err := policy.CheckAutoApproval(role, er.Spec.Subject, er.Status.RequestedBy); err != nil {
			return false, fmt.Errorf("%s: %w", ts, err)
		}
		ts.RequiredApprovals = int32(policy.RequiredApprovals(role))
		ts.Approvals = int32(len(v.Status.Approvals))
		er.Status.RequiredApprovals = max(er.Status.RequiredApprovals, ts.RequiredApprovals)
		ts.Message = fmt.Sprintf("%d of %d approvals", ts.Approvals, ts.RequiredApprovals)
		approved = approved && ts.Approvals >= ts.RequiredApprovals
	}
	return approved, nil
}

// targetsApprovedInTime says whether every target that needs approvals had
// them before deadline, by the times the webhook signed (see approvedInTime).
func targetsApprovedInTime(views []*accessv1alpha1.ElevationRequest, conns map[string]*accessv1alpha1.SaaSConnection, deadline time.Time) bool {
	needed := false
	for _, v := range views {
		conn := conns[v.Spec.Connection]
		role, blocker := targetRole(v, conn)
		if blocker != nil {
			return false
		}
		if policy.RequiredApprovals(role) == 0 {
			continue
		}
		needed = true
		if !approvedInTime(v, conn, deadline) {
			return false
		}
	}
	return needed
}

// approveTargets records that every target has its approvals.
func (r *ElevationRequestReconciler) approveTargets(er *accessv1alpha1.ElevationRequest) {
	approvals := countedApprovals(er)
	er.Status.Phase = accessv1alpha1.PhaseApproved
	er.Status.ApprovedAt = timePtr(lastApprovalTime(er, approvals))
	er.Status.Message = approvalMessage(er)
	for i := range er.Status.Targets {
		er.Status.Targets[i].Phase = accessv1alpha1.PhaseApproved
		er.Status.Targets[i].Message = "approved"
	}
	for _, a := range approvals {
		r.record(audit.ActionApprove, er, a.User, "comment", a.Comment, "at", a.At.UTC().Format(time.RFC3339), "connections", a.Connections)
	}
}

// reconcileApprovedTargets grants every target, all or nothing: the intents
// first (stored in one write before any shared entitlement is granted), then
// every grant at once, each read back. The request is Active once all are; a
// target the provider refuses for good makes every target be revoked and
// verified, and the request end Failed.
func (r *ElevationRequestReconciler) reconcileApprovedTargets(ctx context.Context, er *accessv1alpha1.ElevationRequest, now time.Time) (ctrl.Result, error) {
	if !er.DeletionTimestamp.IsZero() {
		return r.revoke(ctx, er, accessv1alpha1.RevocationDeleted, "", now)
	}
	if rev := r.revokeRequest(er); rev != nil {
		return r.revoke(ctx, er, accessv1alpha1.RevocationEarly, rev.User, now)
	}
	views := targetViews(er)
	conns, err := r.connections(ctx, views)
	if err != nil {
		return ctrl.Result{}, err
	}
	if blockGrant(er, views, conns) {
		return ctrl.Result{RequeueAfter: pollWhileBlocked}, nil
	}
	refusal, err := r.recordTargetIntents(ctx, er, views, conns, now)
	if refusal != nil {
		return r.refuseTargets(ctx, er, refusal, now)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.ensureFresh(ctx, er); err != nil {
		return ctrl.Result{}, err
	}
	return r.grantTargets(ctx, er, conns, now)
}

// blockGrant blocks the request on the first target that cannot be granted
// until someone acts: its connection is missing, or its role is and no grant
// of it began (a grant that began acts on the role it stored).
func blockGrant(er *accessv1alpha1.ElevationRequest, views []*accessv1alpha1.ElevationRequest, conns map[string]*accessv1alpha1.SaaSConnection) bool {
	for _, v := range views {
		if v.Status.Phase == accessv1alpha1.PhaseActive {
			continue
		}
		_, blocker := targetRole(v, conns[v.Spec.Connection])
		if blocker != nil && (conns[v.Spec.Connection] == nil || v.Status.Grant == nil) {
			block(er, blocker.Reason, targetOf(v).String()+": "+blocker.Message)
			return true
		}
	}
	return false
}

// recordTargetIntents records the intent to grant each target that has none
// yet, after the same policy checks as a single grant, and stores them at
// once when any provider's entitlements are shared (recordGrantIntent says
// why). A refusal names the target; err is a failure to retry.
func (r *ElevationRequestReconciler) recordTargetIntents(ctx context.Context, er *accessv1alpha1.ElevationRequest, views []*accessv1alpha1.ElevationRequest, conns map[string]*accessv1alpha1.SaaSConnection, now time.Time) (refusal, err error) {
	var todo []*accessv1alpha1.ElevationRequest
	for _, v := range views {
		if v.Status.Grant == nil {
			todo = append(todo, v)
		}
	}
	if len(todo) == 0 {
		return nil, nil
	}
	roles := make(map[*accessv1alpha1.ElevationRequest]*accessv1alpha1.Role, len(todo))
	for _, v := range todo {
		role, err := r.grantableRole(v, conns[v.Spec.Connection])
		if err != nil {
			return fmt.Errorf("%s: %w", targetOf(v), err), nil
		}
		roles[v] = role
	}
	shared := make([]bool, len(todo))
	errs := inParallel(todo, func(i int, v *accessv1alpha1.ElevationRequest) (err error) {
		shared[i], err = r.setGrantIntent(ctx, v, conns[v.Spec.Connection], roles[v], now)
		return err
	})
	storeViews(er, views)
	if err := firstError(todo, errs); err != nil {
		return nil, err
	}
	for _, s := range shared {
		if s {
			err := r.checkpoint(ctx, er)
			if err == nil {
				failpoint.Reach(failpoint.AfterGrantIntent)
			}
			return nil, err
		}
	}
	return nil, nil
}

// grantTargets grants every target not yet granted, at once, and activates
// the request when all are.
func (r *ElevationRequestReconciler) grantTargets(ctx context.Context, er *accessv1alpha1.ElevationRequest, conns map[string]*accessv1alpha1.SaaSConnection, now time.Time) (ctrl.Result, error) {
	duration, err := policy.ParseDuration("spec.duration", er.Spec.Duration)
	if err != nil {
		return r.revoke(ctx, er, accessv1alpha1.RevocationGrantUndo, "", now)
	}
	views := targetViews(er)
	var todo []*accessv1alpha1.ElevationRequest
	for _, v := range views {
		if v.Status.Phase != accessv1alpha1.PhaseActive {
			todo = append(todo, v)
		}
	}
	errs := inParallel(todo, func(_ int, v *accessv1alpha1.ElevationRequest) error {
		return r.grantTarget(ctx, v, conns[v.Spec.Connection])
	})
	storeViews(er, views)
	for i, v := range todo {
		if refused := (*grantRefused)(nil); errors.As(errs[i], &refused) && provider.IsPermanent(refused.err) {
			return r.grantTargetFailed(ctx, er, v, refused.err, now)
		}
	}
	if err := firstError(todo, errs); err != nil {
		block(er, accessv1alpha1.ReasonGrantFailed, err.Error())
		return r.partlyGranted(ctx, er, duration, err, now)
	}
	r.activateTargets(er, duration, now)
	return ctrl.Result{RequeueAfter: untilExpiryLook(er, now, r.leadFor(er)), Priority: ptr.To(expiryPriority)}, nil
}

// partialGrantRetry is how soon a request some of whose targets are granted
// tries the others again: the granted ones' window is running.
const partialGrantRetry = time.Second

// partlyGranted retries the targets not yet granted while others are, and
// keeps the granted ones from holding access past their window meanwhile: the
// window counts from the first target's grant, and once it is over before
// every target could be granted, every target is undone and the request ends
// Failed. With nothing granted yet it is a plain retry, with backoff.
func (r *ElevationRequestReconciler) partlyGranted(ctx context.Context, er *accessv1alpha1.ElevationRequest, duration time.Duration, err error, now time.Time) (ctrl.Result, error) {
	first, granted := firstGrant(er)
	if !granted {
		return ctrl.Result{}, err
	}
	end := first.Add(duration)
	if now.Before(end) {
		er.Status.Message = "granting: some targets are granted, retrying the others: " + err.Error()
		return ctrl.Result{RequeueAfter: min(partialGrantRetry, end.Sub(now))}, nil
	}
	msg := fmt.Sprintf("not every target was granted within the window, counted from the first target's grant: %v", err)
	for i := range er.Status.Targets {
		if ts := &er.Status.Targets[i]; ts.Phase != accessv1alpha1.PhaseActive && ts.Grant != nil {
			ts.Grant.Error = fmt.Sprintf("target %s: not granted within the window", ts)
		}
	}
	r.event(er, corev1.EventTypeWarning, accessv1alpha1.ReasonGrantFailed, "Grant", "%s; removing what the other targets were granted", msg)
	result, rerr := r.revoke(ctx, er, accessv1alpha1.RevocationGrantUndo, "", now)
	er.Status.Message = msg + "; " + er.Status.Message
	return result, rerr
}

// firstGrant is when the first target was granted, if any was.
func firstGrant(er *accessv1alpha1.ElevationRequest) (time.Time, bool) {
	var first time.Time
	for _, ts := range er.Status.Targets {
		if ts.GrantedAt != nil && (first.IsZero() || ts.GrantedAt.Before(&metav1.Time{Time: first})) {
			first = ts.GrantedAt.Time
		}
	}
	return first, !first.IsZero()
}

// grantTarget grants one target and reads it back.
func (r *ElevationRequestReconciler) grantTarget(ctx context.Context, v *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection) error {
	grantStart, obs, err := r.grantAndReadBack(ctx, v, conn)
	if err != nil {
		block(v, accessv1alpha1.ReasonGrantFailed, err.Error())
		v.Status.Message = "grant failed, retrying: " + err.Error()
		return err
	}
	failpoint.Reach(failpoint.AfterGrant)
	v.Status.Phase = accessv1alpha1.PhaseActive
	v.Status.GrantedAt = timePtr(grantStart.Truncate(time.Second))
	v.Status.Blocked = nil
	v.Status.Message = "granted; verified: " + obs.Evidence
	r.record(audit.ActionGrant, v, "", "verificationMethod", obs.Method, "evidence", obs.Evidence, "preexisting", v.Status.Grant.Preexisting)
	return nil
}

// grantTargetFailed undoes every target when one target's grant was refused
// for good: anything granted is removed and verified, and the request ends
// Failed, naming the target.
func (r *ElevationRequestReconciler) grantTargetFailed(ctx context.Context, er *accessv1alpha1.ElevationRequest, v *accessv1alpha1.ElevationRequest, err error, now time.Time) (ctrl.Result, error) {
	for i := range er.Status.Targets {
		ts := &er.Status.Targets[i]
		if ts.Connection == v.Spec.Connection && ts.Role == v.Spec.Role && ts.Grant != nil {
			ts.Grant.Error = fmt.Sprintf("target %s: %v", ts, err)
			ts.Blocked = nil
		}
	}
	er.Status.Blocked = nil
	msg := fmt.Sprintf("grant of target %s failed: %v", targetOf(v), err)
	r.event(er, corev1.EventTypeWarning, accessv1alpha1.ReasonGrantFailed, "Grant", "%s; removing what the other targets were granted", msg)
	result, rerr := r.revoke(ctx, er, accessv1alpha1.RevocationGrantUndo, "", now)
	er.Status.Message = msg + "; " + er.Status.Message
	return result, rerr
}

// refuseTargets ends a request that policy forbids granting on one target:
// Failed at once when nothing was begun, and otherwise (a connection changed
// after a crash mid-grant) only after every target begun is revoked.
func (r *ElevationRequestReconciler) refuseTargets(ctx context.Context, er *accessv1alpha1.ElevationRequest, refusal error, now time.Time) (ctrl.Result, error) {
	for _, ts := range er.Status.Targets {
		if ts.Grant != nil {
			r.event(er, corev1.EventTypeWarning, accessv1alpha1.ReasonPolicyViolation, "Grant", "refused to grant: %v; removing what the other targets were granted", refusal)
			result, err := r.revoke(ctx, er, accessv1alpha1.RevocationGrantUndo, "", now)
			er.Status.Message = "refused to grant: " + refusal.Error() + "; " + er.Status.Message
			return result, err
		}
	}
	r.refuse(er, refusal)
	endTargets(er, accessv1alpha1.PhaseFailed)
	return ctrl.Result{}, nil
}

// activateTargets makes the request Active once every target is granted: its
// window counts from the first target's grant, so that no target holds access
// for longer than asked for.
func (r *ElevationRequestReconciler) activateTargets(er *accessv1alpha1.ElevationRequest, duration time.Duration, now time.Time) {
	granted := make([]time.Time, len(er.Status.Targets))
	for i, ts := range er.Status.Targets {
		granted[i] = ts.GrantedAt.Time
	}
	first, last := slices.MinFunc(granted, time.Time.Compare), slices.MaxFunc(granted, time.Time.Compare)
	er.Status.Phase = accessv1alpha1.PhaseActive
	er.Status.Blocked = nil
	er.Status.GrantedAt = timePtr(last)
	er.Status.ExpiresAt = accessv1alpha1.NewMilliTime(expiryOf(first, duration, r.ExpiryLead))
	msg := fmt.Sprintf("%s on all %d targets", grantedMessage(er), len(er.Status.Targets))
	er.Status.Message = msg
	r.event(er, corev1.EventTypeNormal, accessv1alpha1.ReasonGranted, "Grant", "%s; %s", approvalMessage(er), msg)
	observeApprovalToGrant(er, now)
}

// revokeTargets moves the request and each target not yet ended to Revoking.
func (r *ElevationRequestReconciler) revokeTargets(er *accessv1alpha1.ElevationRequest, reason, user string, now time.Time) {
	er.Status.Phase = accessv1alpha1.PhaseRevoking
	er.Status.Revocation = &accessv1alpha1.Revocation{Reason: reason, RequestedBy: user, StartedAt: timePtr(now)}
	er.Status.Message = revokingMessage(er.Status.Revocation)
	r.record(audit.ActionRevoke, er, user, "reason", reason)
	for i := range er.Status.Targets {
		ts := &er.Status.Targets[i]
		if ts.Phase.IsTerminal() {
			continue
		}
		ts.Phase = accessv1alpha1.PhaseRevoking
		ts.Revocation = &accessv1alpha1.Revocation{Reason: reason, RequestedBy: user, StartedAt: timePtr(now)}
		ts.Message = revokingMessage(ts.Revocation)
	}
}

// reconcileRevokingTargets revokes and verifies each target still revoking,
// at once, and ends the request once every target has ended.
func (r *ElevationRequestReconciler) reconcileRevokingTargets(ctx context.Context, er *accessv1alpha1.ElevationRequest, now time.Time) (ctrl.Result, error) {
	views := targetViews(er)
	var todo []*accessv1alpha1.ElevationRequest
	for _, v := range views {
		if v.Status.Phase == accessv1alpha1.PhaseRevoking {
			todo = append(todo, v)
		}
	}
	results := make([]ctrl.Result, len(todo))
	errs := inParallel(todo, func(i int, v *accessv1alpha1.ElevationRequest) (err error) {
		results[i], err = r.reconcileRevoking(ctx, v, now)
		return err
	})
	storeViews(er, views)
	summariseRevocation(er)
	if err := firstError(todo, errs); err != nil {
		return ctrl.Result{}, err
	}
	if er.Status.Phase == accessv1alpha1.PhaseRevoking {
		return soonest(results), nil
	}
	rev := er.Status.Revocation
	r.event(er, corev1.EventTypeNormal, accessv1alpha1.ReasonVerified, "Verify", "%s; %s", er.Status.Message, rev.Detail)
	r.record(audit.ActionVerify, er, rev.RequestedBy, "evidence", rev.Detail, "verifiedAll", rev.VerifiedAt != nil)
	return ctrl.Result{}, nil
}

// summariseRevocation sums the targets' revocations up in the request's:
// the attempts, what blocks or retains a target, and, once every target has
// ended, the end of the request. verifiedAt is set only when every target's
// removal was verified (or nothing was ever granted to it).
func summariseRevocation(er *accessv1alpha1.ElevationRequest) {
	rev := er.Status.Revocation
	rev.Attempts, rev.RetainedBy = 0, ""
	ended, verifiedAll := true, true
	var methods []string
	var last time.Time
	for _, ts := range er.Status.Targets {
		t := ts.Revocation
		if t == nil {
			continue
		}
		rev.Attempts += t.Attempts
		if ts.Blocked != nil && er.Status.Blocked == nil {
			er.Status.Blocked = &accessv1alpha1.Blocker{Reason: ts.Blocked.Reason, Message: ts.String() + ": " + ts.Blocked.Message}
		}
		if t.RetainedBy != "" && rev.RetainedBy == "" {
			rev.RetainedBy = t.RetainedBy
		}
		if !ts.Phase.IsTerminal() {
			ended = false
			continue
		}
		if t.VerifiedAt != nil && t.VerifiedAt.After(last) {
			last = t.VerifiedAt.Time
		} else if t.VerifiedAt == nil && ts.Grant != nil {
			verifiedAll = false
		}
		methods = append(methods, ts.String()+": "+t.Method)
	}
	if !ended {
		return
	}
	finishTargets(er, last, verifiedAll, methods)
}

// finishTargets ends a request whose every target has ended.
func finishTargets(er *accessv1alpha1.ElevationRequest, last time.Time, verifiedAll bool, methods []string) {
	rev := er.Status.Revocation
	rev.Method = "each target verified on its own (status.targets)"
	rev.Detail = strings.Join(methods, "; ")
	if last.IsZero() {
		last = rev.StartedAt.Time
	}
	if verifiedAll {
		rev.VerifiedAt = timePtr(last)
	}
	er.Status.RevokedAt = accessv1alpha1.NewMilliTime(last)
	er.Status.Blocked = nil
	er.Status.Phase = accessv1alpha1.PhaseRevoked
	if rev.Reason == accessv1alpha1.RevocationGrantUndo {
		er.Status.Phase = accessv1alpha1.PhaseFailed
		reviveUndoneTargets(er)
	}
	er.Status.Message = fmt.Sprintf("the access of the %d of %d targets that were granted removed (%s), and every target verified clear",
		grantedTargets(er), len(er.Status.Targets), rev.Reason)
	if !verifiedAll {
		er.Status.Message = fmt.Sprintf("the request ended (%s); standing access that predates it was left in place on a target (status.targets)", rev.Reason)
	}
}

// reviveUndoneTargets ends Revoked, not Failed, the targets of a failed
// request that were undone because another target failed: only the target
// whose grant failed (its grant.error says why) ends Failed.
func reviveUndoneTargets(er *accessv1alpha1.ElevationRequest) {
	for i := range er.Status.Targets {
		ts := &er.Status.Targets[i]
		if ts.Phase == accessv1alpha1.PhaseFailed && (ts.Grant == nil || ts.Grant.Error == "") {
			ts.Phase = accessv1alpha1.PhaseRevoked
		}
	}
}

// grantedTargets counts the targets that were granted and read back.
func grantedTargets(er *accessv1alpha1.ElevationRequest) int {
	n := 0
	for _, ts := range er.Status.Targets {
		if ts.GrantedAt != nil {
			n++
		}
	}
	return n
}

// storeViews writes every view back into its target.
func storeViews(er *accessv1alpha1.ElevationRequest, views []*accessv1alpha1.ElevationRequest) {
	for i, v := range views {
		storeView(er, i, v)
	}
}

// targetOf is the one target a view asks for.
func targetOf(v *accessv1alpha1.ElevationRequest) accessv1alpha1.Target {
	return accessv1alpha1.Target{Connection: v.Spec.Connection, Role: v.Spec.Role}
}

// firstError is the first target's error, naming the target.
func firstError(views []*accessv1alpha1.ElevationRequest, errs []error) error {
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("target %s: %w", targetOf(views[i]), err)
		}
	}
	return nil
}

// soonest is the earliest of the next looks the targets asked for.
func soonest(results []ctrl.Result) ctrl.Result {
	var out ctrl.Result
	for _, res := range results {
		if res.RequeueAfter > 0 && (out.RequeueAfter == 0 || res.RequeueAfter < out.RequeueAfter) {
			out.RequeueAfter = res.RequeueAfter
		}
	}
	return out
}
