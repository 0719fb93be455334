package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/audit"
	"github.com/elevator-dev/elevator/internal/policy"
	"github.com/elevator-dev/elevator/internal/provider"
)

// Condition and event reasons.
const (
	reasonPending            = "AwaitingApproval"
	reasonApproved           = "Approved"
	reasonDenied             = "Denied"
	reasonPendingTimeout     = "PendingTimeout"
	reasonConnectionNotFound = "ConnectionNotFound"
	reasonPolicyViolation    = "PolicyViolation"
	reasonGrantStarted       = "GrantStarted"
	reasonGranted            = "Granted"
	reasonGrantFailed        = "GrantFailed"
	reasonStandingAccess     = "StandingAccess"
	reasonRevoking           = "Revoking"
	reasonRetained           = "RetainedByOtherRequest"
	reasonRevokeFailed       = "RevokeFailed"
	reasonVerifyFailed       = "VerificationFailed"
	reasonStillPresent       = "StillPresent"
	reasonVerified           = "Verified"
	reasonNotGranted         = "NeverGranted"
)

// expiryPriority puts a request whose access ends ahead of grant work in the
// queue: revocation is the security boundary, and under load it must not wait
// behind new grants.
const expiryPriority = 10

// pollWhileBlocked is how often a request re-checks something it waits on that
// sends no event (a connection that does not exist yet).
const pollWhileBlocked = 30 * time.Second

