package policy

import (
	"slices"
	"strings"
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestParseGrantableClusterRoles(t *testing.T) {
	cases := []struct {
		list    string
		want    GrantableClusterRoles
		wantErr string
	}{
		{list: DefaultGrantableClusterRoles, want: GrantableClusterRoles{"admin", "edit", "view"}},
		{list: " admin , view,,admin ", want: GrantableClusterRoles{"admin", "view"}},
		{list: "", want: nil},
		{list: "team:reader", want: GrantableClusterRoles{"team:reader"}},
		{list: "admin,*", wantErr: `"*" is not a ClusterRole name`},
		{list: "a/b", wantErr: `"a/b" is not a ClusterRole name`},
	}
	for _, tc := range cases {
		t.Run(tc.list, func(t *testing.T) {
			got, err := ParseGrantableClusterRoles(tc.list)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestGrantableCheckRole(t *testing.T) {
	kube := func(clusterRole string) *accessv1alpha1.Role {
		return &accessv1alpha1.Role{Name: "r", Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: clusterRole, ClusterWide: true}}
	}
	defaults := GrantableClusterRoles{"admin", "edit", "view"}
	cases := []struct {
		name    string
		list    GrantableClusterRoles
		role    *accessv1alpha1.Role
		wantErr string
	}{
		{name: "listed", list: defaults, role: kube("admin")},
		{name: "not a kubernetes role", list: nil, role: &accessv1alpha1.Role{Name: "r", SCIM: &accessv1alpha1.SCIMRole{Group: "g"}}},
		{name: "the operator's own role", list: defaults, role: kube("manager-role"),
			wantErr: `spec.roles[3].kubernetes.clusterRole: ClusterRole "manager-role" may not be handed out: the operator's --grantable-cluster-roles allows only admin, edit, view`},
		{name: "cluster-admin", list: defaults, role: kube("cluster-admin"), wantErr: `ClusterRole "cluster-admin" may not be handed out`},
		{name: "case matters", list: defaults, role: kube("Admin"), wantErr: `ClusterRole "Admin" may not be handed out`},
		{name: "empty list allows nothing", list: nil, role: kube("view"), wantErr: `allows only none`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.list.CheckRole("spec.roles[3]", tc.role)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestCheckGrantableNamesTheConnectionField(t *testing.T) {
	conn := connection()
	conn.Spec.Roles[1].Kubernetes = &accessv1alpha1.KubernetesRole{ClusterRole: "manager-role", Namespaces: []string{"a"}}
	err := CheckGrantable(conn, &conn.Spec.Roles[1], GrantableClusterRoles{"admin"})
	want := `SaaSConnection "prod" spec.roles[1].kubernetes.clusterRole: ClusterRole "manager-role" may not be handed out`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one containing %q", err, want)
	}
	if err := CheckGrantable(conn, &conn.Spec.Roles[0], GrantableClusterRoles{"admin"}); err != nil {
		t.Fatalf("a role with no kubernetes block: %v", err)
	}
}
