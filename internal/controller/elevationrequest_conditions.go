package controller

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/activity"
)

// The lifecycle steps change only the facts of a request's status (phase,
// approvals, grant, revocation, blocker, residual paths, message). Its
// conditions are derived from those facts here, by pure functions, once before
// each status write: so a condition can never disagree with the facts, and what
// each condition says in each phase is read in one place.

// setConditions derives every condition from the status facts and stores them
// in er.Status.Conditions, keeping the lastTransitionTime of those whose status
// did not change and dropping those that no longer apply.
func setConditions(er *accessv1alpha1.ElevationRequest) {
	want := conditionsFor(er)
	keep := make(map[string]bool, len(want))
	for _, c := range want {
		c.ObservedGeneration = er.Generation
		meta.SetStatusCondition(&er.Status.Conditions, c)
		keep[c.Type] = true
	}
	for _, c := range append([]metav1.Condition(nil), er.Status.Conditions...) {
		if !keep[c.Type] {
			meta.RemoveStatusCondition(&er.Status.Conditions, c.Type)
		}
	}
}

// conditionsFor is every condition that applies to the request, derived from
// its status facts only.
func conditionsFor(er *accessv1alpha1.ElevationRequest) []metav1.Condition {
	if er.Spec.IsMultiTarget() {
		return conditionsForTargets(er)
	}
	var out []metav1.Condition
	for _, derive := range []func(*accessv1alpha1.ElevationRequest) *metav1.Condition{
		approvedCondition, grantedCondition, revokedCondition, revocationVerifiedCondition,
		residualAccessCondition, readyCondition, reconcilingCondition, stalledCondition,
		activityRecordedCondition,
	} {
		if c := derive(er); c != nil {
			out = append(out, *c)
		}
	}
	return out
}

func condition(condType string, status metav1.ConditionStatus, reason, message string) *metav1.Condition {
	return &metav1.Condition{Type: condType, Status: status, Reason: reason, Message: message}
}

func approvedCondition(er *accessv1alpha1.ElevationRequest) *metav1.Condition {
	s := er.Status
	switch {
	case s.Phase == "":
		return nil
	case s.Phase == accessv1alpha1.PhaseDenied && s.Denial != nil:
		return condition(accessv1alpha1.ConditionApproved, metav1.ConditionFalse, accessv1alpha1.ReasonDenied, denialMessage(s.Denial))
	case s.ApprovedAt != nil && approvedByBreakGlass(er):
		return condition(accessv1alpha1.ConditionApproved, metav1.ConditionTrue, accessv1alpha1.ReasonBreakGlass, approvalMessage(er))
	case s.ApprovedAt != nil:
		return condition(accessv1alpha1.ConditionApproved, metav1.ConditionTrue, accessv1alpha1.ReasonApproved, approvalMessage(er))
	}
	return condition(accessv1alpha1.ConditionApproved, metav1.ConditionFalse, accessv1alpha1.ReasonAwaitingApproval, awaitingMessage(er))
}

func grantedCondition(er *accessv1alpha1.ElevationRequest) *metav1.Condition {
	s := er.Status
	g := s.Grant
	switch {
	case s.GrantedAt != nil && g != nil:
		return condition(accessv1alpha1.ConditionGranted, metav1.ConditionTrue, accessv1alpha1.ReasonGranted, grantedMessage(er)+"; verified: "+g.Verification)
	case g != nil && g.Error != "":
		return condition(accessv1alpha1.ConditionGranted, metav1.ConditionFalse, accessv1alpha1.ReasonGrantFailed, g.Error)
	case g != nil && blockedBy(er, accessv1alpha1.ReasonGrantFailed):
		return condition(accessv1alpha1.ConditionGranted, metav1.ConditionFalse, accessv1alpha1.ReasonGrantFailed, "will retry: "+s.Blocked.Message)
	case g != nil && s.Phase.IsTerminal():
		return condition(accessv1alpha1.ConditionGranted, metav1.ConditionFalse, accessv1alpha1.ReasonNeverGranted, "the request ended before the grant was made and read back")
	case g != nil:
		return condition(accessv1alpha1.ConditionGranted, metav1.ConditionFalse, accessv1alpha1.ReasonGrantStarted, "granting")
	case s.Phase.IsTerminal() && !verified(er):
		return condition(accessv1alpha1.ConditionGranted, metav1.ConditionFalse, accessv1alpha1.ReasonNeverGranted, s.Message)
	}
	return nil
}

