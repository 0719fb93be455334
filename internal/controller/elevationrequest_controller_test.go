package controller

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/elevator-dev/elevator/internal/provider/providertest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/kubernetes"
	"github.com/elevator-dev/elevator/internal/records"
	"github.com/elevator-dev/elevator/internal/testenv"
)

const (
	clusterRoleName = "elevator-test-pod-reader"
	subject         = "alice@example.com"
	approver        = "bob@example.com"
	eventually      = 30 * time.Second
	poll            = 100 * time.Millisecond
)

var _ = Describe("ElevationRequest lifecycle with the kubernetes provider", func() {
	var (
		ctx context.Context
		ns  string
		op  *operator
	)

	BeforeEach(func() {
		ctx = context.Background()
		ns = createNamespace(ctx)
		ensureClusterRole(ctx)
		createConnection(ctx, ns, "1h", "1h")
	})

	AfterEach(func() {
		if op != nil {
			op.stop()
			op = nil
		}
	})

	It("grants on approval, revokes at expiry and verifies the access gone", func() {
		op = startOperator(operatorOptions{})
		er := createRequest(ctx, ns, "expire", "edit", "3s")
		waitPhase(ctx, er, accessv1alpha1.PhasePending)
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
		Expect(canGetPods(ctx, ns)).To(BeFalse(), "no access before approval")

		approveAsAdmin(ctx, er, approver)
		got := waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		Expect(got.Status.Approvals).To(ConsistOf(HaveField("User", approver)))
		Expect(bindingNames(ctx, ns)).To(ConsistOf(kubernetes.BindingName(key(er))))
		Expect(canGetPods(ctx, ns)).To(BeTrue(), "SubjectAccessReview allows the subject while Active")
		// grantedAt is cut to the second; expiresAt is the start of the grant
		// + 3s (this operator has no expiry lead), to the millisecond
		// (expiryOf): 3 to 4 seconds after grantedAt.
		Expect(got.Status.ExpiresAt.Sub(got.Status.GrantedAt.Time)).To(
			And(BeNumerically(">=", 3*time.Second), BeNumerically("<", 4*time.Second)))
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, accessv1alpha1.ConditionGranted)).To(BeTrue())

		got = waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
		Expect(canGetPods(ctx, ns)).To(BeFalse(), "SubjectAccessReview denies the subject after revocation")
		rev := got.Status.Revocation
		Expect(rev.Reason).To(Equal(accessv1alpha1.RevocationExpired))
		// verifiedAt is stored to the second, expiresAt to the millisecond.
		Expect(rev.VerifiedAt.Time).NotTo(BeTemporally("<", got.Status.ExpiresAt.Truncate(time.Second)))
		Expect(rev.Method).To(ContainSubstring("GET of the request's bindings"))
		Expect(rev.Detail).To(ContainSubstring("absent: RoleBinding " + ns + "/"))
		Expect(rev.Detail).To(ContainSubstring("denied"))
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)).To(BeTrue())
		lag := rev.VerifiedAt.Sub(got.Status.ExpiresAt.Time)
		AddReportEntry("expiry to verified revocation", lag.String())
		GinkgoWriter.Printf("expiry -> verified revocation lag: %s\n", lag)
		// One Event per stored transition: approval and grant happened in one
		// reconcile, and so did revocation and its verification.
		Eventually(func() []string { return eventReasons(ctx, er) }, eventually, poll).Should(ConsistOf("Requested", "Granted", "Verified"))
		Expect(eventNote(ctx, er, "Granted")).To(HavePrefix("approved by 1 of 1 required approvers; access granted until "))
		Expect(eventNote(ctx, er, "Verified")).To(HavePrefix("access removed (Expired) and verified gone at "))
	})

	It("auto-approves a role that needs no approvals in the reconcile that first sees it", func() {
		op = startOperator(operatorOptions{})
		er := newRequest(ns, "auto", "auto", "1h")
		signRequestedBy(er, subject)
		Expect(k8sClient.Create(ctx, er)).To(Succeed())
		got := waitPhaseWithin(ctx, er, accessv1alpha1.PhaseActive, 5*time.Second)
		Expect(got.Status.Approvals).To(BeEmpty())
		Expect(meta.FindStatusCondition(got.Status.Conditions, accessv1alpha1.ConditionApproved).Message).To(Equal("the role needs no approval"))
		Expect(canGetPods(ctx, ns)).To(BeTrue())
	})

	It("adds its finalizer itself when no webhook did, and still grants", func() {
		op = startOperator(operatorOptions{})
		er := newRequest(ns, "no-webhook", "auto", "1h")
		er.Finalizers = nil
		signRequestedBy(er, subject)
		Expect(k8sClient.Create(ctx, er)).To(Succeed())
		got := waitPhaseWithin(ctx, er, accessv1alpha1.PhaseActive, 5*time.Second)
		Expect(got.Finalizers).To(ContainElement(accessv1alpha1.Finalizer))
	})

	It("refuses, even with no webhook, an auto-approved role asked for someone else", func() {
		op = startOperator(operatorOptions{})
		er := newRequest(ns, "pushed", "auto", "1h")
		signRequestedBy(er, "mallory@example.com")
		Expect(k8sClient.Create(ctx, er)).To(Succeed())
		got := waitPhaseWithin(ctx, er, accessv1alpha1.PhaseFailed, 5*time.Second)
		Expect(got.Status.Message).To(ContainSubstring(`only its subject may request it: user "mallory@example.com" asked for "alice@example.com"`))
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
	})

	It("refuses, even with no webhook, to grant to a ServiceAccount or a system identity", func() {
		op = startOperator(operatorOptions{})
		for name, subj := range map[string]string{"sa": "system:serviceaccount:" + ns + ":bot", "anon": "system:anonymous"} {
			er := newRequest(ns, name, "edit", "1h")
			er.Spec.Subject = subj
			Expect(k8sClient.Create(ctx, er)).To(Succeed())
			waitPhaseWithin(ctx, er, accessv1alpha1.PhasePending, 5*time.Second)
			approveAsAdmin(ctx, er, approver)
			got := waitPhase(ctx, er, accessv1alpha1.PhaseFailed)
			Expect(got.Status.Message).To(ContainSubstring("spec.subject: %q is a", subj))
		}
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
	})

	It("does not count an approval by a case variant of the subject's name", func() {
		op = startOperator(operatorOptions{})
		er := createRequest(ctx, ns, "case", "edit", "1h")
		waitPhase(ctx, er, accessv1alpha1.PhasePending)
		approveAsAdmin(ctx, er, strings.ToUpper(subject))
		Consistently(func() accessv1alpha1.Phase { return get(ctx, er).Status.Phase }, 2*time.Second, poll).Should(Equal(accessv1alpha1.PhasePending))
		Expect(get(ctx, er).Status.Message).To(Equal("waiting for approval: 0 of 1 approvals"))
	})

	It("does not count approvals by the subject or the requester", func() {
		op = startOperator(operatorOptions{})
		er := createRequest(ctx, ns, "self", "edit", "1h")
		waitPhase(ctx, er, accessv1alpha1.PhasePending)
		writeRecords(ctx, er, func(rec *records.Records) {
			rec.RequestedBy = "carol@example.com"
			rec.Approvals = approvalsBy(subject, "carol@example.com")
		})
		Consistently(func() accessv1alpha1.Phase { return get(ctx, er).Status.Phase }, 2*time.Second, poll).Should(Equal(accessv1alpha1.PhasePending))
		Expect(get(ctx, er).Status.Message).To(Equal("waiting for approval: 0 of 1 approvals"))
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
	})

	It("ends access early on a revoke request", func() {
		op = startOperator(operatorOptions{})
		er := createRequest(ctx, ns, "early", "edit", "1h")
		approveAsAdmin(ctx, er, approver)
		waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		revokeAsAdmin(ctx, er, subject, "done")
		got := waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(got.Status.Revocation.Reason).To(Equal(accessv1alpha1.RevocationEarly))
		Expect(got.Status.Revocation.RequestedBy).To(Equal(subject))
		Expect(got.Status.RevokedAt.Time).To(BeTemporally("<", got.Status.ExpiresAt.Time))
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
		Expect(canGetPods(ctx, ns)).To(BeFalse())
	})

	It("withdraws a request revoked before it was granted, without granting it", func() {
		op = startOperator(operatorOptions{})
		er := createRequest(ctx, ns, "withdrawn", "edit", "1h")
		waitPhase(ctx, er, accessv1alpha1.PhasePending)
		revokeAsAdmin(ctx, er, subject, "not needed")
		got := waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(got.Status.Message).To(Equal("withdrawn before access was granted by " + subject))
		Expect(got.Status.Grant).To(BeNil())
		Expect(got.Status.GrantedAt).To(BeNil())
		approveAsAdmin(ctx, er, approver)
		Consistently(func() []string { return bindingNames(ctx, ns) }, 2*time.Second, poll).Should(BeEmpty())
	})

	It("revokes and verifies before letting a deleted Active request go", func() {
		op = startOperator(operatorOptions{})
		er := createRequest(ctx, ns, "delete", "edit", "1h")
		approveAsAdmin(ctx, er, approver)
		waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		Expect(canGetPods(ctx, ns)).To(BeTrue())
		Expect(k8sClient.Delete(ctx, er)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, key(er), &accessv1alpha1.ElevationRequest{}))
		}, eventually, poll).Should(BeTrue())
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
		Expect(canGetPods(ctx, ns)).To(BeFalse())
		Expect(eventReasons(ctx, er)).To(ContainElement("Verified"))
	})

	It("expires a request not approved within the pending timeout", func() {
		createConnectionNamed(ctx, ns, "slow", "1h", "2s")
		op = startOperator(operatorOptions{})
		er := newRequest(ns, "timeout", "edit", "1h")
		er.Spec.Connection = "slow"
		Expect(k8sClient.Create(ctx, er)).To(Succeed())
		waitPhaseWithin(ctx, er, accessv1alpha1.PhasePending, 5*time.Second)
		got := waitPhaseWithin(ctx, er, accessv1alpha1.PhaseExpired, 5*time.Second)
		Expect(got.Status.RevokedAt).To(BeNil())
		Expect(got.Status.Message).To(Equal("not approved within the pending timeout of 2s"))
		Expect(got.Status.GrantedAt).To(BeNil())
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
	})

	It("ends a denied request Denied and never grants it, even if approved later", func() {
		op = startOperator(operatorOptions{})
		er := createRequest(ctx, ns, "deny", "edit", "1h")
		waitPhase(ctx, er, accessv1alpha1.PhasePending)
		writeRecords(ctx, er, func(rec *records.Records) {
			rec.Denial = &accessv1alpha1.DenialRecord{User: approver, At: metav1.Now(), Reason: "not during the freeze"}
		})
		got := waitPhase(ctx, er, accessv1alpha1.PhaseDenied)
		Expect(got.Status.Denial.User).To(Equal(approver))
		Expect(got.Status.Message).To(Equal("denied by bob@example.com: not during the freeze"))
		approveAsAdmin(ctx, er, "dave@example.com")
		Consistently(func() accessv1alpha1.Phase { return get(ctx, er).Status.Phase }, 2*time.Second, poll).Should(Equal(accessv1alpha1.PhaseDenied))
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
	})

	It("refuses to grant past the operator's --max-duration, even with no webhook", func() {
		op = startOperator(operatorOptions{maxDuration: 30 * time.Minute})
		er := createRequest(ctx, ns, "global-cap", "edit", "20m")
		approveAsAdmin(ctx, er, approver)
		got := waitPhase(ctx, er, accessv1alpha1.PhaseFailed)
		Expect(got.Status.Message).To(Equal("refused to grant: spec.connection: the connection's maxDuration 1h0m0s exceeds the operator's --max-duration 30m0s"))
		Expect(got.Status.Grant).To(BeNil())
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
	})

	It("refuses to grant past the role's maxDuration, even with no webhook", func() {
		op = startOperator(operatorOptions{})
		er := createRequest(ctx, ns, "role-cap", "short", "20m")
		approveAsAdmin(ctx, er, approver)
		got := waitPhase(ctx, er, accessv1alpha1.PhaseFailed)
		Expect(got.Status.Message).To(Equal(`refused to grant: spec.duration: 20m0s exceeds the maxDuration 10m0s of role "short"`))
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
	})

	It("refuses to grant a ClusterRole outside --grantable-cluster-roles to a connection that bypassed the webhook", func() {
		op = startOperator(operatorOptions{})
		conn := &accessv1alpha1.SaaSConnection{
			ObjectMeta: metav1.ObjectMeta{Name: "grab", Namespace: ns},
			Spec: accessv1alpha1.SaaSConnectionSpec{
				Provider:    accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}},
				MaxDuration: "1h",
				Roles: []accessv1alpha1.Role{
					{Name: "view", RequiredApprovals: ptr.To[int32](0), Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: clusterRoleName, Namespaces: []string{ns}}},
					{Name: "everything", RequiredApprovals: ptr.To[int32](0), Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: "cluster-admin", ClusterWide: true}},
				},
			},
		}
		Expect(k8sClient.Create(ctx, conn)).To(Succeed())
		er := newRequest(ns, "grab-everything", "everything", "30m")
		er.Spec.Connection = conn.Name
		signRequestedBy(er, subject)
		Expect(k8sClient.Create(ctx, er)).To(Succeed())

		got := waitPhase(ctx, er, accessv1alpha1.PhaseFailed)
		Expect(got.Status.Message).To(Equal(`refused to grant: SaaSConnection "grab" spec.roles[1].kubernetes.clusterRole: ` +
			`ClusterRole "cluster-admin" may not be handed out: the operator's --grantable-cluster-roles allows only ` + clusterRoleName + ", " + binderRoleName))
		stalled := meta.FindStatusCondition(got.Status.Conditions, accessv1alpha1.ConditionStalled)
		Expect(stalled).NotTo(BeNil())
		Expect(stalled.Reason).To(Equal("PolicyViolation"))
		Expect(meta.FindStatusCondition(got.Status.Conditions, accessv1alpha1.ConditionReady)).To(BeNil(), "an ended request has no Ready condition")
		Expect(got.Status.Grant).To(BeNil())
		err := k8sClient.Get(ctx, types.NamespacedName{Name: kubernetes.BindingName(key(er))}, &rbacv1.ClusterRoleBinding{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "no ClusterRoleBinding was created: %v", err)
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               subject,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "kube-system", Verb: "get", Resource: "secrets"},
		}}
		Expect(k8sClient.Create(ctx, sar)).To(Succeed())
		Expect(sar.Status.Allowed).To(BeFalse(), "the subject cannot read secrets in kube-system")
	})

	It("keeps access while an overlapping request still holds it", func() {
		op = startOperator(operatorOptions{})
		first := createRequest(ctx, ns, "first", "edit", "3s")
		second := createRequest(ctx, ns, "second", "edit", "8s")
		approveAsAdmin(ctx, first, approver)
		approveAsAdmin(ctx, second, approver)
		waitPhase(ctx, first, accessv1alpha1.PhaseActive)
		waitPhase(ctx, second, accessv1alpha1.PhaseActive)
		waitPhase(ctx, first, accessv1alpha1.PhaseRevoked)
		Expect(get(ctx, second).Status.Phase).To(Equal(accessv1alpha1.PhaseActive))
		Expect(canGetPods(ctx, ns)).To(BeTrue(), "the second request still grants access")
		Expect(get(ctx, first).Status.Revocation.Detail).To(ContainSubstring("allowed"), "the evidence reports access from the other binding")
		waitPhase(ctx, second, accessv1alpha1.PhaseRevoked)
		Expect(canGetPods(ctx, ns)).To(BeFalse())
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
	})

	It("keeps retrying a blocked revocation, overdue, and converges when unblocked", func() {
		op = startOperator(operatorOptions{})
		er := createRequest(ctx, ns, "blocked", "edit", "3s")
		unblock := blockBindingDeletion(ctx, er)
		approveAsAdmin(ctx, er, approver)
		waitPhase(ctx, er, accessv1alpha1.PhaseActive)

		Eventually(func(g Gomega) {
			got := get(ctx, er)
			g.Expect(got.Status.Phase).To(Equal(accessv1alpha1.PhaseRevoking))
			cond := meta.FindStatusCondition(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(cond.Reason).To(Equal(accessv1alpha1.ReasonRevokeFailed))
			g.Expect(cond.Message).To(ContainSubstring(blockMessage))
			g.Expect(got.Status.Revocation.Attempts).To(BeNumerically(">=", 2))
		}, eventually, poll).Should(Succeed())
		Expect(get(ctx, er).Status.Revocation.VerifiedAt).To(BeNil(), "nothing is marked revoked that was not verified")
		Expect(canGetPods(ctx, ns)).To(BeTrue(), "the refused delete left the access in place")
		Expect(op.Tracker.Overdue()).To(Equal(1))
		Eventually(func() []string { return warningReasons(ctx, er) }, eventually, poll).Should(ContainElement(accessv1alpha1.ReasonRevokeFailed))

		unblock()
		got := waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)).To(BeTrue())
		Expect(op.Tracker.Overdue()).To(Equal(0))
		Expect(canGetPods(ctx, ns)).To(BeFalse())
	})

	// Attack 5: a finalizer someone put on the operator's binding kept it
	// Terminating, and RBAC honours a Terminating binding.
	It("removes a foreign finalizer from its own binding and verifies the binding gone", func() {
		op = startOperator(operatorOptions{})
		er := createRequest(ctx, ns, "foreign-finalizer", "edit", "3s")
		approveAsAdmin(ctx, er, approver)
		waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		setBindingFinalizers(ctx, er, foreignFinalizer)

		got := waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)).To(BeTrue())
		Expect(got.Status.Revocation.Detail).To(ContainSubstring("absent: RoleBinding " + ns + "/" + kubernetes.BindingName(key(er))))
		err := k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: kubernetes.BindingName(key(er))}, &rbacv1.RoleBinding{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "no Terminating binding is left behind: %v", err)
		Expect(canGetPods(ctx, ns)).To(BeFalse())
	})

	It("leaves a foreign finalizer on a binding the operator did not make", func() {
		decoy := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "not-elevators", Namespace: ns, Finalizers: []string{foreignFinalizer}},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRoleName},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "someone-else"}},
		}
		Expect(k8sClient.Create(ctx, decoy)).To(Succeed())
		DeferCleanup(func() { setFinalizers(ctx, decoy) })
		op = startOperator(operatorOptions{})
		er := createRequest(ctx, ns, "not-mine", "edit", "2s")
		approveAsAdmin(ctx, er, approver)
		waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(decoy), decoy)).To(Succeed())
		Expect(decoy.Finalizers).To(ConsistOf(foreignFinalizer))
	})

	// Attack 7: with the webhooks off, a typed approval record approved.
	DescribeTable("ignores approval records the webhook did not sign, and stays Pending",
		func(forge func(er *accessv1alpha1.ElevationRequest)) {
			op = startOperator(operatorOptions{})
			er := createRequest(ctx, ns, fmt.Sprintf("forged-%d", nsCounter.Load()), "edit", "1h")
			waitPhase(ctx, er, accessv1alpha1.PhasePending)
			forge(er)
			Consistently(func() accessv1alpha1.Phase { return get(ctx, er).Status.Phase }, 3*time.Second, poll).Should(Equal(accessv1alpha1.PhasePending))
			got := get(ctx, er)
			Expect(got.Status.Approvals).NotTo(ContainElement(HaveField("User", approver)), "the forged approval by bob never reaches status")
			Expect(got.Status.Message).To(Equal("waiting for approval: 0 of 1 approvals"))
			Expect(bindingNames(ctx, ns)).To(BeEmpty())
			Expect(canGetPods(ctx, ns)).To(BeFalse())
		},
		Entry("a typed, unsigned elevator.dev/approvals", func(er *accessv1alpha1.ElevationRequest) {
			setAnnotation(ctx, er, accessv1alpha1.AnnotationApprovals, `[{"user":"bob@example.com","at":"2026-01-01T00:00:00Z","comment":"ok"}]`)
		}),
		Entry("a signed approval whose approver was renamed", func(er *accessv1alpha1.ElevationRequest) {
			approveAsAdmin(ctx, er, subject)
			setAnnotation(ctx, er, accessv1alpha1.AnnotationApprovals, `[{"user":"bob@example.com","at":"2026-01-01T00:00:00Z","comment":"ok"}]`)
		}),
		Entry("an approval signed with another key", func(er *accessv1alpha1.ElevationRequest) {
			other, err := records.NewSigner([]byte("not the operator's key, not at all"))
			Expect(err).NotTo(HaveOccurred())
			writeRecordsWith(ctx, other, er, func(rec *records.Records) { rec.Approvals = approvalsBy(approver) })
		}),
	)

	It("converges with no leaked binding after a crash between grant and status write", func() {
		var er *accessv1alpha1.ElevationRequest
		op, er = grantThenCrash(ctx, ns, "crash", "3s")
		got := get(ctx, er)
		Expect(got.Status.Phase).To(Equal(accessv1alpha1.PhasePending), "the status write never happened")
		Expect(got.Status.Grant).To(BeNil(), "a per-request binding's intent is stored with the grant, in one write")
		op.stop()

		op = startOperator(operatorOptions{})
		waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		Expect(bindingNames(ctx, ns)).To(HaveLen(1))
		waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
	})

	// A per-request binding's intent to grant is stored with the grant, so a
	// crash between the two leaves a binding that no status tells of. Ending the
	// request then must still remove it and prove it gone.
	DescribeTable("removes and verifies a grant whose record a crash lost",
		func(end string) {
			var er *accessv1alpha1.ElevationRequest
			op, er = grantThenCrash(ctx, ns, "lost-"+end, "1h")
			Expect(get(ctx, er).Status.Grant).To(BeNil())
			op.stop()

			if end == "revoke" {
				revokeAsAdmin(ctx, er, subject, "done")
			} else {
				Expect(k8sClient.Delete(ctx, er)).To(Succeed())
			}
			op = startOperator(operatorOptions{})
			if end == "revoke" {
				got := waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
				Expect(got.Status.Revocation.VerifiedAt).NotTo(BeNil())
				Expect(got.Status.Revocation.Detail).To(HavePrefix("no grant was recorded; the request's own entitlement"))
				Expect(got.Status.Revocation.Detail).To(ContainSubstring("absent: RoleBinding " + ns + "/"))
			} else {
				Eventually(func() bool {
					return apierrors.IsNotFound(k8sClient.Get(ctx, key(er), &accessv1alpha1.ElevationRequest{}))
				}, eventually, poll).Should(BeTrue(), "the finalizer is released once the binding is verified gone")
			}
			Expect(bindingNames(ctx, ns)).To(BeEmpty())
			Expect(canGetPods(ctx, ns)).To(BeFalse())
		},
		Entry("revoked while the operator is down", "revoke"),
		Entry("deleted while the operator is down", "delete"),
	)

	It("converges when the operator is down across approval and expiry", func() {
		op = startOperator(operatorOptions{})
		er := createRequest(ctx, ns, "restart", "edit", "3s")
		waitPhase(ctx, er, accessv1alpha1.PhasePending)
		op.stop()

		approveAsAdmin(ctx, er, approver)
		op = startOperator(operatorOptions{})
		waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		op.stop()

		expires := get(ctx, er).Status.ExpiresAt.Time
		time.Sleep(time.Until(expires) + time.Second)
		Expect(canGetPods(ctx, ns)).To(BeTrue(), "with the operator down, nothing has revoked yet")
		restarted := time.Now()
		op = startOperator(operatorOptions{})
		got := waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(got.Status.Revocation.VerifiedAt.Time).To(BeTemporally("<", restarted.Add(10*time.Second)))
		Expect(bindingNames(ctx, ns)).To(BeEmpty())
		Expect(canGetPods(ctx, ns)).To(BeFalse())
	})

	It("converges when the operator restarts while a revocation is blocked", func() {
		op = startOperator(operatorOptions{})
		er := createRequest(ctx, ns, "restart-revoking", "edit", "2s")
		unblock := blockBindingDeletion(ctx, er)
		approveAsAdmin(ctx, er, approver)
		waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		waitPhase(ctx, er, accessv1alpha1.PhaseRevoking)
		op.stop()

		unblock()
		op = startOperator(operatorOptions{})
		got := waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(got.Status.Revocation.Attempts).To(BeNumerically(">=", 1))
		Expect(canGetPods(ctx, ns)).To(BeFalse())
	})
})

