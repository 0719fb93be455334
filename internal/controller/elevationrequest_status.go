package controller

import (
	"context"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/policy"
)

const entitlementIndex = "elevator.dev/entitlement"

// entitlementKey identifies what a request holds in the target: requests with the
// same key hold the same group membership in a shared-entitlement provider.
func entitlementKey(er *accessv1alpha1.ElevationRequest) string {
	return er.Spec.Connection + "\x00" + er.Spec.Role + "\x00" + er.Spec.Subject
}

// syncRecords copies the records the admission webhook keeps in annotations
// into status. Only records whose signature verifies are copied: the webhook
// signs what it wrote from what the API server authenticated, while anything
// typed by hand (with the webhooks off, say) is logged and ignored.
func (r *ElevationRequestReconciler) syncRecords(ctx context.Context, er *accessv1alpha1.ElevationRequest) {
	rec, err := r.Records.Verify(er)
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("ignoring the request's records: they are not signed by this operator's webhook", "reason", err.Error())
		return
	}
	if rec.RequestedBy != "" {
		er.Status.RequestedBy = rec.RequestedBy
	}
	if len(rec.Approvals) > 0 {
		er.Status.Approvals = rec.Approvals
		er.Status.ApprovedBy = approverList(rec.Approvals)
	}
	if rec.Denial != nil && er.Status.Denial == nil {
		er.Status.Denial = rec.Denial
	}
}

// revokeRequest is the early revocation a user asked for, if any, from
// records whose signature verifies.
func (r *ElevationRequestReconciler) revokeRequest(er *accessv1alpha1.ElevationRequest) *accessv1alpha1.RevokeRecord {
	rec, err := r.Records.Verify(er)
	if err != nil {
		return nil
	}
	return rec.Revocation
}

// hasRevocationRecord reports whether a revocation record is present, signed
// or not: it only decides how soon a request is looked at.
func hasRevocationRecord(er *accessv1alpha1.ElevationRequest) bool {
	_, ok := er.Annotations[accessv1alpha1.AnnotationRevocation]
	return ok
}

// countedApprovals are the approvals that count: one per user, and none by the
// subject or the requester, in any case variant of their names (the webhook
// refuses those; this re-checks).
func countedApprovals(er *accessv1alpha1.ElevationRequest) []accessv1alpha1.ApprovalRecord {
	excluded := []string{er.Spec.Subject, er.Status.RequestedBy}
	var out []accessv1alpha1.ApprovalRecord
	for _, a := range er.Status.Approvals {
		same := func(u string) bool { return policy.SameUser(a.User, u) }
		if a.User == "" || slices.ContainsFunc(excluded, same) {
			continue
		}
		excluded = append(excluded, a.User)
		out = append(out, a)
	}
	return out
}

// lastApprovalTime is when the request got its deciding approval, or its
// creation for a role that needs none.
func lastApprovalTime(er *accessv1alpha1.ElevationRequest, approvals []accessv1alpha1.ApprovalRecord) time.Time {
	t := er.CreationTimestamp.Time
	for _, a := range approvals {
		if a.At.After(t) {
			t = a.At.Time
		}
	}
	return t
}

// holdsAccess reports whether the request may have access in the target, so
// that it must be revoked before it may go.
func holdsAccess(er *accessv1alpha1.ElevationRequest) bool {
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
	rev := er.Status.Revocation
	if er.Status.Phase != accessv1alpha1.PhaseRevoking || rev == nil || rev.Attempts == 0 || rev.RetainedBy != "" {
		return false
	}
	return er.Status.ExpiresAt == nil || !now.Before(er.Status.ExpiresAt.Time) || rev.Reason != accessv1alpha1.RevocationExpired
}

func setCondition(er *accessv1alpha1.ElevationRequest, condType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&er.Status.Conditions, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: er.Generation,
	})
}

func timePtr(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

// approverList is the approvers' names, comma-separated, in the order they approved.
func approverList(approvals []accessv1alpha1.ApprovalRecord) string {
	users := make([]string, 0, len(approvals))
	for _, a := range approvals {
		users = append(users, a.User)
	}
	return strings.Join(users, ",")
}
