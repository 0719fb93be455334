package v1alpha1

import (
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestBindingsOf(t *testing.T) {
	kube := func(clusterRole string, clusterWide bool, namespaces ...string) accessv1alpha1.Role {
		return accessv1alpha1.Role{Name: "r", Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: clusterRole, ClusterWide: clusterWide, Namespaces: namespaces}}
	}
	cases := []struct {
		name  string
		roles []accessv1alpha1.Role
		want  []binding
	}{
		{name: "no roles"},
		{name: "a role of another provider", roles: []accessv1alpha1.Role{{Name: "r", SCIM: &accessv1alpha1.SCIMRole{Group: "g"}}}},
		{name: "cluster-wide", roles: []accessv1alpha1.Role{kube("admin", true)},
			want: []binding{{Field: "spec.roles[0].kubernetes.clusterWide", ClusterRole: "admin"}}},
		{name: "one per namespace, named by index", roles: []accessv1alpha1.Role{{Name: "s", SCIM: &accessv1alpha1.SCIMRole{Group: "g"}}, kube("edit", false, "team-a", "team-b")},
			want: []binding{
				{Field: "spec.roles[1].kubernetes.namespaces[0]", ClusterRole: "edit", Namespace: "team-a"},
				{Field: "spec.roles[1].kubernetes.namespaces[1]", ClusterRole: "edit", Namespace: "team-b"},
			}},
		{name: "the same binding twice is checked once, under its first field",
			roles: []accessv1alpha1.Role{kube("view", false, "team-a"), kube("view", false, "team-a"), kube("admin", false, "team-a")},
			want: []binding{
				{Field: "spec.roles[0].kubernetes.namespaces[0]", ClusterRole: "view", Namespace: "team-a"},
				{Field: "spec.roles[2].kubernetes.namespaces[0]", ClusterRole: "admin", Namespace: "team-a"},
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := bindingsOf(&accessv1alpha1.SaaSConnectionSpec{Roles: tc.roles})
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestPermissionsOf(t *testing.T) {
	cases := []struct {
		name  string
		rules []rbacv1.PolicyRule
		want  []permission
	}{
		{name: "no rules"},
		{name: "verbs times groups times resources",
			rules: []rbacv1.PolicyRule{{Verbs: []string{"get", "list"}, APIGroups: []string{"", "apps"}, Resources: []string{"pods"}}},
			want: []permission{
				{Verb: "get", Group: "", Resource: "pods"}, {Verb: "get", Group: "apps", Resource: "pods"},
				{Verb: "list", Group: "", Resource: "pods"}, {Verb: "list", Group: "apps", Resource: "pods"},
			}},
		{name: "subresources and names",
			rules: []rbacv1.PolicyRule{{Verbs: []string{"create"}, APIGroups: []string{""}, Resources: []string{"pods/exec"}, ResourceNames: []string{"a", "b"}}},
			want: []permission{
				{Verb: "create", Resource: "pods", Subresource: "exec", Name: "a"},
				{Verb: "create", Resource: "pods", Subresource: "exec", Name: "b"},
			}},
		{name: "wildcards stay wildcards",
			rules: []rbacv1.PolicyRule{{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}},
			want:  []permission{{Verb: "*", Group: "*", Resource: "*"}}},
		{name: "non-resource URLs",
			rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz", "/metrics"}}},
			want:  []permission{{Verb: "get", Path: "/healthz"}, {Verb: "get", Path: "/metrics"}}},
		{name: "duplicates across rules once",
			rules: []rbacv1.PolicyRule{
				{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"secrets"}},
				{Verbs: []string{"get", "watch"}, APIGroups: []string{""}, Resources: []string{"secrets"}},
			},
			want: []permission{{Verb: "get", Resource: "secrets"}, {Verb: "watch", Resource: "secrets"}}},
		{name: "a rule with no groups grants nothing",
			rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, Resources: []string{"secrets"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := permissionsOf(tc.rules)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestPermissionString(t *testing.T) {
	cases := map[permission]string{
		{Verb: "get", Resource: "secrets"}:                                                          `get secrets (group "")`,
		{Verb: "create", Resource: "pods", Subresource: "exec"}:                                     `create pods/exec (group "")`,
		{Verb: "bind", Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Name: "admin"}: `bind clusterroles named "admin" (group "rbac.authorization.k8s.io")`,
		{Verb: "get", Path: "/metrics"}:                                                             `get on non-resource URL /metrics`,
	}
	for p, want := range cases {
		if got := p.String(); got != want {
			t.Errorf("%+v: got %q, want %q", p, got, want)
		}
	}
	if got := bindPermission("admin"); got.String() != `bind clusterroles named "admin" (group "rbac.authorization.k8s.io")` {
		t.Errorf("bindPermission: %q", got)
	}
	if got := (binding{Namespace: "team-a"}).scope(); got != `in namespace "team-a"` {
		t.Errorf("scope: %q", got)
	}
	if got := (binding{}).scope(); got != "cluster-wide" {
		t.Errorf("scope: %q", got)
	}
}