// foreignFinalizer is a finalizer someone other than the operator puts on a
// binding, to keep it Terminating (and so, to RBAC, in force).
const foreignFinalizer = "test.elevator.dev/keep"

// blockMessage is what the admission policy of blockBindingDeletion says.
const blockMessage = "test.elevator.dev: deleting this RoleBinding is refused"

var blockCounter atomic.Int32

// blockBindingDeletion makes the API server refuse, to everyone and so to the
// operator, the deletion of the request's RoleBindings, with a
// ValidatingAdmissionPolicy on their request labels, as a cluster's own
// admission policy might. The operator clears foreign finalizers itself, so a
// refused delete is the real way a revocation stays blocked. It waits until the
// policy is in force (a dry-run delete of a decoy with the same labels is
// refused) and returns the function that lifts the block.
func blockBindingDeletion(ctx context.Context, er *accessv1alpha1.ElevationRequest) func() {
	GinkgoHelper()
	name := fmt.Sprintf("block-binding-delete-%d-%d", GinkgoParallelProcess(), blockCounter.Add(1))
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Delete},
					Rule: admissionregistrationv1.Rule{
						APIGroups: []string{rbacv1.GroupName}, APIVersions: []string{"v1"}, Resources: []string{"rolebindings"},
					},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "false", Message: blockMessage}},
		},
	}
	Expect(k8sClient.Create(ctx, policy)).To(Succeed())
	requestLabels := map[string]string{accessv1alpha1.LabelRequestName: er.Name, accessv1alpha1.LabelRequestNamespace: er.Namespace}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources:    &admissionregistrationv1.MatchResources{ObjectSelector: &metav1.LabelSelector{MatchLabels: requestLabels}},
		},
	}
	Expect(k8sClient.Create(ctx, binding)).To(Succeed())
	decoy := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: er.Namespace, Labels: requestLabels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRoleName},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "nobody"}},
	}
	Expect(k8sClient.Create(ctx, decoy)).To(Succeed())
	Eventually(func() error { return k8sClient.Delete(ctx, decoy, client.DryRunAll) }, eventually, poll).Should(MatchError(ContainSubstring(blockMessage)))
	return func() {
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Expect(k8sClient.Delete(ctx, policy)).To(Succeed())
		Eventually(func() error { return k8sClient.Delete(ctx, decoy) }, eventually, poll).Should(Succeed())
	}
}

