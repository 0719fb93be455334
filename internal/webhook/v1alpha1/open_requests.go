package v1alpha1

import (
	"context"
	"fmt"
	"slices"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// DefaultMaxOpenRequests is the default of --max-open-requests-per-subject.
const DefaultMaxOpenRequests = 3

// subjectConnectionIndex indexes requests by connection and subject (lower
// case, so that case variants of one name share the cap).
const subjectConnectionIndex = "elevator.dev/webhook-subject-connection"

func subjectConnectionKey(connection, subject string) string {
	return connection + "\x00" + strings.ToLower(subject)
}

func indexOpenRequests(mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &accessv1alpha1.ElevationRequest{}, subjectConnectionIndex,
		func(obj client.Object) []string {
			er := obj.(*accessv1alpha1.ElevationRequest)
			return []string{subjectConnectionKey(er.Spec.Connection, er.Spec.Subject)}
		})
	if err != nil {
		return fmt.Errorf("index ElevationRequests by subject and connection: %w", err)
	}
	return nil
}

// checkOpenRequests refuses a new request when its subject already has max open
// (non-terminal) requests on the same connection. It counts from the
// manager's cache: requests created in the same instant may pass together, so
// the cap bounds a flood rather than being exact.
func checkOpenRequests(ctx context.Context, reader client.Reader, obj *accessv1alpha1.ElevationRequest, maxOpen int) error {
	if maxOpen <= 0 {
		return nil
	}
	var list accessv1alpha1.ElevationRequestList
	if err := reader.List(ctx, &list, client.InNamespace(obj.Namespace),
		client.MatchingFields{subjectConnectionIndex: subjectConnectionKey(obj.Spec.Connection, obj.Spec.Subject)}); err != nil {
		return fmt.Errorf("list the open requests of %q: %w", obj.Spec.Subject, err)
	}
	var open []string
	for i := range list.Items {
		if !list.Items[i].Status.Phase.IsTerminal() && list.Items[i].Name != obj.Name {
			open = append(open, list.Items[i].Name)
		}
	}
	if len(open) >= maxOpen {
		slices.Sort(open)
		return rejection{fmt.Errorf("spec.subject: %q already has %d open requests on connection %q (%s), the limit is %d (--max-open-requests-per-subject): wait for one to end or revoke one",
			obj.Spec.Subject, len(open), obj.Spec.Connection, strings.Join(open, ", "), maxOpen)}
	}
	return nil
}
