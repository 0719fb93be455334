package policy

import (
	"fmt"
	"slices"
	"strings"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// DefaultGrantableClusterRoles is the default of the operator's
// --grantable-cluster-roles flag: the built-in user-facing ClusterRoles.
const DefaultGrantableClusterRoles = "admin,edit,view"

// GrantableClusterRoles is the operator's --grantable-cluster-roles: the only
// ClusterRoles a kubernetes role may ever bind. It is the ceiling of what any
// connection author can hand out, whatever they hold themselves, so the
// operator's own ClusterRoles (which it could bind, holding their rules) are
// never granted. The zero value allows nothing.
type GrantableClusterRoles []string

// ParseGrantableClusterRoles reads a comma-separated list of ClusterRole names;
// blanks around names are ignored, and an empty list allows nothing.
func ParseGrantableClusterRoles(list string) (GrantableClusterRoles, error) {
	var out GrantableClusterRoles
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if strings.ContainsAny(name, " */") {
			return nil, fmt.Errorf("--grantable-cluster-roles: %q is not a ClusterRole name (no wildcards)", name)
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// Allows reports whether the ClusterRole may be granted.
func (g GrantableClusterRoles) Allows(clusterRole string) bool {
	return slices.Contains(g, clusterRole)
}

// String is the list as the flag takes it.
func (g GrantableClusterRoles) String() string {
	return strings.Join(g, ",")
}

// CheckRole refuses a role whose kubernetes block binds a ClusterRole that is
// not grantable. field is the path of the role, e.g. spec.roles[0]; the error
// names field.kubernetes.clusterRole. A role of another provider passes.
func (g GrantableClusterRoles) CheckRole(field string, role *accessv1alpha1.Role) error {
	if role.Kubernetes == nil || g.Allows(role.Kubernetes.ClusterRole) {
		return nil
	}
	allowed := "none"
	if len(g) > 0 {
		allowed = strings.Join(g, ", ")
	}
	return fmt.Errorf("%s.kubernetes.clusterRole: ClusterRole %q may not be handed out: the operator's --grantable-cluster-roles allows only %s",
		field, role.Kubernetes.ClusterRole, allowed)
}

// CheckGrantable is the controller's re-check at grant time of the role of a
// connection; the error names the role's field in the connection.
func CheckGrantable(conn *accessv1alpha1.SaaSConnection, role *accessv1alpha1.Role, g GrantableClusterRoles) error {
	field := fmt.Sprintf("SaaSConnection %q role %q", conn.Name, role.Name)
	for i := range conn.Spec.Roles {
		if conn.Spec.Roles[i].Name == role.Name {
			field = fmt.Sprintf("SaaSConnection %q spec.roles[%d]", conn.Name, i)
		}
	}
	return g.CheckRole(field, role)
}