// grantThenCrash starts an operator whose provider panics right after each
// grant, creates and approves a request, and returns it once its binding exists
// (the status write after the grant never happens), with that operator.
func grantThenCrash(ctx context.Context, ns, name, duration string) (*operator, *accessv1alpha1.ElevationRequest) {
	var grants atomic.Int32
	op := startOperator(operatorOptions{wrap: func(c provider.Client) provider.Client {
		return providertest.CrashAfterGrant{Client: c, Grants: &grants}
	}})
	er := createRequest(ctx, ns, name, "edit", duration)
	waitPhase(ctx, er, accessv1alpha1.PhasePending)
	approveAsAdmin(ctx, er, approver)
	Eventually(grants.Load, eventually, poll).Should(BeNumerically(">=", 1))
	Expect(bindingNames(ctx, ns)).To(ConsistOf(kubernetes.BindingName(key(er))), "the provider granted")
	return op, er
}

// setBindingFinalizers sets the finalizers of the request's RoleBinding.
func setBindingFinalizers(ctx context.Context, er *accessv1alpha1.ElevationRequest, finalizers ...string) {
	GinkgoHelper()
	setFinalizers(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: er.Namespace, Name: kubernetes.BindingName(key(er))}}, finalizers...)
}

func setFinalizers(ctx context.Context, binding *rbacv1.RoleBinding, finalizers ...string) {
	GinkgoHelper()
	Eventually(func() error {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(binding), binding); err != nil {
			return client.IgnoreNotFound(err)
		}
		binding.Finalizers = finalizers
		return k8sClient.Update(ctx, binding)
	}, eventually, poll).Should(Succeed())
}

