package v1alpha1

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/policy"
)

// Trigger is one trigger annotation set by the user of an admission request.
type Trigger struct {
	Key   string // accessv1alpha1.AnnotationApprove, AnnotationDeny, AnnotationRevoke, AnnotationBreakGlass or AnnotationReview
	Value string // the comment or the reason
	// Role is the request's role in its connection, looked up by the caller
	// for a break-glass trigger (see withPolicy); nil when it does not exist.
	Role *accessv1alpha1.Role
	// PendingTimeout is how long the request may wait for approval, looked up
	// by the caller for an approve or break-glass trigger (see withPolicy):
	// the pendingTimeout of its connection, or the smallest among the
	// connections of its targets, which PendingTimeoutOf names. Zero when it
	// was not looked up.
	PendingTimeout   time.Duration
	PendingTimeoutOf string
}

// Authorizer answers whether a user may approve or deny requests for a
// connection, and whether a subject may break the glass for it.
type Authorizer interface {
	MayApprove(ctx context.Context, user authenticationv1.UserInfo, namespace, connection string) (bool, error)
	MayBreakGlass(ctx context.Context, user authenticationv1.UserInfo, namespace, connection string) (bool, error)
}

// Decision is the outcome of applying a trigger to the stored records.
type Decision struct {
	Records Records
	// NoOp is true when the trigger repeats what the same user already did: it is
	// consumed without changing anything (so a GitOps tool re-applying its own
	// approval does not fail).
	NoOp bool
}

// Decide applies one trigger by user to the stored request old and its records,
// at time at. It returns the new records, or an error whose message is shown to
// the user. The records of old are never changed except by appending the one
// record the trigger asks for, under the user's own name.
func Decide(ctx context.Context, authz Authorizer, old *accessv1alpha1.ElevationRequest, rec Records, user authenticationv1.UserInfo, trig Trigger, at metav1.Time) (Decision, error) {
	if user.Username == "" {
		return Decision{}, fmt.Errorf("%s: the request has no authenticated user name", trig.Key)
	}
	if len(user.Username) > MaxUserLength {
		return Decision{}, fmt.Errorf("%s: the user name is %d bytes, the limit for a record is %d", trig.Key, len(user.Username), MaxUserLength)
	}
	if !utf8.ValidString(trig.Value) || len(trig.Value) > MaxTextLength {
		return Decision{}, fmt.Errorf("%s: value must be valid UTF-8 of at most %d bytes, got %d bytes", trig.Key, MaxTextLength, len(trig.Value))
	}
	switch trig.Key {
	case accessv1alpha1.AnnotationApprove:
		return decideApprove(ctx, authz, old, rec, user, trig, at)
	case accessv1alpha1.AnnotationDeny:
		return decideDeny(ctx, authz, old, rec, user, trig.Value, at)
	case accessv1alpha1.AnnotationRevoke:
		return decideRevoke(ctx, authz, old, rec, user, trig.Value, at)
	case accessv1alpha1.AnnotationBreakGlass:
		return decideBreakGlass(ctx, authz, old, rec, user, trig, at)
	case accessv1alpha1.AnnotationReview:
		return decideReview(ctx, authz, old, rec, user, trig.Value, at)
	}
	return Decision{}, fmt.Errorf("%s is not a trigger annotation", trig.Key)
}

// decideApprove appends the user's approval. On a request with spec.targets
// the approval records the connections the user may approve for, and counts
// for their targets only.
func decideApprove(ctx context.Context, authz Authorizer, old *accessv1alpha1.ElevationRequest, rec Records, user authenticationv1.UserInfo, trig Trigger, at metav1.Time) (Decision, error) {
	name := user.Username
	if policy.SameUser(name, old.Spec.Subject) {
		return Decision{}, fmt.Errorf("%s: user %q is the subject of this request (spec.subject) and cannot approve it: self-approval is not allowed", accessv1alpha1.AnnotationApprove, name)
	}
	if policy.SameUser(name, requesterOf(old, rec)) {
		return Decision{}, fmt.Errorf("%s: user %q created this request (requested-by) and cannot approve it: self-approval is not allowed", accessv1alpha1.AnnotationApprove, name)
	}
	connections, err := requireApprover(ctx, authz, old, user, accessv1alpha1.AnnotationApprove)
	if err != nil {
		return Decision{}, err
	}
	if rec.HasApproval(name) {
		return Decision{Records: rec, NoOp: true}, nil
	}
	if err := requireOpen(old, rec, accessv1alpha1.AnnotationApprove); err != nil {
		return Decision{}, err
	}
	if err := requireInTime(old, trig, at); err != nil {
		return Decision{}, err
	}
	if len(rec.Approvals) >= accessv1alpha1.MaxApprovals {
		return Decision{}, fmt.Errorf("%s: the request already has %d approvals, the limit (status.approvals maxItems)", accessv1alpha1.AnnotationApprove, len(rec.Approvals))
	}
	out := rec
	out.Approvals = append(append([]accessv1alpha1.ApprovalRecord(nil), rec.Approvals...),
		accessv1alpha1.ApprovalRecord{User: name, At: at, Comment: trig.Value, Connections: connections})
	return Decision{Records: out}, nil
}

