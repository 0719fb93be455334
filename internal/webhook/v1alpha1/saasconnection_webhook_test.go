package v1alpha1

import (
	"context"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/localcluster"
	"github.com/elevator-dev/elevator/internal/testenv"
)

// The connection authors of issue 12, attack 1, each a client-certificate user.
const (
	teamA      = "team-a"
	teamB      = "team-b"
	teamAuthor = "team-a-author" // may write connections and requests in team-a, nothing else
	teamAdmin  = "team-a-admin"  // team-a-author's rights, plus admin in team-a by a RoleBinding
	teamBinder = "team-a-binder" // team-a-author's rights, plus bind on clusterroles/admin in team-a
)

func connDenied(msg string) string {
	return `admission webhook "vsaasconnection.access.elevator.dev" denied the request: ` + msg
}

// kubeConnection is a kubernetes connection in team-a with one role,
// auto-approved (requiredApprovals 0) as in the attack.
func kubeConnection(name string, k accessv1alpha1.KubernetesRole) *accessv1alpha1.SaaSConnection {
	return &accessv1alpha1.SaaSConnection{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: teamA},
		Spec: accessv1alpha1.SaaSConnectionSpec{
			Provider:    accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}},
			MaxDuration: "1h",
			Roles:       []accessv1alpha1.Role{{Name: "grab", RequiredApprovals: ptr.To[int32](0), Kubernetes: &k}},
		},
	}
}

var _ = Describe("SaaSConnection authors hand out only what they could bind themselves", Ordered, func() {
	ctx := context.Background()

	BeforeAll(createConnectionAuthors)

	It("refuses admin cluster-wide to a user whose only rights are on connections and requests in team-a", func() {
		conn := kubeConnection("cluster-admin-grab", accessv1alpha1.KubernetesRole{ClusterRole: "admin", ClusterWide: true})
		err := as[teamAuthor].Create(ctx, conn)
		Expect(err).To(MatchError(ContainSubstring(connDenied(
			`spec.roles[0].kubernetes.clusterWide: user "team-a-author" may not hand out ClusterRole "admin" cluster-wide: ` +
				`a connection offers only what its author could bind directly, and the user neither has verb "bind" on clusterroles "admin" (group rbac.authorization.k8s.io) cluster-wide nor holds every permission of the role there (it lacks `))))
		Expect(apiGet(conn)).To(MatchError(ContainSubstring("not found")))
	})

	It("refuses admin in another namespace, and in its own namespace, to that user", func() {
		conn := kubeConnection("other-team", accessv1alpha1.KubernetesRole{ClusterRole: "admin", Namespaces: []string{teamA, teamB}})
		err := as[teamAuthor].Create(ctx, conn)
		Expect(err).To(MatchError(ContainSubstring(`spec.roles[0].kubernetes.namespaces[0]: user "team-a-author" may not hand out ClusterRole "admin" in namespace "team-a"`)))
		Expect(err).To(MatchError(ContainSubstring(`spec.roles[0].kubernetes.namespaces[1]: user "team-a-author" may not hand out ClusterRole "admin" in namespace "team-b"`)))
	})

	It("refuses the operator's own manager role to anyone, cluster admins included", func() {
		for _, c := range []client.Client{as[teamAuthor], admin} {
			conn := kubeConnection("manager-grab", accessv1alpha1.KubernetesRole{ClusterRole: "manager-role", Namespaces: []string{teamA}})
			Expect(c.Create(ctx, conn)).To(MatchError(ContainSubstring(connDenied(
				`spec.roles[0].kubernetes.clusterRole: ClusterRole "manager-role" may not be handed out: the operator's --grantable-cluster-roles allows only admin, edit, view`))))
		}
	})

	It("lets a namespace admin offer admin, edit and view in its own namespace, by holding every permission there", func() {
		for _, clusterRole := range []string{"admin", "edit", "view"} {
			conn := kubeConnection("team-a-"+clusterRole, accessv1alpha1.KubernetesRole{ClusterRole: clusterRole, Namespaces: []string{teamA}})
			start := time.Now()
			Expect(as[teamAdmin].Create(ctx, conn)).To(Succeed())
			GinkgoWriter.Printf("%s in team-a checked permission by permission in %s\n", clusterRole, time.Since(start))
		}
	})

	It("refuses that namespace admin admin beyond its namespace", func() {
		conn := kubeConnection("team-a-and-b", accessv1alpha1.KubernetesRole{ClusterRole: "admin", Namespaces: []string{teamA, teamB}})
		err := as[teamAdmin].Create(ctx, conn)
		Expect(err).To(MatchError(ContainSubstring(`spec.roles[0].kubernetes.namespaces[1]: user "team-a-admin" may not hand out ClusterRole "admin" in namespace "team-b"`)))
		Expect(err).NotTo(MatchError(ContainSubstring("namespaces[0]")))

		conn = kubeConnection("team-a-admin-wide", accessv1alpha1.KubernetesRole{ClusterRole: "admin", ClusterWide: true})
		Expect(as[teamAdmin].Create(ctx, conn)).To(MatchError(ContainSubstring(`spec.roles[0].kubernetes.clusterWide: user "team-a-admin" may not hand out ClusterRole "admin" cluster-wide`)))
	})

	It("lets a user with bind on admin in team-a offer it there without holding it, and nowhere else", func() {
		conn := kubeConnection("binder-team-a", accessv1alpha1.KubernetesRole{ClusterRole: "admin", Namespaces: []string{teamA}})
		Expect(as[teamBinder].Create(ctx, conn)).To(Succeed())

		conn = kubeConnection("binder-team-b", accessv1alpha1.KubernetesRole{ClusterRole: "admin", Namespaces: []string{teamB}})
		Expect(as[teamBinder].Create(ctx, conn)).To(MatchError(ContainSubstring(`spec.roles[0].kubernetes.namespaces[0]: user "team-a-binder" may not hand out ClusterRole "admin" in namespace "team-b"`)))
		conn = kubeConnection("binder-edit", accessv1alpha1.KubernetesRole{ClusterRole: "edit", Namespaces: []string{teamA}})
		Expect(as[teamBinder].Create(ctx, conn)).To(MatchError(ContainSubstring(`user "team-a-binder" may not hand out ClusterRole "edit" in namespace "team-a"`)))
	})

	It("checks an update that widens a role or loosens its policy, and lets metadata-only updates through", func() {
		conn := kubeConnection("widen", accessv1alpha1.KubernetesRole{ClusterRole: "admin", Namespaces: []string{teamA}})
		conn.Spec.Roles[0].RequiredApprovals = ptr.To[int32](2)
		Expect(as[teamAdmin].Create(ctx, conn)).To(Succeed())

		Expect(as[teamAuthor].Get(ctx, client.ObjectKeyFromObject(conn), conn)).To(Succeed())
		conn.Labels = map[string]string{"team": "a"}
		Expect(as[teamAuthor].Update(ctx, conn)).To(Succeed(), "a label changes no policy")

		conn.Spec.Roles[0].RequiredApprovals = ptr.To[int32](0)
		Expect(as[teamAuthor].Update(ctx, conn.DeepCopy())).To(MatchError(ContainSubstring(
			`spec.roles[0].kubernetes.namespaces[0]: user "team-a-author" may not hand out ClusterRole "admin" in namespace "team-a"`)))

		conn.Spec.Roles[0].RequiredApprovals = ptr.To[int32](2)
		conn.Spec.Roles[0].Kubernetes.Namespaces = []string{teamA, teamB}
		Expect(as[teamAdmin].Update(ctx, conn.DeepCopy())).To(MatchError(ContainSubstring(
			`spec.roles[0].kubernetes.namespaces[1]: user "team-a-admin" may not hand out ClusterRole "admin" in namespace "team-b"`)))

		conn.Spec.Roles[0].Kubernetes.Namespaces = []string{teamA}
		conn.Spec.Roles = append(conn.Spec.Roles, accessv1alpha1.Role{Name: "wide", Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: "view", ClusterWide: true}})
		Expect(as[teamAdmin].Update(ctx, conn.DeepCopy())).To(MatchError(ContainSubstring(
			`spec.roles[1].kubernetes.clusterWide: user "team-a-admin" may not hand out ClusterRole "view" cluster-wide`)))
	})
})