func key(er *accessv1alpha1.ElevationRequest) types.NamespacedName {
	return types.NamespacedName{Namespace: er.Namespace, Name: er.Name}
}

var nsCounter atomic.Int32

func createNamespace(ctx context.Context) string {
	name := fmt.Sprintf("lifecycle-%d-%d", GinkgoParallelProcess(), nsCounter.Add(1))
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	return name
}

func ensureClusterRole(ctx context.Context) {
	cr := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: clusterRoleName},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}},
	}
	if err := k8sClient.Create(ctx, cr); err != nil && !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
}

func createConnection(ctx context.Context, ns, maxDuration, pendingTimeout string) {
	createConnectionNamed(ctx, ns, "cluster", maxDuration, pendingTimeout)
}

func createConnectionNamed(ctx context.Context, ns, name, maxDuration, pendingTimeout string) {
	role := func(name string, approvals int32, maxDur string) accessv1alpha1.Role {
		return accessv1alpha1.Role{
			Name: name, RequiredApprovals: ptr.To(approvals), MaxDuration: maxDur,
			Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: clusterRoleName, Namespaces: []string{ns}},
		}
	}
	conn := &accessv1alpha1.SaaSConnection{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: accessv1alpha1.SaaSConnectionSpec{
			Provider:       accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}},
			MaxDuration:    maxDuration,
			PendingTimeout: pendingTimeout,
			Roles:          []accessv1alpha1.Role{role("edit", 1, ""), role("auto", 0, ""), role("short", 1, "10m")},
		},
	}
	Expect(k8sClient.Create(ctx, conn)).To(Succeed())
}

