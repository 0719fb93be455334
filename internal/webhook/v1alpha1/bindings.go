package v1alpha1

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// binding is one RoleBinding or ClusterRoleBinding a connection's role makes
// when it is granted.
type binding struct {
	// Field is the field that asks for it, e.g. spec.roles[0].kubernetes.namespaces[1].
	Field       string
	ClusterRole string
	// Namespace of the RoleBinding; empty for a ClusterRoleBinding.
	Namespace string
}

// scope says where the binding applies, for messages.
func (b binding) scope() string {
	if b.Namespace == "" {
		return "cluster-wide"
	}
	return fmt.Sprintf("in namespace %q", b.Namespace)
}

// bindingsOf lists the bindings the kubernetes roles of a connection describe,
// each (ClusterRole, namespace) once, under the first field that asks for it.
func bindingsOf(spec *accessv1alpha1.SaaSConnectionSpec) []binding {
	var out []binding
	seen := map[[2]string]bool{}
	add := func(b binding) {
		key := [2]string{b.ClusterRole, b.Namespace}
		if !seen[key] {
			seen[key] = true
			out = append(out, b)
		}
	}
	for i, role := range spec.Roles {
		k := role.Kubernetes
		if k == nil {
			continue
		}
		field := fmt.Sprintf("spec.roles[%d].kubernetes", i)
		if k.ClusterWide {
			add(binding{Field: field + ".clusterWide", ClusterRole: k.ClusterRole})
		}
		for j, ns := range k.Namespaces {
			add(binding{Field: fmt.Sprintf("%s.namespaces[%d]", field, j), ClusterRole: k.ClusterRole, Namespace: ns})
		}
	}
	return out
}

// permission is one question to the authorizer: a verb on a resource (with an
// optional name), or a verb on a non-resource URL (Path set).
type permission struct {
	Verb        string
	Group       string
	Resource    string
	Subresource string
	Name        string
	Path        string
}

// String describes the permission for messages, e.g. `get secrets (group "")`.
func (p permission) String() string {
	if p.Path != "" {
		return fmt.Sprintf("%s on non-resource URL %s", p.Verb, p.Path)
	}
	res := p.Resource
	if p.Subresource != "" {
		res += "/" + p.Subresource
	}
	if p.Name != "" {
		res += fmt.Sprintf(" named %q", p.Name)
	}
	return fmt.Sprintf("%s %s (group %q)", p.Verb, res, p.Group)
}

// permissionsOf expands RBAC rules into single permissions, without
// duplicates, in rule order. Wildcards are kept as they are: a
// SubjectAccessReview for verb "*" (or resource or group "*") is allowed only
// when the user holds that wildcard, which is what holding the rule takes.
func permissionsOf(rules []rbacv1.PolicyRule) []permission {
	var out []permission
	add := func(p permission) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, rule := range rules {
		for _, verb := range rule.Verbs {
			for _, path := range rule.NonResourceURLs {
				add(permission{Verb: verb, Path: path})
			}
			for _, group := range rule.APIGroups {
				for _, res := range rule.Resources {
					resource, sub, _ := strings.Cut(res, "/")
					for _, name := range namesOf(rule) {
						add(permission{Verb: verb, Group: group, Resource: resource, Subresource: sub, Name: name})
					}
				}
			}
		}
	}
	return out
}

// namesOf is the resource names a rule is limited to, or one empty name (any
// object) when it is not limited.
func namesOf(rule rbacv1.PolicyRule) []string {
	if len(rule.ResourceNames) == 0 {
		return []string{""}
	}
	return rule.ResourceNames
}

// bindPermission is the verb that lets a user bind a ClusterRole without
// holding its permissions (the Kubernetes escalation rule).
func bindPermission(clusterRole string) permission {
	return permission{Verb: "bind", Group: rbacv1.GroupName, Resource: "clusterroles", Name: clusterRole}
}
