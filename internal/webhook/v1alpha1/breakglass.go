package v1alpha1

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/policy"
)

// decideBreakGlass admits the subject's own approval of their request in an
// emergency: only the subject, only for a role whose breakGlass allows it,
// only with the RBAC verb breakglass on the connection, with a justification
// long enough and a duration short enough, and only while it waits for
// approval.
func decideBreakGlass(ctx context.Context, authz Authorizer, old *accessv1alpha1.ElevationRequest, rec Records, user authenticationv1.UserInfo, trig Trigger, at metav1.Time) (Decision, error) {
	key := accessv1alpha1.AnnotationBreakGlass
	if old.Spec.IsMultiTarget() {
		return Decision{}, fmt.Errorf("%s: break-glass is for a request with one connection, and this one has %d targets (spec.targets); "+
			"create one request per system (spec.connection and spec.role) to break the glass for it", key, len(old.Spec.Targets))
	}
	if !policy.SameUser(user.Username, old.Spec.Subject) {
		return Decision{}, fmt.Errorf("%s: only the subject %q may break the glass for their own request; user %q is not the subject", key, old.Spec.Subject, user.Username)
	}
	if rec.BreakGlass != nil {
		return Decision{Records: rec, NoOp: true}, nil
	}
	if err := requireOpen(old, rec, key); err != nil {
		return Decision{}, err
	}
	if old.Status.Phase != "" && old.Status.Phase != accessv1alpha1.PhasePending {
		return Decision{}, fmt.Errorf("%s: the request is already %s (status.phase); break-glass approves only a request that waits for approval", key, old.Status.Phase)
	}
	if err := requireInTime(old, trig, at); err != nil {
		return Decision{}, err
	}
	if err := policy.CheckBreakGlass(old, trig.Role); err != nil {
		return Decision{}, fmt.Errorf("%s: %w", key, err)
	}
	ok, err := authz.MayBreakGlass(ctx, user, old.Namespace, old.Spec.Connection)
	if err != nil {
		return Decision{}, fmt.Errorf("%s: cannot check whether user %q may break the glass: %w", key, user.Username, err)
	}
	if !ok {
		return Decision{}, fmt.Errorf("%s: user %q may not break the glass: it needs RBAC verb %q on resource %q (group %s) named %q in namespace %q",
			key, user.Username, BreakGlassVerb, "saasconnections", accessv1alpha1.GroupVersion.Group, old.Spec.Connection, old.Namespace)
	}
	out := rec
	out.BreakGlass = &accessv1alpha1.BreakGlassRecord{User: user.Username, At: at, Reason: trig.Value}
	return Decision{Records: out}, nil
}

// decideReview admits an approver's review of a break-glass use: never by the
// subject, once.
func decideReview(ctx context.Context, authz Authorizer, old *accessv1alpha1.ElevationRequest, rec Records, user authenticationv1.UserInfo, comment string, at metav1.Time) (Decision, error) {
	key := accessv1alpha1.AnnotationReview
	if rec.BreakGlass == nil {
		return Decision{}, fmt.Errorf("%s: nothing to review: the request was not approved by break-glass", key)
	}
	if policy.SameUser(user.Username, old.Spec.Subject) || policy.SameUser(user.Username, rec.BreakGlass.User) {
		return Decision{}, fmt.Errorf("%s: user %q broke the glass and cannot review it; another approver must", key, user.Username)
	}
	if _, err := requireApprover(ctx, authz, old, user, key); err != nil {
		return Decision{}, err
	}
	if rec.Review != nil {
		if rec.Review.User == user.Username {
			return Decision{Records: rec, NoOp: true}, nil
		}
		return Decision{}, fmt.Errorf("%s: already reviewed by %q; a review is written once", key, rec.Review.User)
	}
	out := rec
	out.Review = &accessv1alpha1.ReviewRecord{User: user.Username, At: at, Comment: comment}
	return Decision{Records: out}, nil
}
