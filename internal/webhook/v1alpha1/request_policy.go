package v1alpha1

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/policy"
)

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
