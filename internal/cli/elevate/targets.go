package elevate

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// targetArg is the name of the positional arguments of request in errors.
const targetArg = "CONNECTION/ROLE"

// maxRoleName is the schema's limit on a role's name (spec.role,
// spec.targets[].role).
const maxRoleName = 63

// parseTargets checks the CONNECTION/ROLE arguments of request: 1 to
// accessv1alpha1.MaxTargets of them, each well-formed, none given twice. An
// error names the argument at fault.
func parseTargets(args []string) ([]accessv1alpha1.Target, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%s: give at least one, e.g. prod-cluster/namespace-admin", targetArg)
	}
	if len(args) > accessv1alpha1.MaxTargets {
		return nil, fmt.Errorf("%s: at most %d targets in one request (spec.targets), got %d; ask for the others in a second request",
			targetArg, accessv1alpha1.MaxTargets, len(args))
	}
	targets := make([]accessv1alpha1.Target, 0, len(args))
	first := map[accessv1alpha1.Target]int{}
	for i, arg := range args {
		where := targetArg
		if len(args) > 1 {
			where = fmt.Sprintf("%s argument %d of %d", targetArg, i+1, len(args))
		}
		t, err := parseTarget(arg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if j, dup := first[t]; dup {
			return nil, fmt.Errorf("%s: %s is also argument %d: name each connection and role once", where, t, j+1)
		}
		first[t] = i
		targets = append(targets, t)
	}
	return targets, nil
}

// parseTarget splits one CONNECTION/ROLE and checks both names as the schema
// does.
func parseTarget(arg string) (accessv1alpha1.Target, error) {
	connection, role, ok := strings.Cut(arg, "/")
	if !ok || connection == "" || role == "" || strings.Contains(role, "/") {
		return accessv1alpha1.Target{}, fmt.Errorf("want the SaaSConnection's name and the role's name separated by one slash, e.g. prod-cluster/namespace-admin, got %q", arg)
	}
	if errs := validation.IsDNS1123Subdomain(connection); len(errs) > 0 {
		return accessv1alpha1.Target{}, fmt.Errorf("connection %q is not a valid object name: %s", connection, strings.Join(errs, "; "))
	}
	if len(role) > maxRoleName {
		return accessv1alpha1.Target{}, fmt.Errorf("role %q is %d bytes long, at most %d are allowed", role, len(role), maxRoleName)
	}
	return accessv1alpha1.Target{Connection: connection, Role: role}, nil
}

// specFor puts targets in a spec: one as connection and role, as a request
// for one target has always been written, several as spec.targets.
func specFor(spec accessv1alpha1.ElevationRequestSpec, targets []accessv1alpha1.Target) accessv1alpha1.ElevationRequestSpec {
	spec.Connection, spec.Role, spec.Targets = "", "", nil
	if len(targets) == 1 {
		spec.Connection, spec.Role = targets[0].Connection, targets[0].Role
		return spec
	}
	spec.Targets = append([]accessv1alpha1.Target(nil), targets...)
	return spec
}

// compactTargets is what the TARGET column shows, the way the operator
// writes status.target: "connection/role", or the first target and how many
// more. targets is never empty (spec.TargetsOf).
func compactTargets(targets []accessv1alpha1.Target) string {
	if len(targets) == 1 {
		return targets[0].String()
	}
	return fmt.Sprintf("%s +%d", targets[0], len(targets)-1)
}

// joinTargets lists targets as connection/role, comma-separated.
func joinTargets(targets []accessv1alpha1.Target) string {
	return strings.Join(targetNames(targets), ", ")
}

// targetNames are the targets as connection/role.
func targetNames(targets []accessv1alpha1.Target) []string {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.String()
	}
	return names
}

// targetColumn is the TARGET of a request: status.target as the operator
// wrote it, or the same summary of the spec before it has.
func targetColumn(er *accessv1alpha1.ElevationRequest) string {
	if er.Status.Target != "" {
		return er.Status.Target
	}
	return compactTargets(er.Spec.TargetsOf())
}

// targetStatuses is status.targets when it matches spec.targets one for one,
// in order; nil when the operator has not written it (yet) for this spec.
func targetStatuses(er *accessv1alpha1.ElevationRequest) []accessv1alpha1.TargetStatus {
	st := er.Status.Targets
	if !er.Spec.IsMultiTarget() || len(st) != len(er.Spec.Targets) {
		return nil
	}
	for i, t := range er.Spec.Targets {
		if st[i].Connection != t.Connection || st[i].Role != t.Role {
			return nil
		}
	}
	return st
}

// awaitsApprovals reports whether a target of a Pending request still needs
// approvals: its role's count is not met, or the operator has not counted yet.
func awaitsApprovals(t *accessv1alpha1.TargetStatus) bool {
	switch t.Phase {
	case "":
		return true
	case accessv1alpha1.PhasePending:
		return t.RequiredApprovals == 0 || t.Approvals < t.RequiredApprovals
	}
	return false
}

// targetsAwaitingApprovals are the targets of a Pending request that an
// approval could still help: for one target, that target; for several,
// those whose approvals are not met, or all of them before the operator
// counted.
func targetsAwaitingApprovals(er *accessv1alpha1.ElevationRequest) []accessv1alpha1.Target {
	statuses := targetStatuses(er)
	if statuses == nil {
		return er.Spec.TargetsOf()
	}
	var out []accessv1alpha1.Target
	for i := range statuses {
		if awaitsApprovals(&statuses[i]) {
			out = append(out, er.Spec.Targets[i])
		}
	}
	return out
}

// approvalProgress says how far a Pending request is from approved, or ""
// when the operator has not counted yet: "1 of 2 approvals" for one target;
// for several, how many targets have theirs and whose approvers are awaited.
func approvalProgress(er *accessv1alpha1.ElevationRequest) string {
	if !er.Spec.IsMultiTarget() {
		if count := approvalCount(er.Status); count != "" {
			return count + " approvals"
		}
		return ""
	}
	statuses := targetStatuses(er)
	if statuses == nil {
		return ""
	}
	var waiting []string
	seen := map[string]bool{}
	for i := range statuses {
		c := statuses[i].Connection
		if awaitsApprovals(&statuses[i]) && !seen[c] {
			seen[c] = true
			waiting = append(waiting, c)
		}
	}
	done := len(statuses) - countAwaiting(statuses)
	if len(waiting) == 0 {
		return fmt.Sprintf("%d of %d targets have their approvals", done, len(statuses))
	}
	return fmt.Sprintf("%d of %d targets have their approvals, waiting for approvers of %s", done, len(statuses), strings.Join(waiting, ", "))
}

// approvalCount is "1 of 2" for a request with one target whose role needs
// approvals, "" when it needs none or the operator has not said yet.
func approvalCount(st accessv1alpha1.ElevationRequestStatus) string {
	if st.RequiredApprovals == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d", len(st.Approvals), st.RequiredApprovals)
}

func countAwaiting(statuses []accessv1alpha1.TargetStatus) int {
	n := 0
	for i := range statuses {
		if awaitsApprovals(&statuses[i]) {
			n++
		}
	}
	return n
}