// step runs one step of the lifecycle for the request's phase. It changes
// er.Status in memory; Reconcile writes it.
func (r *ElevationRequestReconciler) step(ctx context.Context, er *accessv1alpha1.ElevationRequest, now time.Time) (ctrl.Result, error) {
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

func (r *ElevationRequestReconciler) start(er *accessv1alpha1.ElevationRequest) {
	er.Status.Phase = accessv1alpha1.PhasePending
	er.Status.Message = "waiting for approval"
	setCondition(er, accessv1alpha1.ConditionApproved, metav1.ConditionFalse, reasonPending, "waiting for approval")
	setCondition(er, accessv1alpha1.ConditionReady, metav1.ConditionFalse, reasonPending, "waiting for approval")
	r.event(er, corev1.EventTypeNormal, "Requested", "Request", "%s asked for role %s of %s for %s: %s",
		er.Spec.Subject, er.Spec.Role, er.Spec.Connection, er.Spec.Duration, er.Spec.Justification)
	r.Audit.Record(audit.ActionRequest, er, er.Status.RequestedBy, "justification", er.Spec.Justification, "ticket", er.Spec.Ticket, "duration", er.Spec.Duration)
}

func (r *ElevationRequestReconciler) reconcilePending(ctx context.Context, er *accessv1alpha1.ElevationRequest, now time.Time) (ctrl.Result, error) {
	if !er.DeletionTimestamp.IsZero() {
		return r.revoke(ctx, er, accessv1alpha1.RevocationDeleted, "", now)
	}
	if d := er.Status.Denial; d != nil {
		r.finishNeverGranted(er, accessv1alpha1.PhaseDenied, reasonDenied, fmt.Sprintf("denied by %s: %s", d.User, d.Reason))
		r.Audit.Record(audit.ActionDeny, er, d.User, "reason", d.Reason)
		return ctrl.Result{}, nil
	}
	if rev := r.revokeRequest(er); rev != nil {
		return r.revoke(ctx, er, accessv1alpha1.RevocationEarly, rev.User, now)
	}
	conn, err := r.connection(ctx, er)
	if err != nil {
		return ctrl.Result{}, err
	}
	timeout := pendingTimeout(conn)
	if deadline := er.CreationTimestamp.Add(timeout); !now.Before(deadline) {
		r.finishNeverGranted(er, accessv1alpha1.PhaseExpired, reasonPendingTimeout, fmt.Sprintf("not approved within the pending timeout of %s", timeout))
		r.Audit.Record(audit.ActionExpire, er, "")
		return ctrl.Result{}, nil
	}
	retry := ctrl.Result{RequeueAfter: min(er.CreationTimestamp.Add(timeout).Sub(now), pollWhileBlocked)}
	if conn == nil {
		setCondition(er, accessv1alpha1.ConditionReady, metav1.ConditionFalse, reasonConnectionNotFound,
			fmt.Sprintf("SaaSConnection %q not found in namespace %s", er.Spec.Connection, er.Namespace))
		return retry, nil
	}
	role, err := policy.FindRole(conn, er.Spec.Role)
	if err != nil {
		setCondition(er, accessv1alpha1.ConditionReady, metav1.ConditionFalse, reasonPolicyViolation, err.Error())
		return retry, nil
	}
	if err := policy.CheckAutoApproval(role, er.Spec.Subject, er.Status.RequestedBy); err != nil {
		r.refuse(er, err)
		return ctrl.Result{}, nil
	}
	approvals, required := countedApprovals(er), policy.RequiredApprovals(role)
	if len(approvals) < required {
		msg := fmt.Sprintf("%d of %d approvals", len(approvals), required)
		er.Status.Message = "waiting for approval: " + msg
		setCondition(er, accessv1alpha1.ConditionApproved, metav1.ConditionFalse, reasonPending, msg)
		return ctrl.Result{RequeueAfter: er.CreationTimestamp.Add(timeout).Sub(now)}, nil
	}
	r.approve(er, approvals, required)
	result, err := r.reconcileApproved(ctx, er, now)
	if er.Status.Phase == accessv1alpha1.PhaseApproved {
		// Granting did not finish in this reconcile; the approval gets its own
		// Event. Otherwise the Granted Event tells both.
		r.event(er, corev1.EventTypeNormal, reasonApproved, "Approve", "%s", er.Status.Message)
	}
	return result, err
}

func (r *ElevationRequestReconciler) approve(er *accessv1alpha1.ElevationRequest, approvals []accessv1alpha1.ApprovalRecord, required int) {
	er.Status.Phase = accessv1alpha1.PhaseApproved
	msg := fmt.Sprintf("approved by %d of %d required approvers", len(approvals), required)
	if required == 0 {
		msg = "the role needs no approval"
	}
	er.Status.Message = msg
	setCondition(er, accessv1alpha1.ConditionApproved, metav1.ConditionTrue, reasonApproved, msg)
	for _, a := range approvals {
		r.Audit.Record(audit.ActionApprove, er, a.User, "comment", a.Comment, "at", a.At.UTC().Format(time.RFC3339))
	}
}

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
		role, err := policy.Check(er, conn, r.MaxDuration)
		if err == nil {
			err = policy.CheckGrantable(conn, role, r.GrantableClusterRoles)
		}
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

// recordGrantIntent records the intent to grant. A shared entitlement (a group
// membership) may exist before the request, and whether it did decides whether
// Elevator removes it at the end: so the target is read first, and the intent is
// stored before the provider is called, or a crash after the grant would leave
// Elevator's own grant looking like standing access. A per-request entitlement
// (the request's own binding) cannot pre-exist and is removed by name, so its
// intent is stored with the grant, in one write.
func (r *ElevationRequestReconciler) recordGrantIntent(ctx context.Context, er *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection, role *accessv1alpha1.Role, now time.Time) error {
	reg, err := r.Providers.Lookup(conn)
	if err != nil {
		return err
	}
	intent := &accessv1alpha1.GrantAttempt{StartedAt: metav1.NewTime(now), Role: *role}
	if reg.Shared {
		if intent.Preexisting, intent.Evidence, err = r.standingAccess(ctx, er, conn, role); err != nil {
			return err
		}
	}
	er.Status.Grant = intent
	setCondition(er, accessv1alpha1.ConditionGranted, metav1.ConditionFalse, reasonGrantStarted, "granting")
	if !reg.Shared {
		return nil
	}
	return r.checkpoint(ctx, er)
}

// checkpoint stores the status now, in the middle of a reconcile. It replaces
// the whole status guarded by the resourceVersion, so a stale read fails here
// with a conflict before anything is granted.
func (r *ElevationRequestReconciler) checkpoint(ctx context.Context, er *accessv1alpha1.ElevationRequest) error {
	er.Status.ObservedGeneration = er.Generation
	if err := r.Client.Status().Update(ctx, er); err != nil {
		return fmt.Errorf("store the intent to grant: %w", err)
	}
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
	target, _, err := r.connect(ctx, conn)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer closeQuietly(target)
	ent := entitlement(er, er.Status.Grant.Role)
	// The window counts from just before the grant call, not from the step's
	// start: what came before (the fresh read) is not the subject's time.
	grantStart := r.Clock.Now()
	if !er.Status.Grant.Preexisting {
		granted, err := target.Grant(ctx, ent)
		if err != nil {
			return r.grantFailed(ctx, er, err, now)
		}
		ent.Target = &granted.Target
	}
	obs, err := target.Check(ctx, ent)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("verify grant: %w", err)
	}
	if !obs.Present {
		return ctrl.Result{}, fmt.Errorf("granted, but a fresh read does not show it yet: %s", obs.Evidence)
	}
	er.Status.Grant.Target = ent.Target
	r.activate(er, grantStart, duration, obs)
	return ctrl.Result{RequeueAfter: untilExpiryLook(er, now, r.ExpiryLead), Priority: ptr.To(expiryPriority)}, nil
}

