package kubernetes

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

func TestBindsUser(t *testing.T) {
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"}
	user := rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice"}
	tests := []struct {
		name     string
		ref      rbacv1.RoleRef
		subjects []rbacv1.Subject
		want     bool
	}{
		{name: "the ClusterRole to the user", ref: ref, subjects: []rbacv1.Subject{user}, want: true},
		{name: "among other subjects", ref: ref, subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "bob"}, user}, want: true},
		{name: "another ClusterRole", ref: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}, subjects: []rbacv1.Subject{user}},
		{name: "a Role of the same name", ref: rbacv1.RoleRef{Kind: "Role", Name: "admin"}, subjects: []rbacv1.Subject{user}},
		{name: "a group of the same name", ref: ref, subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: "alice"}}},
		{name: "a ServiceAccount of the same name", ref: ref, subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "alice", Namespace: "x"}}},
	}
	for _, tt := range tests {
		if got := bindsUser(tt.ref, tt.subjects, "alice", "admin"); got != tt.want {
			t.Errorf("%s: bindsUser = %t, want %t", tt.name, got, tt.want)
		}
	}
}

func TestGrantedBindingsPreferTheStoredOnes(t *testing.T) {
	role := &accessv1alpha1.KubernetesRole{ClusterRole: "admin", Namespaces: []string{"payments"}}
	e := provider.Entitlement{Subject: "alice", Holder: types.NamespacedName{Namespace: "payments", Name: "req"}}
	derived := grantedBindings(e, role)
	if len(derived) != 1 || derived[0].GetName() != BindingName(e.Holder) || derived[0].GetNamespace() != "payments" {
		t.Fatalf("without a stored target: %v, want the holder's RoleBinding in payments", derived)
	}
	e.Target = &accessv1alpha1.GrantTarget{Bindings: []accessv1alpha1.BindingRef{
		{Kind: "RoleBinding", Namespace: "old-ns", Name: "elevator-req-1"},
		{Kind: "ClusterRoleBinding", Name: "elevator-req-2"},
	}}
	stored := grantedBindings(e, role)
	if len(stored) != 2 || stored[0].GetNamespace() != "old-ns" || stored[0].GetName() != "elevator-req-1" {
		t.Fatalf("with a stored target: %v, want the stored bindings", stored)
	}
	if _, ok := stored[1].(*rbacv1.ClusterRoleBinding); !ok {
		t.Errorf("stored ClusterRoleBinding came back as %T", stored[1])
	}
	if refs := bindingRefs(derived); len(refs) != 1 || refs[0].Kind != "RoleBinding" || refs[0].Namespace != "payments" {
		t.Errorf("bindingRefs = %+v", refs)
	}
}