// newRequest is a request as the mutating webhook admits it: with the
// operator's finalizer already set, so that, as in the shipped configuration,
// no finalizer patch by the controller wakes the request a second time.
func newRequest(ns, name, role, duration string) *accessv1alpha1.ElevationRequest {
	return &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Finalizers: []string{accessv1alpha1.Finalizer}},
		Spec: accessv1alpha1.ElevationRequestSpec{
			Subject: subject, Connection: "cluster", Role: role, Duration: duration,
			Justification: "INC-4711: roll back the billing config",
		},
	}
}

func createRequest(ctx context.Context, ns, name, role, duration string) *accessv1alpha1.ElevationRequest {
	er := newRequest(ns, name, role, duration)
	Expect(k8sClient.Create(ctx, er)).To(Succeed())
	return er
}

func get(ctx context.Context, er *accessv1alpha1.ElevationRequest) *accessv1alpha1.ElevationRequest {
	got := &accessv1alpha1.ElevationRequest{}
	Expect(k8sClient.Get(ctx, key(er), got)).To(Succeed())
	return got
}

func waitPhase(ctx context.Context, er *accessv1alpha1.ElevationRequest, phase accessv1alpha1.Phase) *accessv1alpha1.ElevationRequest {
	return waitPhaseWithin(ctx, er, phase, eventually)
}

