package v1alpha1

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/policy"
)

// ConnectionReader reads SaaSConnections.
type ConnectionReader = client.Reader

// CacheFirst reads from Cache and asks API only when Cache has no such object,
// so a connection created a moment ago (applied in the same file as the request,
// say) is seen, and every other read costs the API server nothing. The
// controller checks the policy again, from its own read, before it grants.
type CacheFirst struct {
	Cache client.Reader
	API   client.Reader
}

// Get implements client.Reader.
func (r CacheFirst) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := r.Cache.Get(ctx, key, obj, opts...)
	if apierrors.IsNotFound(err) {
		return r.API.Get(ctx, key, obj, opts...)
	}
	return err
}

// List implements client.Reader.
func (r CacheFirst) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return r.Cache.List(ctx, list, opts...)
}

// rejection is a policy violation to show the user, as opposed to a failure to
// check the policy.
type rejection struct{ err error }

func (r rejection) Error() string { return r.err.Error() }
func (r rejection) Unwrap() error { return r.err }

func isRejection(err error) bool {
	var r rejection
	return errors.As(err, &r)
}

// CheckPolicy enforces the rules of a new request: justification non-empty, the
// connection and role exist, and the duration is within every cap (policy.Check).
// A violation is a rejection error naming the field, the value and the limit.
func CheckPolicy(ctx context.Context, reader ConnectionReader, req *accessv1alpha1.ElevationRequest, requester string, maxDuration time.Duration) error {
	if err := CheckSpec(&req.Spec); err != nil {
		return rejection{err}
	}
	conn := &accessv1alpha1.SaaSConnection{}
	key := client.ObjectKey{Namespace: req.Namespace, Name: req.Spec.Connection}
	if err := reader.Get(ctx, key, conn); err != nil {
		if apierrors.IsNotFound(err) {
			return rejection{fmt.Errorf("spec.connection: SaaSConnection %q not found in namespace %q", req.Spec.Connection, req.Namespace)}
		}
		return fmt.Errorf("read SaaSConnection %s: %w", key, err)
	}
	role, err := policy.Check(req, conn, maxDuration)
	if err != nil {
		return rejection{err}
	}
	if err := policy.CheckAutoApproval(role, req.Spec.Subject, requester); err != nil {
		return rejection{err}
	}
	return nil
}

// CheckSpec checks what can be checked without the connection. The CRD schema
// checks the same; the webhook repeats it so the rule holds even for a schema
// that was edited.
func CheckSpec(spec *accessv1alpha1.ElevationRequestSpec) error {
	switch {
	case strings.TrimSpace(spec.Justification) == "":
		return fmt.Errorf("spec.justification: must not be blank, got %q", spec.Justification)
	case strings.TrimSpace(spec.Subject) == "":
		return fmt.Errorf("spec.subject: must not be blank, got %q", spec.Subject)
	case spec.Connection == "":
		return fmt.Errorf("spec.connection: must name a SaaSConnection, got %q", spec.Connection)
	case spec.Role == "":
		return fmt.Errorf("spec.role: must name a role of the connection, got %q", spec.Role)
	}
	if _, err := policy.ParseDuration("spec.duration", spec.Duration); err != nil {
		return err
	}
	return nil
}
