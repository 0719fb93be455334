package kubernetes

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// residualPaths lists, from the API server, the bindings that still grant the
// subject the role's ClusterRole in the role's scope: RoleBindings in each of
// its namespaces (unless it is cluster-wide) and ClusterRoleBindings. When the
// authorizer allowed the access but no such binding exists (another role with
// the same permissions, say), the authorizer's own reason is the path.
func (c *Client) residualPaths(ctx context.Context, subject string, role *accessv1alpha1.KubernetesRole, reason string) ([]provider.ResidualPath, error) {
	var paths []provider.ResidualPath
	if !role.ClusterWide {
		for _, ns := range role.Namespaces {
			found, err := c.roleBindingsFor(ctx, subject, role.ClusterRole, ns)
			if err != nil {
				return nil, err
			}
			paths = append(paths, found...)
		}
	}
	found, err := c.clusterRoleBindingsFor(ctx, subject, role.ClusterRole)
	if err != nil {
		return nil, err
	}
	paths = append(paths, found...)
	if len(paths) == 0 {
		paths = append(paths, provider.ResidualPath{Name: authorizerPath(reason)})
	}
	return paths, nil
}

func (c *Client) roleBindingsFor(ctx context.Context, subject, clusterRole, ns string) ([]provider.ResidualPath, error) {
	var list rbacv1.RoleBindingList
	if err := c.reader.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("list RoleBindings in namespace %s: %w", ns, err)
	}
	var out []provider.ResidualPath
	for i := range list.Items {
		rb := &list.Items[i]
		if bindsUser(rb.RoleRef, rb.Subjects, subject, clusterRole) {
			out = append(out, residualOf(rb))
		}
	}
	return out, nil
}

func (c *Client) clusterRoleBindingsFor(ctx context.Context, subject, clusterRole string) ([]provider.ResidualPath, error) {
	var list rbacv1.ClusterRoleBindingList
	if err := c.reader.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("list ClusterRoleBindings: %w", err)
	}
	var out []provider.ResidualPath
	for i := range list.Items {
		crb := &list.Items[i]
		if bindsUser(crb.RoleRef, crb.Subjects, subject, clusterRole) {
			out = append(out, residualOf(crb))
		}
	}
	return out, nil
}

// bindsUser reports whether a binding with roleRef and subjects binds the
// ClusterRole to the user.
func bindsUser(ref rbacv1.RoleRef, subjects []rbacv1.Subject, user, clusterRole string) bool {
	if ref.Kind != "ClusterRole" || ref.Name != clusterRole {
		return false
	}
	for _, s := range subjects {
		if s.Kind == rbacv1.UserKind && s.Name == user {
			return true
		}
	}
	return false
}

// residualOf names a binding and when it was created; a binding another
// Elevator request made says which request holds it.
func residualOf(obj client.Object) provider.ResidualPath {
	name := describe(obj)
	if holder := obj.GetAnnotations()[accessv1alpha1.AnnotationPrefix+"request"]; holder != "" && obj.GetLabels()[accessv1alpha1.LabelManagedBy] == accessv1alpha1.ManagedByValue {
		name += " (made by Elevator for request " + holder + ")"
	}
	created := obj.GetCreationTimestamp().Time
	kind := "RoleBinding"
	if obj.GetNamespace() == "" {
		kind = "ClusterRoleBinding"
	}
	ref := &accessv1alpha1.BindingRef{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
	return provider.ResidualPath{Name: name, CreatedAt: &created, Binding: ref}
}

func authorizerPath(reason string) string {
	if reason == "" {
		return "the authorizer allows it, through no RoleBinding or ClusterRoleBinding of the ClusterRole to the user"
	}
	return "the authorizer allows it: " + reason
}
