package v1alpha1

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/policy"
)

// withPolicy looks up in the request's connections what deciding trig needs:
// for an approval or a break-glass the pending timeout (requireInTime), and
// for a break-glass the role, whose breakGlass decideBreakGlass checks.
func withPolicy(ctx context.Context, reader client.Reader, old *accessv1alpha1.ElevationRequest, trig Trigger) (Trigger, error) {
	if trig.Key != accessv1alpha1.AnnotationApprove && trig.Key != accessv1alpha1.AnnotationBreakGlass {
		return trig, nil
	}
	conns, err := readConnections(ctx, reader, old)
	if err != nil {
		return trig, fmt.Errorf("%s: %w", trig.Key, err)
	}
	trig.PendingTimeout, trig.PendingTimeoutOf = policy.RequestPendingTimeout(&old.Spec, conns)
	if trig.Key == accessv1alpha1.AnnotationBreakGlass && !old.Spec.IsMultiTarget() {
		if conn := conns[old.Spec.Connection]; conn != nil {
			if role, err := policy.FindRole(conn, old.Spec.Role); err == nil {
				trig.Role = role
			}
		}
	}
	return trig, nil
}

// readConnections reads each distinct connection of the request; one that does
// not exist maps to nil.
func readConnections(ctx context.Context, reader client.Reader, old *accessv1alpha1.ElevationRequest) (map[string]*accessv1alpha1.SaaSConnection, error) {
	out := map[string]*accessv1alpha1.SaaSConnection{}
	for _, name := range policy.Connections(&old.Spec) {
		conn := &accessv1alpha1.SaaSConnection{}
		err := reader.Get(ctx, types.NamespacedName{Namespace: old.Namespace, Name: name}, conn)
		switch {
		case apierrors.IsNotFound(err):
			out[name] = nil
		case err != nil:
			return nil, fmt.Errorf("read SaaSConnection %q: %w", name, err)
		default:
			out[name] = conn
		}
	}
	return out, nil
}

// requireInTime refuses an approval or a break-glass at or after the pending
// deadline (creation + the pending timeout) of a request still waiting for
// approval. The controller ends such a request Expired, counting only the
// approvals admitted before the deadline (approvedInTime), but it may not have
// looked yet; admitted, the approval would only look as if it counted. A
// request already Approved or further is past that question.
func requireInTime(old *accessv1alpha1.ElevationRequest, trig Trigger, at metav1.Time) error {
	if trig.PendingTimeout <= 0 || old.CreationTimestamp.IsZero() {
		// Not looked up, or an object the API server did not store: every
		// stored request has a creation time.
		return nil
	}
	if old.Status.Phase != "" && old.Status.Phase != accessv1alpha1.PhasePending {
		return nil
	}
	deadline := old.CreationTimestamp.Add(trig.PendingTimeout)
	if at.Time.Before(deadline) {
		return nil
	}
	which := ""
	if old.Spec.IsMultiTarget() {
		which = ", the smallest among the request's connections"
	}
	return fmt.Errorf("%s: the request's pending timeout of %s (spec.pendingTimeout of SaaSConnection %q%s) has passed: created at %s, it had to be approved before %s; "+
		"an approval after that does not count and the request expires without being granted: create a new request",
		trig.Key, trig.PendingTimeout, trig.PendingTimeoutOf, which,
		old.CreationTimestamp.UTC().Format(time.RFC3339), deadline.UTC().Format(time.RFC3339))
}
