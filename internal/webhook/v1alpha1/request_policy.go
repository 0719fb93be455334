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

// RequestPolicy is what a new request is checked against besides its
// connections: the operator's caps.
type RequestPolicy struct {
	// MaxDuration is the operator's --max-duration; 0 means no global cap.
	MaxDuration time.Duration
	// Grantable is the operator's --grantable-cluster-roles; nil allows none.
	Grantable policy.GrantableClusterRoles
}

// CheckPolicy enforces the rules of a new request: justification non-empty,
// and for each target (the one connection and role, or each of spec.targets)
// the connection and role exist, the subject is one the connection allows, the
// duration is within every cap (policy.Check), a role needing no approval is
// asked for by its own subject, and a kubernetes role binds only a grantable
// ClusterRole. A target of spec.targets is checked as if it were asked for
// alone (ElevationRequestSpec.ForTarget), so the duration ends up within the
// smallest cap among them. A violation is a rejection error naming the field
// (spec.targets[i].role for a target), the value and the limit.
func CheckPolicy(ctx context.Context, reader ConnectionReader, req *accessv1alpha1.ElevationRequest, requester string, p RequestPolicy) error {
	if err := CheckSpec(&req.Spec); err != nil {
		return rejection{err}
	}
	for i, t := range req.Spec.TargetsOf() {
		err := checkTarget(ctx, reader, req, t, requester, p)
		if err != nil && req.Spec.IsMultiTarget() {
			err = inTarget(err, i, t)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkTarget checks the request as if it asked for target t alone.
func checkTarget(ctx context.Context, reader ConnectionReader, req *accessv1alpha1.ElevationRequest, t accessv1alpha1.Target, requester string, p RequestPolicy) error {
	one := *req
	one.Spec = req.Spec.ForTarget(t)
	conn := &accessv1alpha1.SaaSConnection{}
	key := client.ObjectKey{Namespace: req.Namespace, Name: t.Connection}
	if err := reader.Get(ctx, key, conn); err != nil {
		if apierrors.IsNotFound(err) {
			return rejection{&policy.FieldError{Field: "spec.connection", Detail: fmt.Sprintf("SaaSConnection %q not found in namespace %q", t.Connection, req.Namespace)}}
		}
		return fmt.Errorf("read SaaSConnection %s: %w", key, err)
	}
	role, err := policy.Check(&one, conn, p.MaxDuration)
	if err != nil {
		return rejection{err}
	}
	if err := policy.CheckAutoApproval(role, one.Spec.Subject, requester); err != nil {
		return rejection{err}
	}
	if err := policy.CheckGrantable(conn, role, p.Grantable); err != nil {
		return rejection{&policy.FieldError{Field: "spec.role", Detail: fmt.Sprintf("role %q cannot be granted: %v", role.Name, err)}}
	}
	return nil
}

// inTarget names target i of spec.targets in err, keeping it a rejection when
// it was one.
func inTarget(err error, i int, t accessv1alpha1.Target) error {
	if r, ok := errors.AsType[rejection](err); ok {
		return rejection{policy.InTarget(r.err, i, t)}
	}
	return fmt.Errorf("spec.targets[%d] (%s): %w", i, t, err)
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
	}
	if err := checkTargetForm(spec); err != nil {
		return err
	}
	if _, err := policy.ParseDuration("spec.duration", spec.Duration); err != nil {
		return err
	}
	return nil
}

// checkTargetForm checks that the spec names its targets in exactly one form:
// connection and role, or up to MaxTargets distinct spec.targets.
func checkTargetForm(spec *accessv1alpha1.ElevationRequestSpec) error {
	if !spec.IsMultiTarget() {
		switch {
		case spec.Connection == "":
			return fmt.Errorf("spec.connection: must name a SaaSConnection, got %q", spec.Connection)
		case spec.Role == "":
			return fmt.Errorf("spec.role: must name a role of the connection, got %q", spec.Role)
		}
		return nil
	}
	if n := len(spec.Targets); n > accessv1alpha1.MaxTargets {
		return fmt.Errorf("spec.targets: %d targets, the limit is %d: one request reaches at most %d systems; split it into several requests", n, accessv1alpha1.MaxTargets, accessv1alpha1.MaxTargets)
	}
	if spec.Connection != "" || spec.Role != "" {
		return fmt.Errorf("spec: give either connection and role, or targets, not both (connection %q, role %q, %d targets)", spec.Connection, spec.Role, len(spec.Targets))
	}
	first := map[accessv1alpha1.Target]int{}
	for i, t := range spec.Targets {
		switch {
		case t.Connection == "":
			return fmt.Errorf("spec.targets[%d].connection: must name a SaaSConnection, got %q", i, t.Connection)
		case t.Role == "":
			return fmt.Errorf("spec.targets[%d].role: must name a role of the connection, got %q", i, t.Role)
		}
		if j, seen := first[t]; seen {
			return fmt.Errorf("spec.targets[%d]: %s is already spec.targets[%d]; name each connection and role once", i, t, j)
		}
		first[t] = i
	}
	return nil
}