func (r *ElevationRequestReconciler) grantFailed(ctx context.Context, er *accessv1alpha1.ElevationRequest, err error, now time.Time) (ctrl.Result, error) {
	if !provider.IsPermanent(err) {
		setCondition(er, accessv1alpha1.ConditionGranted, metav1.ConditionFalse, reasonGrantFailed, "will retry: "+err.Error())
		return ctrl.Result{}, fmt.Errorf("grant: %w", err)
	}
	er.Status.Message = "grant failed: " + err.Error()
	setCondition(er, accessv1alpha1.ConditionGranted, metav1.ConditionFalse, reasonGrantFailed, err.Error())
	r.event(er, corev1.EventTypeWarning, reasonGrantFailed, "Grant", "grant failed, undoing anything partly granted: %v", err)
	return r.revoke(ctx, er, accessv1alpha1.RevocationGrantUndo, "", now)
}

func (r *ElevationRequestReconciler) activate(er *accessv1alpha1.ElevationRequest, now time.Time, duration time.Duration, obs provider.Observation) {
	er.Status.Phase = accessv1alpha1.PhaseActive
	// The API stores times to the second. Both are cut to the second here, so
	// that the expiry acted on is the one users read, and the window is never
	// longer than asked for.
	granted := now.Truncate(time.Second)
	er.Status.GrantedAt = timePtr(granted)
	er.Status.ExpiresAt = timePtr(granted.Add(duration))
	msg := fmt.Sprintf("access granted until %s", er.Status.ExpiresAt.UTC().Format(time.RFC3339))
	if er.Status.Grant.Preexisting {
		msg += "; the subject already had this access before the request (standing access), so Elevator will not remove it"
	}
	er.Status.Message = msg
	setCondition(er, accessv1alpha1.ConditionGranted, metav1.ConditionTrue, reasonGranted, msg+"; verified: "+obs.Evidence)
	setCondition(er, accessv1alpha1.ConditionReady, metav1.ConditionTrue, reasonGranted, msg)
	if approved := meta.FindStatusCondition(er.Status.Conditions, accessv1alpha1.ConditionApproved); approved != nil {
		msg = approved.Message + "; " + msg
	}
	r.event(er, corev1.EventTypeNormal, reasonGranted, "Grant", "%s", msg)
	r.Audit.Record(audit.ActionGrant, er, "", "verificationMethod", obs.Method, "evidence", obs.Evidence, "preexisting", er.Status.Grant.Preexisting)
	observeApprovalToGrant(er, now)
}

func (r *ElevationRequestReconciler) reconcileActive(ctx context.Context, er *accessv1alpha1.ElevationRequest, now time.Time) (ctrl.Result, error) {
	switch rev := r.revokeRequest(er); {
	case !er.DeletionTimestamp.IsZero():
		return r.revoke(ctx, er, accessv1alpha1.RevocationDeleted, "", now)
	case rev != nil:
		return r.revoke(ctx, er, accessv1alpha1.RevocationEarly, rev.User, now)
	case expiryDue(er, now, r.ExpiryLead):
		return r.revoke(ctx, er, accessv1alpha1.RevocationExpired, "", now)
	}
	return ctrl.Result{RequeueAfter: untilExpiryLook(er, now, r.ExpiryLead), Priority: ptr.To(expiryPriority)}, nil
}

// refuse ends a request that policy forbids granting; nothing was granted.
func (r *ElevationRequestReconciler) refuse(er *accessv1alpha1.ElevationRequest, err error) {
	r.finishNeverGranted(er, accessv1alpha1.PhaseFailed, reasonPolicyViolation, "refused to grant: "+err.Error())
	r.Audit.Record(audit.ActionFail, er, "", "reason", err.Error())
}

