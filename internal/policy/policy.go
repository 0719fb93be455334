// Package policy holds the rules of an elevation that both the admission webhook
// and the lifecycle controller enforce: the connection and role exist, and the
// duration is within every cap. The webhook rejects at the door; the controller
// re-checks before granting, in case a webhook was bypassed or the policy changed.
package policy

import (
	"fmt"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// FindRole returns the named role of the connection.
func FindRole(conn *accessv1alpha1.SaaSConnection, name string) (*accessv1alpha1.Role, error) {
	for i := range conn.Spec.Roles {
		if conn.Spec.Roles[i].Name == name {
			return &conn.Spec.Roles[i], nil
		}
	}
	names := make([]string, 0, len(conn.Spec.Roles))
	for _, r := range conn.Spec.Roles {
		names = append(names, r.Name)
	}
	return nil, fieldErrorf("spec.role", "role %q does not exist in SaaSConnection %q (roles: %v)", name, conn.Name, names)
}

// Caps are the limits a request's duration must stay within, outermost last.
type Caps struct {
	Role       time.Duration // the role's maxDuration (the connection's when unset)
	RoleSet    bool          // whether the role sets its own maxDuration
	Connection time.Duration // the connection's maxDuration
	Global     time.Duration // the operator's --max-duration; 0 means no global cap
}

// CapsFor reads the caps of a role of a connection.
func CapsFor(conn *accessv1alpha1.SaaSConnection, role *accessv1alpha1.Role, global time.Duration) (Caps, error) {
	connMax, err := ParseDuration("SaaSConnection spec.maxDuration", conn.Spec.MaxDuration)
	if err != nil {
		return Caps{}, err
	}
	roleMax := connMax
	if role.MaxDuration != "" {
		if roleMax, err = ParseDuration(fmt.Sprintf("SaaSConnection spec.roles[%s].maxDuration", role.Name), role.MaxDuration); err != nil {
			return Caps{}, err
		}
	}
	return Caps{Role: roleMax, RoleSet: role.MaxDuration != "", Connection: connMax, Global: global}, nil
}

// CheckDuration enforces duration ≤ role maxDuration ≤ connection maxDuration ≤
// the global cap. The error names the field, the value and the limit.
func CheckDuration(duration time.Duration, role string, caps Caps) error {
	switch {
	case duration <= 0:
		return fieldErrorf("spec.duration", "%s must be positive", duration)
	case caps.RoleSet && duration > caps.Role:
		return fieldErrorf("spec.duration", "%s exceeds the maxDuration %s of role %q", duration, caps.Role, role)
	case caps.Role > caps.Connection:
		return fieldErrorf("spec.role", "role %q maxDuration %s exceeds the connection's maxDuration %s", role, caps.Role, caps.Connection)
	case duration > caps.Connection:
		return fieldErrorf("spec.duration", "%s exceeds the connection's maxDuration %s", duration, caps.Connection)
	case caps.Global > 0 && caps.Connection > caps.Global:
		// With the chain of caps holding, duration ≤ connection ≤ global, so a
		// duration can only pass the global cap through its connection's.
		return fieldErrorf("spec.connection", "the connection's maxDuration %s exceeds the operator's --max-duration %s", caps.Connection, caps.Global)
	}
	return nil
}

// Check validates a request against its connection: the role exists, the
// subject is one the connection allows, and the duration is within every cap.
// It returns the role.
func Check(req *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection, global time.Duration) (*accessv1alpha1.Role, error) {
	role, err := FindRole(conn, req.Spec.Role)
	if err != nil {
		return nil, err
	}
	if err := CheckSubject(conn, req.Spec.Subject); err != nil {
		return nil, err
	}
	duration, err := ParseDuration("spec.duration", req.Spec.Duration)
	if err != nil {
		return nil, err
	}
	caps, err := CapsFor(conn, role, global)
	if err != nil {
		return nil, err
	}
	return role, CheckDuration(duration, role.Name, caps)
}

// ParseDuration parses a Go duration, naming the field when it is not one.
func ParseDuration(field, value string) (time.Duration, error) {
	d, err := time.ParseDuration(value)
	if err != nil {
		return 0, fieldErrorf(field, "%q is not a Go duration such as 30m or 1h30m", value)
	}
	return d, nil
}

// RequiredApprovals is the number of distinct approvers the role needs.
func RequiredApprovals(role *accessv1alpha1.Role) int {
	if role.RequiredApprovals == nil {
		return 1
	}
	return int(*role.RequiredApprovals)
}