func decideDeny(ctx context.Context, authz Authorizer, old *accessv1alpha1.ElevationRequest, rec Records, user authenticationv1.UserInfo, reason string, at metav1.Time) (Decision, error) {
	if _, err := requireApprover(ctx, authz, old, user, accessv1alpha1.AnnotationDeny); err != nil {
		return Decision{}, err
	}
	if rec.Denial != nil && rec.Denial.User == user.Username {
		return Decision{Records: rec, NoOp: true}, nil
	}
	if err := requireNotApproved(old); err != nil {
		return Decision{}, err
	}
	if err := requireOpen(old, rec, accessv1alpha1.AnnotationDeny); err != nil {
		return Decision{}, err
	}
	out := rec
	out.Denial = &accessv1alpha1.DenialRecord{User: user.Username, At: at, Reason: reason}
	return Decision{Records: out}, nil
}

func decideRevoke(ctx context.Context, authz Authorizer, old *accessv1alpha1.ElevationRequest, rec Records, user authenticationv1.UserInfo, reason string, at metav1.Time) (Decision, error) {
	name := user.Username
	if name != old.Spec.Subject && name != requesterOf(old, rec) {
		if _, err := requireApprover(ctx, authz, old, user, accessv1alpha1.AnnotationRevoke); err != nil {
			return Decision{}, fmt.Errorf("%w; the subject %q and the requester %q may also revoke", err, old.Spec.Subject, requesterOf(old, rec))
		}
	}
	if rec.Revocation != nil {
		return Decision{Records: rec, NoOp: true}, nil
	}
	if err := requireOpen(old, rec, accessv1alpha1.AnnotationRevoke); err != nil {
		return Decision{}, err
	}
	out := rec
	out.Revocation = &accessv1alpha1.RevokeRecord{User: name, At: at, Reason: reason}
	return Decision{Records: out}, nil
}

// requesterOf is who created the request: the record annotation, or the status
// copy of it when the annotation is missing.
func requesterOf(old *accessv1alpha1.ElevationRequest, rec Records) string {
	if rec.RequestedBy != "" {
		return rec.RequestedBy
	}
	return old.Status.RequestedBy
}

// requireApprover asks the authorizer, with one question per distinct
// connection of the request's targets, on which of them the user may approve
// in the request's namespace, and refuses a user who may on none. On a request
// with spec.targets it returns those connections, sorted: what an approval
// records and counts for. On a request with one connection it returns nil, as
// an approval there counts for that connection without naming it.
func requireApprover(ctx context.Context, authz Authorizer, old *accessv1alpha1.ElevationRequest, user authenticationv1.UserInfo, key string) ([]string, error) {
	connections := policy.Connections(&old.Spec)
	allowed := make([]bool, len(connections))
	var g errgroup.Group
	g.SetLimit(reviewConcurrency)
	for i, c := range connections {
		g.Go(func() error {
			ok, err := authz.MayApprove(ctx, user, old.Namespace, c)
			if err != nil {
				return fmt.Errorf("%s: cannot check whether user %q may approve for SaaSConnection %q: %w", key, user.Username, c, err)
			}
			allowed[i] = ok
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var approvable []string
	for i, c := range connections {
		if allowed[i] {
			approvable = append(approvable, c)
		}
	}
	if len(approvable) == 0 {
		return nil, notApproverError(key, user.Username, old.Namespace, connections)
	}
	if !old.Spec.IsMultiTarget() {
		return nil, nil
	}
	return approvable, nil
}

// notApproverError says that a user is no approver of any of the connections, and
// what RBAC would make them one.
func notApproverError(key, user, namespace string, connections []string) error {
	quoted := make([]string, len(connections))
	for i, c := range connections {
		quoted[i] = strconv.Quote(c)
	}
	named, of := "named "+quoted[0], ""
	if len(connections) > 1 {
		named, of = "named one of "+strings.Join(quoted, ", "), " of any connection of this request"
	}
	return fmt.Errorf("%s: user %q is not an approver%s: it needs RBAC verb %q on resource %q (group %s) %s in namespace %q",
		key, user, of, ApproveVerb, "saasconnections", accessv1alpha1.GroupVersion.Group, named, namespace)
}

// requireOpen refuses to change a request that has ended or been denied.
func requireOpen(old *accessv1alpha1.ElevationRequest, rec Records, key string) error {
	if old.Status.Phase.IsTerminal() {
		return fmt.Errorf("%s: the request is already %s (status.phase); nothing can be approved, denied or revoked", key, old.Status.Phase)
	}
	if d := denial(old, rec); d != nil {
		return fmt.Errorf("%s: the request was denied by %q (%q); a denial is final", key, d.User, d.Reason)
	}
	return nil
}

// requireNotApproved refuses a denial once the request was approved: it would
// be ignored (the grant goes ahead), so the user is told what ends access.
func requireNotApproved(old *accessv1alpha1.ElevationRequest) error {
	switch old.Status.Phase {
	case accessv1alpha1.PhaseApproved, accessv1alpha1.PhaseActive, accessv1alpha1.PhaseRevoking:
		return fmt.Errorf("%s: the request is already %s (status.phase), so a denial would change nothing; to end its access set %s=\"reason\" instead",
			accessv1alpha1.AnnotationDeny, old.Status.Phase, accessv1alpha1.AnnotationRevoke)
	}
	return nil
}

func denial(old *accessv1alpha1.ElevationRequest, rec Records) *accessv1alpha1.DenialRecord {
	if rec.Denial != nil {
		return rec.Denial
	}
	return old.Status.Denial
}