// waitPhaseWithin waits for the phase for at most within: shorter than the
// operator's safety delay for a missed next look, where a test shows that a
// step scheduled its own.
func waitPhaseWithin(ctx context.Context, er *accessv1alpha1.ElevationRequest, phase accessv1alpha1.Phase, within time.Duration) *accessv1alpha1.ElevationRequest {
	var got *accessv1alpha1.ElevationRequest
	EventuallyWithOffset(1, func() accessv1alpha1.Phase {
		got = get(ctx, er)
		return got.Status.Phase
	}, within, poll).Should(Equal(phase), func() string { return fmt.Sprintf("status: %+v", got.Status) })
	return got
}

func setAnnotation(ctx context.Context, er *accessv1alpha1.ElevationRequest, name, value string) {
	Eventually(func() error {
		cur := get(ctx, er)
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations[name] = value
		return k8sClient.Update(ctx, cur)
	}, eventually, poll).Should(Succeed())
}

// writeRecords changes the request's records and signs them with the suite's
// key, as the admission webhook would: this suite runs without the webhook, as
// the admin.
func writeRecords(ctx context.Context, er *accessv1alpha1.ElevationRequest, change func(*records.Records)) {
	GinkgoHelper()
	writeRecordsWith(ctx, suiteSigner(), er, change)
}

