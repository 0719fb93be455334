package controller

import (
	"context"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/audit"
	"github.com/elevator-dev/elevator/internal/policy"
)

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
	if rec.BreakGlass != nil {
		if er.Status.BreakGlass == nil {
			er.Status.BreakGlass = &accessv1alpha1.BreakGlassStatus{}
		}
		er.Status.BreakGlass.Used = *rec.BreakGlass
		if rec.Review != nil && er.Status.BreakGlass.Review == nil {
			r.record(audit.ActionReview, er, rec.Review.User, "comment", rec.Review.Comment)
		}
		er.Status.BreakGlass.Review = rec.Review
	}
}

// reviewLook keeps a break-glass use's review deadline: until an approver
// reviews it, the request is looked at again at the deadline (whatever its
// phase), and past it the use is counted in
// elevator_break_glass_reviews_overdue and a Warning Event says so.
func (r *ElevationRequestReconciler) reviewLook(er *accessv1alpha1.ElevationRequest, result ctrl.Result, now time.Time) ctrl.Result {
	key := types.NamespacedName{Namespace: er.Namespace, Name: er.Name}
	bg := er.Status.BreakGlass
	if bg == nil || bg.ReviewDeadline == nil || bg.Review != nil {
		r.Metrics.ObserveReview(key, false)
		return result
	}
	if until := bg.ReviewDeadline.Sub(now); until > 0 {
		r.Metrics.ObserveReview(key, false)
		if result.RequeueAfter == 0 || until < result.RequeueAfter {
			result.RequeueAfter = until
		}
		return result
	}
	if r.Metrics.ObserveReview(key, true) {
		r.Recorder.Eventf(er, nil, corev1.EventTypeWarning, accessv1alpha1.ReasonReviewOverdue, "Review",
			"%s's break-glass of %s is not reviewed; it was due by %s: an approver sets %s", bg.Used.User, bg.Used.At.UTC().Format(time.RFC3339),
			bg.ReviewDeadline.UTC().Format(time.RFC3339), accessv1alpha1.AnnotationReview)
	}
	return result
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

// approverList is the approvers' names, comma-separated, in the order they approved.
func approverList(approvals []accessv1alpha1.ApprovalRecord) string {
	users := make([]string, 0, len(approvals))
	for _, a := range approvals {
		users = append(users, a.User)
	}
	return strings.Join(users, ",")
}
