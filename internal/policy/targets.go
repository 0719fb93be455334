package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// FieldError is a violation of the policy by one field of a request: Field is
// its path, e.g. spec.duration, and Detail says what is wrong with it.
type FieldError struct {
	Field  string
	Detail string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Detail }

func fieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Detail: fmt.Sprintf(format, args...)}
}

// InTarget names target i of spec.targets in err, a violation found by
// checking the spec as if it asked for t alone (ElevationRequestSpec.ForTarget).
// spec.connection and spec.role become spec.targets[i].connection and
// spec.targets[i].role; a shared field (spec.duration, spec.subject) keeps its
// name, and the message ends with the target whose limit or policy it broke.
func InTarget(err error, i int, t accessv1alpha1.Target) error {
	if fe, ok := errors.AsType[*FieldError](err); ok && fe.Error() == err.Error() {
		if name, own := strings.CutPrefix(fe.Field, "spec."); own && (name == "connection" || name == "role") {
			return &FieldError{Field: fmt.Sprintf("spec.targets[%d].%s", i, name), Detail: fe.Detail}
		}
	}
	return fmt.Errorf("%w (spec.targets[%d]: %s)", err, i, t)
}

// Connections are the distinct connections the spec asks for, sorted.
func Connections(spec *accessv1alpha1.ElevationRequestSpec) []string {
	var out []string
	for _, t := range spec.TargetsOf() {
		out = append(out, t.Connection)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// RequestPendingTimeout is a request's pending timeout: the smallest among
// its connections (conns, by name; the default for one that does not exist),
// and the connection it comes from.
func RequestPendingTimeout(spec *accessv1alpha1.ElevationRequestSpec, conns map[string]*accessv1alpha1.SaaSConnection) (time.Duration, string) {
	var least time.Duration
	var of string
	for _, name := range Connections(spec) {
		if d := PendingTimeout(conns[name]); of == "" || d < least {
			least, of = d, name
		}
	}
	return least, of
}

// PendingTimeout is how long a request on the connection may wait for
// approval: its spec.pendingTimeout, or the default when the connection is
// missing or its value does not parse.
func PendingTimeout(conn *accessv1alpha1.SaaSConnection) time.Duration {
	value := accessv1alpha1.DefaultPendingTimeout
	if conn != nil && conn.Spec.PendingTimeout != "" {
		value = conn.Spec.PendingTimeout
	}
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		d, _ = time.ParseDuration(accessv1alpha1.DefaultPendingTimeout)
	}
	return d
}
