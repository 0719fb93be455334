package main

import (
	"fmt"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// With -targets K, every request asks for K targets (spec.targets): the role
// of each of K kubernetes connections in the bench namespace. Target i binds
// the ClusterRole admin in a namespace of its own, the first one in the bench
// namespace itself (where -activity's subjects act), so that every target's
// grant is a RoleBinding of its own and the bench's watch sees each one. With
// K = 1 a request names the one connection and role (spec.connection and
// spec.role), as before -targets existed.

// connectionName is the i-th connection of the fixture (from 0).
func connectionName(i int) string {
	if i == 0 {
		return connection
	}
	return fmt.Sprintf("%s-%d", connection, i+1)
}

// targetNamespace is where the role of the i-th connection binds.
func targetNamespace(i int) string {
	if i == 0 {
		return namespace
	}
	return fmt.Sprintf("%s-t%d", namespace, i+1)
}

func connectionNames(k int) []string {
	out := make([]string, 0, k)
	for i := range k {
		out = append(out, connectionName(i))
	}
	return out
}

func targetNamespaces(k int) []string {
	out := make([]string, 0, k)
	for i := range k {
		out = append(out, targetNamespace(i))
	}
	return out
}

// requestSpec is the spec of the bench's request for subject, asking for k
// targets.
func requestSpec(k int, subject, duration, justification string) accessv1alpha1.ElevationRequestSpec {
	spec := accessv1alpha1.ElevationRequestSpec{Subject: subject, Duration: duration, Justification: justification}
	if k == 1 {
		spec.Connection, spec.Role = connection, role
		return spec
	}
	for i := range k {
		spec.Targets = append(spec.Targets, accessv1alpha1.Target{Connection: connectionName(i), Role: role})
	}
	return spec
}

// activityTotal is how many actions the request's status.activity counts:
// with spec.targets, the sum over its targets.
func activityTotal(st *accessv1alpha1.ElevationRequestStatus) int64 {
	if len(st.Targets) == 0 {
		if st.Activity == nil {
			return 0
		}
		return st.Activity.Counts.Total
	}
	var total int64
	for i := range st.Targets {
		if a := st.Targets[i].Activity; a != nil {
			total += a.Counts.Total
		}
	}
	return total
}