func (r *ElevationRequestReconciler) finishNeverGranted(er *accessv1alpha1.ElevationRequest, phase accessv1alpha1.Phase, reason, msg string) {
	er.Status.Phase = phase
	er.Status.Message = msg
	if phase == accessv1alpha1.PhaseDenied {
		setCondition(er, accessv1alpha1.ConditionApproved, metav1.ConditionFalse, reason, msg)
	}
	setCondition(er, accessv1alpha1.ConditionGranted, metav1.ConditionFalse, reasonNotGranted, msg)
	setCondition(er, accessv1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
	eventType := corev1.EventTypeNormal
	if phase == accessv1alpha1.PhaseFailed {
		eventType = corev1.EventTypeWarning
	}
	r.event(er, eventType, reason, string(phase), "%s", msg)
}

// connection reads the request's SaaSConnection; nil when it does not exist.
func (r *ElevationRequestReconciler) connection(ctx context.Context, er *accessv1alpha1.ElevationRequest) (*accessv1alpha1.SaaSConnection, error) {
	conn := &accessv1alpha1.SaaSConnection{}
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: er.Namespace, Name: er.Spec.Connection}, conn)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read SaaSConnection %q: %w", er.Spec.Connection, err)
	}
	return conn, nil
}

func (r *ElevationRequestReconciler) connect(ctx context.Context, conn *accessv1alpha1.SaaSConnection) (provider.Client, provider.Registration, error) {
	return r.Providers.Connect(ctx, provider.Config{Connection: conn, Secrets: SecretReader(r.APIReader, conn.Namespace)})
}

// ensureFresh fails when the cache is behind the API server, so that nothing is
// granted on a stale view of the request (a request already revoked, say).
func (r *ElevationRequestReconciler) ensureFresh(ctx context.Context, er *accessv1alpha1.ElevationRequest) error {
	fresh := &accessv1alpha1.ElevationRequest{}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: er.Namespace, Name: er.Name}, fresh); err != nil {
		return fmt.Errorf("re-read request before granting: %w", err)
	}
	if fresh.ResourceVersion != er.ResourceVersion {
		return fmt.Errorf("request changed since it was read (resourceVersion %s, now %s); retrying", er.ResourceVersion, fresh.ResourceVersion)
	}
	return nil
}

// otherHolders lists the other requests that hold the same entitlement.
func (r *ElevationRequestReconciler) otherHolders(ctx context.Context, er *accessv1alpha1.ElevationRequest) ([]*accessv1alpha1.ElevationRequest, error) {
	return r.otherRequests(ctx, er, holdsForOthers)
}

// otherRequests lists the other requests for the same entitlement that match.
func (r *ElevationRequestReconciler) otherRequests(ctx context.Context, er *accessv1alpha1.ElevationRequest, match func(*accessv1alpha1.ElevationRequest) bool) ([]*accessv1alpha1.ElevationRequest, error) {
	var list accessv1alpha1.ElevationRequestList
	if err := r.Client.List(ctx, &list, client.InNamespace(er.Namespace), client.MatchingFields{entitlementIndex: entitlementKey(er)}); err != nil {
		return nil, fmt.Errorf("list requests for the same entitlement: %w", err)
	}
	var out []*accessv1alpha1.ElevationRequest
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID != er.UID && match(other) {
			out = append(out, other)
		}
	}
	return out, nil
}

// event queues an Event about the request; it is recorded once the reconcile's
// status is stored.
func (r *ElevationRequestReconciler) event(er *accessv1alpha1.ElevationRequest, eventType, reason, action, note string, args ...any) {
	r.pending.add(er, eventType, reason, action, note, args...)
}

func entitlement(er *accessv1alpha1.ElevationRequest, role accessv1alpha1.Role) provider.Entitlement {
	return provider.Entitlement{Subject: er.Spec.Subject, Role: role, Holder: types.NamespacedName{Namespace: er.Namespace, Name: er.Name}}
}

func pendingTimeout(conn *accessv1alpha1.SaaSConnection) time.Duration {
	value := accessv1alpha1.DefaultPendingTimeout
	if conn != nil && conn.Spec.PendingTimeout != "" {
		value = conn.Spec.PendingTimeout
	}
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		d, _ = time.ParseDuration(accessv1alpha1.DefaultPendingTimeout)
	}
	return d
}

func closeQuietly(c provider.Client) { _ = c.Close() }
