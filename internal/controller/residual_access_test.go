package controller

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider/kubernetes"
)

// binderRoleName is a ClusterRole that reads pods and may create RoleBindings:
// a subject elevated into it can bind it to themselves again (they hold every
// permission it grants), which is issue 12's attack 4.
const binderRoleName = "elevator-test-pod-reader-binder"

var _ = Describe("Residual access after a verified revocation (kubernetes provider)", func() {
	var (
		ctx context.Context
		ns  string
		op  *operator
	)

	BeforeEach(func() {
		ctx = context.Background()
		ns = createNamespace(ctx)
		ensureBinderRole(ctx)
		createBinderConnection(ctx, ns)
	})

	AfterEach(func() {
		if op != nil {
			op.stop()
			op = nil
		}
	})

	It("names a RoleBinding the subject made for themselves while elevated, beside RevocationVerified=True", func() {
		op = startOperator(operatorOptions{})
		er := newRequest(ns, "backdoor", "binder", "4s")
		er.Spec.Connection = "escalation"
		Expect(k8sClient.Create(ctx, er)).To(Succeed())
		approveAsAdmin(ctx, er, approver)
		active := waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		Expect(active.Status.Grant.Target).NotTo(BeNil())
		Expect(active.Status.Grant.Target.Bindings).To(ConsistOf(accessv1alpha1.BindingRef{
			Kind: "RoleBinding", Namespace: ns, Name: kubernetes.BindingName(key(er)),
		}), "status.grant.target names the binding made")

		backdoor := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "my-own-access", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: binderRoleName},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: subject}},
		}
		Expect(asSubject().Create(ctx, backdoor)).To(Succeed(), "the elevated subject may bind the role to themselves")

		got := waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(bindingNames(ctx, ns)).To(BeEmpty(), "Elevator's own binding is gone")
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)).To(BeTrue(),
			"RevocationVerified keeps meaning Elevator's grant is verified gone")
		Expect(canGetPods(ctx, ns)).To(BeTrue(), "the subject still has the access, through the backdoor")

		residual := meta.FindStatusCondition(got.Status.Conditions, accessv1alpha1.ConditionResidualAccess)
		Expect(residual).NotTo(BeNil())
		Expect(residual.Status).To(Equal(metav1.ConditionTrue))
		Expect(residual.Message).To(ContainSubstring("RoleBinding " + ns + "/my-own-access"))
		Expect(residual.Message).To(ContainSubstring("inside the elevation window"))
		Expect(got.Status.ResidualAccess).To(ConsistOf(And(
			HaveField("Name", "RoleBinding "+ns+"/my-own-access"),
			HaveField("InsideWindow", true),
			HaveField("CreatedAt", Not(BeNil())),
		)))
		Eventually(func() []string { return warningReasons(ctx, er) }, eventually, poll).Should(ContainElement("ResidualAccess"))
		Expect(residualMetric("true")).To(BeNumerically(">=", 1))
	})

	It("records ResidualAccess=False when no other path grants the access", func() {
		op = startOperator(operatorOptions{})
		er := newRequest(ns, "clean", "binder", "2s")
		er.Spec.Connection = "escalation"
		Expect(k8sClient.Create(ctx, er)).To(Succeed())
		approveAsAdmin(ctx, er, approver)
		got := waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)).To(BeTrue())
		Expect(meta.IsStatusConditionFalse(got.Status.Conditions, accessv1alpha1.ConditionResidualAccess)).To(BeTrue())
		Expect(got.Status.ResidualAccess).To(BeEmpty())
		Expect(warningReasons(ctx, er)).NotTo(ContainElement("ResidualAccess"))
	})
})

// asSubject is a client that acts as the request's subject, by impersonation.
func asSubject() client.Client {
	impersonated := rest.CopyConfig(cfg)
	impersonated.Impersonate = rest.ImpersonationConfig{UserName: subject}
	c, err := client.New(impersonated, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

func ensureBinderRole(ctx context.Context) {
	cr := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: binderRoleName},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"rolebindings"}, Verbs: []string{"create", "get"}},
		},
	}
	if err := k8sClient.Create(ctx, cr); err != nil && !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
}

func createBinderConnection(ctx context.Context, ns string) {
	conn := &accessv1alpha1.SaaSConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "escalation", Namespace: ns},
		Spec: accessv1alpha1.SaaSConnectionSpec{
			Provider:    accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}},
			MaxDuration: "1h",
			Roles: []accessv1alpha1.Role{{
				Name: "binder", RequiredApprovals: ptr.To[int32](1),
				Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: binderRoleName, Namespaces: []string{ns}},
			}},
		},
	}
	Expect(k8sClient.Create(ctx, conn)).To(Succeed())
}

// residualMetric reads elevator_residual_access_paths_total for the
// kubernetes provider and the given inside_window label.
func residualMetric(insideWindow string) float64 {
	families, err := crmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != "elevator_residual_access_paths_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if labelIs(m, "provider", "kubernetes") && labelIs(m, "inside_window", insideWindow) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue() == value
		}
	}
	return false
}
