package localcluster

import (
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/elevator-dev/elevator/internal/testenv"
)

func TestRenameFollowsReferencesInsideTheSetOnly(t *testing.T) {
	ov := Overlay{Namespace: "elevator-system", NamePrefix: "elevator-"}
	sa := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "controller-manager", Namespace: "system"}
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "controller-manager", Namespace: "system"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "manager-role"}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "leader", Namespace: "system"}},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "manager-rolebinding"},
			RoleRef:    rbacv1.RoleRef{Kind: "ClusterRole", Name: "manager-role"},
			Subjects:   []rbacv1.Subject{sa, {Kind: rbacv1.UserKind, Name: "alice"}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "leader-binding", Namespace: "system"},
			RoleRef:    rbacv1.RoleRef{Kind: "Role", Name: "leader"},
			Subjects:   []rbacv1.Subject{sa, {Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: "kube-system"}},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "viewers"},
			RoleRef:    rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"},
		},
	}
	out := Rename(objs, ov)

	wantSA := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "elevator-controller-manager", Namespace: "elevator-system"}
	cases := []struct {
		name           string
		got            client.Object
		wantName, inNS string
	}{
		{"service account", out[0], "elevator-controller-manager", "elevator-system"},
		{"cluster role", out[1], "elevator-manager-role", ""},
		{"role", out[2], "elevator-leader", "elevator-system"},
		{"cluster role binding", out[3], "elevator-manager-rolebinding", ""},
		{"role binding", out[4], "elevator-leader-binding", "elevator-system"},
		{"binding to a built-in role", out[5], "elevator-viewers", ""},
	}
	for _, tc := range cases {
		if tc.got.GetName() != tc.wantName || tc.got.GetNamespace() != tc.inNS {
			t.Errorf("%s: got %s/%s, want %s/%s", tc.name, tc.got.GetNamespace(), tc.got.GetName(), tc.inNS, tc.wantName)
		}
	}
	crb := out[3].(*rbacv1.ClusterRoleBinding)
	if crb.RoleRef.Name != "elevator-manager-role" {
		t.Errorf("roleRef to a role of the set: got %q, want elevator-manager-role", crb.RoleRef.Name)
	}
	if crb.Subjects[0] != wantSA {
		t.Errorf("ServiceAccount subject: got %+v, want %+v", crb.Subjects[0], wantSA)
	}
	if crb.Subjects[1].Name != "alice" || crb.Subjects[1].Namespace != "" {
		t.Errorf("User subject changed: %+v", crb.Subjects[1])
	}
	rb := out[4].(*rbacv1.RoleBinding)
	if rb.RoleRef.Name != "elevator-leader" || rb.Subjects[0] != wantSA {
		t.Errorf("role binding refs: roleRef %q, subject %+v", rb.RoleRef.Name, rb.Subjects[0])
	}
	if rb.Subjects[1].Name != "default" || rb.Subjects[1].Namespace != "kube-system" {
		t.Errorf("a ServiceAccount outside the set was renamed: %+v", rb.Subjects[1])
	}
	if out[5].(*rbacv1.ClusterRoleBinding).RoleRef.Name != "view" {
		t.Errorf("roleRef to the built-in view was renamed")
	}
	if objs[0].GetName() != "controller-manager" {
		t.Errorf("Rename changed its input")
	}
}

// The shipped config/rbac binds the generated manager-role to the operator's
// ServiceAccount; the local cluster relies on it rather than binding it itself.
func TestShippedRBACBindsTheManagerRoleToTheServiceAccount(t *testing.T) {
	root := testenv.ModuleRoot()
	ov, err := ReadOverlay(filepath.Join(root, "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := LoadRBAC(filepath.Join(root, "config", "rbac"), ov)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := ServiceAccountOf(objs)
	if err != nil {
		t.Fatal(err)
	}
	if sa.Namespace != ov.Namespace {
		t.Errorf("ServiceAccount namespace %q, want the overlay's %q", sa.Namespace, ov.Namespace)
	}
	bound := map[string]bool{}
	for _, obj := range objs {
		crb, ok := obj.(*rbacv1.ClusterRoleBinding)
		if !ok {
			continue
		}
		for _, s := range crb.Subjects {
			if s.Kind == rbacv1.ServiceAccountKind && s.Name == sa.Name && s.Namespace == sa.Namespace {
				bound[crb.RoleRef.Name] = true
			}
		}
	}
	if !bound[ov.NamePrefix+"manager-role"] {
		t.Errorf("no ClusterRoleBinding binds %smanager-role to %s/%s; bound: %v", ov.NamePrefix, sa.Namespace, sa.Name, bound)
	}
}