func writeRecordsWith(ctx context.Context, signer *records.Signer, er *accessv1alpha1.ElevationRequest, change func(*records.Records)) {
	GinkgoHelper()
	Eventually(func() error {
		return testenv.UpdateSignedRecords(ctx, k8sClient, signer, client.ObjectKeyFromObject(er), change)
	}, eventually, poll).Should(Succeed())
}

// signRequestedBy records, signed as the mutating webhook signs it on create,
// that user created the request.
func signRequestedBy(er *accessv1alpha1.ElevationRequest, user string) {
	GinkgoHelper()
	ann, err := suiteSigner().Encode(er, records.Records{RequestedBy: user}, er.Annotations)
	Expect(err).NotTo(HaveOccurred())
	er.Annotations = ann
}

func approvalsBy(users ...string) []accessv1alpha1.ApprovalRecord {
	var approvals []accessv1alpha1.ApprovalRecord
	for _, u := range users {
		approvals = append(approvals, accessv1alpha1.ApprovalRecord{User: u, At: metav1.Now(), Comment: "ok"})
	}
	return approvals
}

// approveAsAdmin replaces the request's approvals with signed ones by users.
func approveAsAdmin(ctx context.Context, er *accessv1alpha1.ElevationRequest, users ...string) {
	GinkgoHelper()
	writeRecords(ctx, er, func(rec *records.Records) { rec.Approvals = approvalsBy(users...) })
}

