package v1alpha1

import (
	"context"
	"fmt"
	"slices"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/policy"
)

// DefaultMaxOpenRequests is the default of --max-open-requests-per-subject.
const DefaultMaxOpenRequests = 3

// subjectConnectionIndex indexes requests by connection and subject (lower
// case, so that case variants of one name share the cap): one key per
// distinct connection the request asks for.
const subjectConnectionIndex = "elevator.dev/webhook-subject-connection"

func subjectConnectionKey(connection, subject string) string {
	return connection + "\x00" + strings.ToLower(subject)
}

func indexOpenRequests(mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &accessv1alpha1.ElevationRequest{}, subjectConnectionIndex, subjectConnectionKeys)
	if err != nil {
		return fmt.Errorf("index ElevationRequests by subject and connection: %w", err)
	}
	return nil
}

// subjectConnectionKeys are the index keys of a request.
func subjectConnectionKeys(obj client.Object) []string {
	er := obj.(*accessv1alpha1.ElevationRequest)
	var keys []string
	for _, c := range policy.Connections(&er.Spec) {
		keys = append(keys, subjectConnectionKey(c, er.Spec.Subject))
	}
	return keys
}

// checkOpenRequests refuses a new request when its subject already has max open
// (non-terminal) requests on one of its connections: a request with
// spec.targets counts once on each of its connections. It counts from the
// manager's cache: requests created in the same instant may pass together, so
// the cap bounds a flood rather than being exact.
func checkOpenRequests(ctx context.Context, reader client.Reader, obj *accessv1alpha1.ElevationRequest, maxOpen int) error {
	if maxOpen <= 0 {
		return nil
	}
	checked := map[string]bool{}
	for i, t := range obj.Spec.TargetsOf() {
		if checked[t.Connection] {
			continue
		}
		checked[t.Connection] = true
		err := checkOpenOn(ctx, reader, obj, t.Connection, maxOpen)
		if err != nil && obj.Spec.IsMultiTarget() {
			err = inTarget(err, i, t)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkOpenOn applies the cap to the subject's requests on one connection.
func checkOpenOn(ctx context.Context, reader client.Reader, obj *accessv1alpha1.ElevationRequest, connection string, maxOpen int) error {
	var list accessv1alpha1.ElevationRequestList
	if err := reader.List(ctx, &list, client.InNamespace(obj.Namespace),
		client.MatchingFields{subjectConnectionIndex: subjectConnectionKey(connection, obj.Spec.Subject)}); err != nil {
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
		return rejection{&policy.FieldError{Field: "spec.subject", Detail: fmt.Sprintf(
			"%q already has %d open requests on connection %q (%s), the limit is %d (--max-open-requests-per-subject): wait for one to end or revoke one",
			obj.Spec.Subject, len(open), connection, strings.Join(open, ", "), maxOpen)}}
	}
	return nil
}