// revokedCondition is True once the request has ended after a revocation
// began, and its grant, if one began, was verified gone or was standing access.
func revokedCondition(er *accessv1alpha1.ElevationRequest) *metav1.Condition {
	s := er.Status
	if s.Revocation == nil || !s.Phase.IsTerminal() {
		return nil
	}
	if isStandingAccess(er) {
		return condition(accessv1alpha1.ConditionRevoked, metav1.ConditionTrue, accessv1alpha1.ReasonStandingAccess, s.Message)
	}
	if s.Grant != nil && !verified(er) {
		return nil // a grant whose removal was never verified is not revoked
	}
	return condition(accessv1alpha1.ConditionRevoked, metav1.ConditionTrue, s.Revocation.Reason, s.Message)
}

// revocationVerifiedCondition is True only once a fresh read of the target
// showed Elevator's grant gone, or nothing was ever granted.
func revocationVerifiedCondition(er *accessv1alpha1.ElevationRequest) *metav1.Condition {
	s := er.Status
	rev := s.Revocation
	switch {
	case rev == nil:
		return nil
	case verified(er):
		return condition(accessv1alpha1.ConditionRevocationVerified, metav1.ConditionTrue, accessv1alpha1.ReasonVerified, rev.Method+": "+rev.Detail)
	case s.Phase.IsTerminal() && isStandingAccess(er):
		return condition(accessv1alpha1.ConditionRevocationVerified, metav1.ConditionFalse, accessv1alpha1.ReasonStandingAccess, s.Message)
	case s.Phase.IsTerminal() && s.Grant == nil:
		// Withdrawn before any grant could have begun (withdraw).
		return condition(accessv1alpha1.ConditionRevocationVerified, metav1.ConditionTrue, accessv1alpha1.ReasonNeverGranted, rev.Detail)
	case rev.RetainedBy != "":
		return condition(accessv1alpha1.ConditionRevocationVerified, metav1.ConditionFalse, accessv1alpha1.ReasonRetained, retainedMessage(rev.RetainedBy))
	case s.Blocked != nil:
		return condition(accessv1alpha1.ConditionRevocationVerified, metav1.ConditionFalse, s.Blocked.Reason, s.Blocked.Message)
	}
	return nil
}

// residualAccessCondition says, once Elevator's grant is verified gone,
// whether the subject still holds the access by another path.
func residualAccessCondition(er *accessv1alpha1.ElevationRequest) *metav1.Condition {
	if !verified(er) {
		return nil
	}
	if paths := er.Status.ResidualAccess; len(paths) > 0 {
		return condition(accessv1alpha1.ConditionResidualAccess, metav1.ConditionTrue, accessv1alpha1.ReasonResidualAccess, residualMessage(er.Spec.Subject, paths))
	}
	return condition(accessv1alpha1.ConditionResidualAccess, metav1.ConditionFalse, accessv1alpha1.ReasonNoResidualAccess,
		"no other path to the role's access was found, as far as the target can tell")
}