// revokeAsAdmin writes a signed revocation record by user.
func revokeAsAdmin(ctx context.Context, er *accessv1alpha1.ElevationRequest, user, reason string) {
	GinkgoHelper()
	writeRecords(ctx, er, func(rec *records.Records) {
		rec.Revocation = &accessv1alpha1.RevokeRecord{User: user, At: metav1.Now(), Reason: reason}
	})
}

func bindingNames(ctx context.Context, ns string) []string {
	var list rbacv1.RoleBindingList
	Expect(k8sClient.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{accessv1alpha1.LabelManagedBy: accessv1alpha1.ManagedByValue})).To(Succeed())
	names := make([]string, 0, len(list.Items))
	for _, b := range list.Items {
		names = append(names, b.Name)
	}
	return names
}

// canGetPods asks the real authorizer whether the subject may get pods in ns.
func canGetPods(ctx context.Context, ns string) bool {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               subject,
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "get", Resource: "pods"},
	}}
	Expect(k8sClient.Create(ctx, sar)).To(Succeed())
	return sar.Status.Allowed
}

func eventsFor(ctx context.Context, er *accessv1alpha1.ElevationRequest) []eventsv1.Event {
	var list eventsv1.EventList
	Expect(k8sClient.List(ctx, &list, client.InNamespace(er.Namespace))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == er.Name && e.Regarding.Kind == "ElevationRequest" {
			out = append(out, e)
		}
	}
	return out
}

func eventReasons(ctx context.Context, er *accessv1alpha1.ElevationRequest) []string {
	var out []string
	for _, e := range eventsFor(ctx, er) {
		out = append(out, e.Reason)
	}
	return out
}

func eventNote(ctx context.Context, er *accessv1alpha1.ElevationRequest, reason string) string {
	for _, e := range eventsFor(ctx, er) {
		if e.Reason == reason {
			return e.Note
		}
	}
	return ""
}

func warningReasons(ctx context.Context, er *accessv1alpha1.ElevationRequest) []string {
	var out []string
	for _, e := range eventsFor(ctx, er) {
		if strings.EqualFold(e.Type, corev1.EventTypeWarning) {
			out = append(out, e.Reason)
		}
	}
	return out
}