// apiGet reads a connection as the suite's admin.
func apiGet(conn *accessv1alpha1.SaaSConnection) error {
	return admin.Get(context.Background(), client.ObjectKeyFromObject(conn), &accessv1alpha1.SaaSConnection{})
}

// createConnectionAuthors creates team-a and team-b, fills in the aggregated
// admin, edit and view (no controller manager runs here), installs the
// operator's shipped manager-role, and creates the three authors.
func createConnectionAuthors() {
	ctx := context.Background()
	for _, name := range []string{teamA, teamB} {
		Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	}
	Expect(localcluster.AggregateClusterRoles(ctx, admin)).To(Succeed())
	Expect(admin.Create(ctx, shippedManagerRole())).To(Succeed())

	Expect(admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "connection-author", Namespace: teamA},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{accessv1alpha1.GroupVersion.Group}, Resources: []string{"saasconnections", "elevationrequests"},
			Verbs: []string{"create", "get", "list", "watch", "update", "patch"},
		}},
	})).To(Succeed())
	Expect(admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "admin-binder", Namespace: teamA},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"}, ResourceNames: []string{"admin"}, Verbs: []string{"bind"},
		}},
	})).To(Succeed())
	bindInTeamA("connection-authors", "Role", "connection-author", teamAuthor, teamAdmin, teamBinder)
	bindInTeamA("team-a-admins", "ClusterRole", "admin", teamAdmin)
	bindInTeamA("admin-binders", "Role", "admin-binder", teamBinder)

	for _, name := range []string{teamAuthor, teamAdmin, teamBinder} {
		u, err := testEnv.AddUser(envtest.User{Name: name, Groups: []string{"team-a"}}, testEnv.Config)
		Expect(err).NotTo(HaveOccurred())
		as[name], err = client.New(u.Config(), client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
	}
}

// bindInTeamA binds a Role or ClusterRole to users in team-a.
func bindInTeamA(name, kind, role string, users ...string) {
	subjects := make([]rbacv1.Subject, 0, len(users))
	for _, u := range users {
		subjects = append(subjects, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u})
	}
	Expect(admin.Create(context.Background(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: teamA},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role},
		Subjects:   subjects,
	})).To(Succeed())
}

// shippedManagerRole is config/rbac/role.yaml, the operator's own ClusterRole.
func shippedManagerRole() *rbacv1.ClusterRole {
	data, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), "config", "rbac", "role.yaml"))
	Expect(err).NotTo(HaveOccurred())
	role := &rbacv1.ClusterRole{}
	Expect(yaml.Unmarshal(data, role)).To(Succeed())
	Expect(role.Name).To(Equal("manager-role"))
	return role
}