// readyCondition is True while the access is granted, and False with a reason
// saying where the request is on its way there or out. Once the request has
// ended it is absent: Revoked, Approved and Granted say how it ended. A Ready
// that stayed False would read as "still in progress" to kstatus, which falls
// back to Ready, and a GitOps tool would wait on a finished request forever;
// Ready True would claim access that is gone.
func readyCondition(er *accessv1alpha1.ElevationRequest) *metav1.Condition {
	s := er.Status
	notReady := func(reason, msg string) *metav1.Condition {
		return condition(accessv1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
	}
	switch s.Phase {
	case accessv1alpha1.PhasePending:
		if s.Blocked != nil {
			return notReady(s.Blocked.Reason, s.Blocked.Message)
		}
		return notReady(accessv1alpha1.ReasonAwaitingApproval, "waiting for approval")
	case accessv1alpha1.PhaseApproved:
		if s.Blocked != nil {
			return notReady(s.Blocked.Reason, s.Blocked.Message)
		}
		return notReady(accessv1alpha1.ReasonGrantStarted, "granting")
	case accessv1alpha1.PhaseActive:
		return condition(accessv1alpha1.ConditionReady, metav1.ConditionTrue, accessv1alpha1.ReasonGranted, grantedMessage(er))
	case accessv1alpha1.PhaseRevoking:
		return notReady(accessv1alpha1.ReasonRevoking, revokingMessage(s.Revocation))
	}
	return nil
}

// reconcilingCondition is True while the request moves towards a steady state
// (Active, or ended) and nothing stalls it.
func reconcilingCondition(er *accessv1alpha1.ElevationRequest) *metav1.Condition {
	s := er.Status
	if stalledCondition(er) != nil {
		return nil
	}
	reconciling := func(reason, msg string) *metav1.Condition {
		return condition(accessv1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, msg)
	}
	switch s.Phase {
	case accessv1alpha1.PhasePending:
		return reconciling(accessv1alpha1.ReasonAwaitingApproval, awaitingMessage(er))
	case accessv1alpha1.PhaseApproved:
		if blockedBy(er, accessv1alpha1.ReasonGrantFailed) {
			return reconciling(accessv1alpha1.ReasonGrantFailed, "will retry: "+s.Blocked.Message)
		}
		return reconciling(accessv1alpha1.ReasonGrantStarted, "granting")
	case accessv1alpha1.PhaseRevoking:
		if s.Revocation != nil && s.Revocation.RetainedBy != "" {
			return reconciling(accessv1alpha1.ReasonRetained, retainedMessage(s.Revocation.RetainedBy))
		}
		return reconciling(accessv1alpha1.ReasonRevoking, revokingMessage(s.Revocation))
	}
	return nil
}

// stalledCondition is True while the request cannot move on until someone
// acts: its connection or role is missing, a revocation keeps failing (access
// may remain), or the grant was refused.
func stalledCondition(er *accessv1alpha1.ElevationRequest) *metav1.Condition {
	s := er.Status
	stalled := func(reason, msg string) *metav1.Condition {
		return condition(accessv1alpha1.ConditionStalled, metav1.ConditionTrue, reason, msg)
	}
	switch {
	case (s.Phase == accessv1alpha1.PhasePending || s.Phase == accessv1alpha1.PhaseRevoking) && s.Blocked != nil:
		return stalled(s.Blocked.Reason, s.Blocked.Message)
	case s.Phase == accessv1alpha1.PhaseFailed:
		return stalled(failedReason(er), s.Message)
	}
	return nil
}

// verified reports whether a fresh read of the target showed Elevator's grant gone.
func verified(er *accessv1alpha1.ElevationRequest) bool {
	return er.Status.Revocation != nil && er.Status.Revocation.VerifiedAt != nil
}

// standingAccess reports whether the request ended on access that predates it,
// which Elevator leaves in place.
func isStandingAccess(er *accessv1alpha1.ElevationRequest) bool {
	return er.Status.Grant != nil && er.Status.Grant.Preexisting
}

func blockedBy(er *accessv1alpha1.ElevationRequest, reason string) bool {
	return er.Status.Blocked != nil && er.Status.Blocked.Reason == reason
}

// failedReason tells a grant the provider refused from one policy refused.
func failedReason(er *accessv1alpha1.ElevationRequest) string {
	if er.Status.Revocation != nil && er.Status.Revocation.Reason == accessv1alpha1.RevocationGrantUndo {
		return accessv1alpha1.ReasonGrantFailed
	}
	return accessv1alpha1.ReasonPolicyViolation
}

func awaitingMessage(er *accessv1alpha1.ElevationRequest) string {
	if er.Spec.IsMultiTarget() && len(er.Status.Targets) > 0 {
		return targetsMessage(er, awaitingMessage)
	}
	if required := er.Status.RequiredApprovals; required > 0 {
		return fmt.Sprintf("%d of %d approvals", len(countedApprovals(er)), required)
	}
	return "waiting for approval"
}

// approvedByBreakGlass reports whether the request's approval was its
// subject's break-glass rather than enough approvers.
func approvedByBreakGlass(er *accessv1alpha1.ElevationRequest) bool {
	return er.Status.BreakGlass != nil && len(countedApprovals(er)) < int(er.Status.RequiredApprovals)
}

func approvalMessage(er *accessv1alpha1.ElevationRequest) string {
	if approvedByBreakGlass(er) {
		bg := er.Status.BreakGlass
		msg := fmt.Sprintf("approved by break-glass of %s: %s", bg.Used.User, bg.Used.Reason)
		if bg.Review != nil {
			return msg + fmt.Sprintf("; reviewed by %s", bg.Review.User)
		}
		return msg + "; not reviewed yet"
	}
	if er.Spec.IsMultiTarget() && len(er.Status.Targets) > 0 {
		return "approved for every target: " + targetsMessage(er, approvalMessage)
	}
	required := er.Status.RequiredApprovals
	if required == 0 {
		return "the role needs no approval"
	}
	return fmt.Sprintf("approved by %d of %d required approvers", len(countedApprovals(er)), required)
}

func denialMessage(d *accessv1alpha1.DenialRecord) string {
	return fmt.Sprintf("denied by %s: %s", d.User, d.Reason)
}

// grantedMessage says until when the access holds, and whether it is standing
// access Elevator will not remove.
func grantedMessage(er *accessv1alpha1.ElevationRequest) string {
	if er.Status.ExpiresAt == nil {
		return "access granted"
	}
	msg := fmt.Sprintf("access granted until %s", er.Status.ExpiresAt.UTC().Format(time.RFC3339))
	if isStandingAccess(er) {
		msg += "; the subject already had this access before the request (standing access), so Elevator will not remove it"
	}
	return msg
}

func revokingMessage(rev *accessv1alpha1.Revocation) string {
	if rev == nil {
		return "revoking"
	}
	msg := "revoking: " + rev.Reason
	if rev.RequestedBy != "" {
		msg += " by " + rev.RequestedBy
	}
	return msg
}

func retainedMessage(holder string) string {
	return fmt.Sprintf("retained by %s, which holds the same entitlement; it is removed and verified when the last holder ends", holder)
}

// activityRecordedCondition summarises status.activity: Unknown while the
// source may still deliver, True once Complete, False when Partial or
// Unavailable (what was recorded is true, but absence proves nothing).
func activityRecordedCondition(er *accessv1alpha1.ElevationRequest) *metav1.Condition {
	rec := er.Status.Activity
	if rec == nil {
		return nil
	}
	summary := activity.Summary(er.Spec.Subject, rec.Counts)
	switch rec.State {
	case accessv1alpha1.ActivityComplete:
		return condition(accessv1alpha1.ConditionActivityRecorded, metav1.ConditionTrue, accessv1alpha1.ReasonActivityComplete, summary)
	case accessv1alpha1.ActivityCollecting:
		return condition(accessv1alpha1.ConditionActivityRecorded, metav1.ConditionUnknown, accessv1alpha1.ReasonActivityCollecting, summary+" so far")
	case accessv1alpha1.ActivityUnavailable:
		return condition(accessv1alpha1.ConditionActivityRecorded, metav1.ConditionFalse, rec.Reason, rec.Message)
	}
	return condition(accessv1alpha1.ConditionActivityRecorded, metav1.ConditionFalse, rec.Reason,
		"the record is partial, and an action missing from it may still have happened ("+rec.Message+"); recorded: "+summary)
}
