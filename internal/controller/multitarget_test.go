package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/records"
)

// refuseTarget is a real provider client that refuses, for good, to grant
// one target of a multi-target request: a target the provider cannot grant.
type refuseTarget struct {
	provider.Client
	target string
}

func (c refuseTarget) Grant(ctx context.Context, e provider.Entitlement) (provider.Grant, error) {
	if e.Part == c.target {
		return provider.Grant{}, provider.Permanentf("target %s cannot be granted here", c.target)
	}
	return c.Client.Grant(ctx, e)
}

// failTarget is a real provider client whose grant of one target of a
// multi-target request keeps failing, as a server that is down would.
type failTarget struct {
	provider.Client
	target string
}

func (c failTarget) Grant(ctx context.Context, e provider.Entitlement) (provider.Grant, error) {
	if e.Part == c.target {
		return provider.Grant{}, fmt.Errorf("target %s: connection refused", c.target)
	}
	return c.Client.Grant(ctx, e)
}

var _ = Describe("A request with several targets", func() {
	s := newLifecycleSpec()
	BeforeEach(func() {
		createConnectionNamed(s.ctx, s.ns, "second", "1h", "1h")
	})

	newTargetsRequest := func(name string, targets ...accessv1alpha1.Target) *accessv1alpha1.ElevationRequest {
		er := newRequest(s.ns, name, "", "1h")
		er.Spec.Connection, er.Spec.Role, er.Spec.Targets = "", "", targets
		Expect(k8sClient.Create(s.ctx, er)).To(Succeed())
		return er
	}
	approveFor := func(er *accessv1alpha1.ElevationRequest, byConnection map[string]string) {
		writeRecords(s.ctx, er, func(rec *records.Records) {
			rec.Approvals = nil
			for conn, user := range byConnection {
				rec.Approvals = append(rec.Approvals, accessv1alpha1.ApprovalRecord{User: user, At: metav1.Now(), Connections: []string{conn}})
			}
		})
	}
	both := []accessv1alpha1.Target{{Connection: "cluster", Role: "edit"}, {Connection: "second", Role: "edit"}}

	It("waits for each target's approvers, grants all, and verifies each removal", func() {
		s.op = startOperator(operatorOptions{})
		er := newTargetsRequest("both", both...)

		approveFor(er, map[string]string{"cluster": "approver-a"})
		Eventually(func(g Gomega) {
			got := get(s.ctx, er)
			g.Expect(got.Status.Targets).To(HaveLen(2))
			g.Expect(got.Status.Targets[0].Approvals).To(BeEquivalentTo(1))
			g.Expect(got.Status.Targets[1].Approvals).To(BeEquivalentTo(0))
		}, eventually, poll).Should(Succeed())
		got := get(s.ctx, er)
		Expect(got.Status.Phase).To(Equal(accessv1alpha1.PhasePending), "an approver of one connection approves only its target")
		Expect(got.Status.Message).To(ContainSubstring("second/edit: 0 of 1 approvals"))
		Expect(got.Status.Target).To(Equal("cluster/edit +1"))
		Expect(bindingNames(s.ctx, s.ns)).To(BeEmpty())

		approveFor(er, map[string]string{"cluster": "approver-a", "second": "approver-b"})
		got = waitPhase(s.ctx, er, accessv1alpha1.PhaseActive)
		Expect(bindingNames(s.ctx, s.ns)).To(HaveLen(2), "one binding per target, never shared")
		first := got.Status.Targets[0].GrantedAt.Time
		for _, ts := range got.Status.Targets {
			Expect(ts.Phase).To(Equal(accessv1alpha1.PhaseActive))
			Expect(ts.Grant.Target.Bindings).To(HaveLen(1))
			if ts.GrantedAt.Before(&metav1.Time{Time: first}) {
				first = ts.GrantedAt.Time
			}
		}
		Expect(got.Status.ExpiresAt.Time).To(Equal(first.Add(time.Hour)), "one expiry, counted from the first target's grant")
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, accessv1alpha1.ConditionGranted)).To(BeTrue())

		revokeAsAdmin(s.ctx, er, subject, "done")
		got = waitPhase(s.ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(bindingNames(s.ctx, s.ns)).To(BeEmpty())
		for _, ts := range got.Status.Targets {
			Expect(ts.Phase).To(Equal(accessv1alpha1.PhaseRevoked))
			Expect(ts.Revocation.VerifiedAt).NotTo(BeNil(), "each removal verified on its own")
			Expect(ts.ResidualAccess).To(BeEmpty(), "the other target's binding is not residual access")
		}
		Expect(got.Status.Revocation.VerifiedAt).NotTo(BeNil())
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)).To(BeTrue())
		Expect(meta.IsStatusConditionFalse(got.Status.Conditions, accessv1alpha1.ConditionResidualAccess)).To(BeTrue())
	})

	It("undoes every target when one is refused for good, and ends Failed naming it", func() {
		s.op = startOperator(operatorOptions{wrap: func(c provider.Client) provider.Client { return refuseTarget{Client: c, target: "second/edit"} }})
		er := newTargetsRequest("refused", both...)
		approveFor(er, map[string]string{"cluster": "approver-a", "second": "approver-b"})

		got := waitPhase(s.ctx, er, accessv1alpha1.PhaseFailed)
		Expect(bindingNames(s.ctx, s.ns)).To(BeEmpty(), "the granted target was rolled back")
		Expect(got.Status.Message).To(ContainSubstring("second/edit"))
		Expect(got.Status.Targets[1].Grant.Error).To(SatisfyAll(ContainSubstring("cannot be granted"), ContainSubstring("second/edit")))
		Expect(got.Status.Targets[1].Phase).To(Equal(accessv1alpha1.PhaseFailed), "the target whose grant failed")
		Expect(got.Status.Targets[0].Phase).To(Equal(accessv1alpha1.PhaseRevoked), "a target undone because another failed")
		Expect(got.Status.Message).To(ContainSubstring("the 1 of 2 targets that were granted"))
		Expect(got.Status.Targets[0].Revocation.VerifiedAt).NotTo(BeNil(), "the rollback of the granted target was verified")
		Expect(got.Status.Revocation.Reason).To(Equal(accessv1alpha1.RevocationGrantUndo))
		granted := meta.FindStatusCondition(got.Status.Conditions, accessv1alpha1.ConditionGranted)
		Expect(granted).NotTo(BeNil())
		Expect(granted.Reason).To(Equal(accessv1alpha1.ReasonGrantFailed))
		Expect(warningReasons(s.ctx, er)).To(ContainElement(accessv1alpha1.ReasonGrantFailed))
	})

	It("undoes the granted targets when another cannot be granted within the window", func() {
		s.op = startOperator(operatorOptions{wrap: func(c provider.Client) provider.Client { return failTarget{Client: c, target: "second/edit"} }})
		er := newRequest(s.ns, "never-both", "", "3s")
		er.Spec.Connection, er.Spec.Role, er.Spec.Targets = "", "", both
		Expect(k8sClient.Create(s.ctx, er)).To(Succeed())
		approveFor(er, map[string]string{"cluster": "approver-a", "second": "approver-b"})

		Eventually(func(g Gomega) {
			got := get(s.ctx, er)
			g.Expect(got.Status.Targets).To(HaveLen(2))
			g.Expect(got.Status.Targets[0].Phase).To(Equal(accessv1alpha1.PhaseActive))
		}, eventually, poll).Should(Succeed())
		Expect(get(s.ctx, er).Status.Phase).To(Equal(accessv1alpha1.PhaseApproved), "Active only once every target is")
		Expect(canGetPods(s.ctx, s.ns)).To(BeTrue(), "the first target is granted meanwhile")

		got := waitPhase(s.ctx, er, accessv1alpha1.PhaseFailed)
		Expect(got.Status.Message).To(ContainSubstring("not every target was granted within the window"))
		Expect(bindingNames(s.ctx, s.ns)).To(BeEmpty())
		Expect(got.Status.Targets[1].Phase).To(Equal(accessv1alpha1.PhaseFailed))
		Expect(got.Status.Targets[1].Grant.Error).To(ContainSubstring("second/edit: not granted within the window"))
		Expect(got.Status.Targets[0].Phase).To(Equal(accessv1alpha1.PhaseRevoked))
		granted := got.Status.Targets[0].GrantedAt.Time
		Expect(got.Status.Targets[0].Revocation.VerifiedAt.Time).To(BeTemporally("<=", granted.Add(3*time.Second+2*time.Second)),
			"undone about when its window ended, not held while the other target is retried")
	})

	It("makes one binding per target, and a deletion removes only its own", func() {
		s.op = startOperator(operatorOptions{})
		single := createRequest(s.ctx, s.ns, "single", "edit", "1h")
		approveAsAdmin(s.ctx, single, "approver-a")
		waitPhase(s.ctx, single, accessv1alpha1.PhaseActive)
		multi := newTargetsRequest("multi", both...)
		approveFor(multi, map[string]string{"cluster": "approver-a", "second": "approver-b"})
		got := waitPhase(s.ctx, multi, accessv1alpha1.PhaseActive)
		Expect(got.Status.Message).To(ContainSubstring("on all 2 targets"))
		Expect(bindingNames(s.ctx, s.ns)).To(HaveLen(3), "the kubernetes provider makes one binding per request and target")

		Expect(k8sClient.Delete(s.ctx, multi)).To(Succeed())
		Eventually(func() []string { return bindingNames(s.ctx, s.ns) }, eventually, poll).Should(HaveLen(1))
		Expect(canGetPods(s.ctx, s.ns)).To(BeTrue(), "the single request's own binding stays")
	})

	It("reports a backdoor binding made to look like the request's own as residual access", func() {
		s.op = startOperator(operatorOptions{})
		er := newTargetsRequest("disguised", both...)
		approveFor(er, map[string]string{"cluster": "approver-a", "second": "approver-b"})
		waitPhase(s.ctx, er, accessv1alpha1.PhaseActive)

		backdoor := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "looks-like-elevator", Namespace: s.ns,
				Labels: map[string]string{accessv1alpha1.LabelManagedBy: accessv1alpha1.ManagedByValue,
					accessv1alpha1.LabelRequestNamespace: s.ns, accessv1alpha1.LabelRequestName: er.Name},
				Annotations: map[string]string{accessv1alpha1.AnnotationPrefix + "request": s.ns + "/" + er.Name}},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRoleName},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: subject}},
		}
		Expect(k8sClient.Create(s.ctx, backdoor)).To(Succeed())
		revokeAsAdmin(s.ctx, er, subject, "done")
		got := waitPhase(s.ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, accessv1alpha1.ConditionResidualAccess)).To(BeTrue())
		for _, ts := range got.Status.Targets {
			Expect(ts.ResidualAccess).To(ContainElement(HaveField("Name", ContainSubstring("looks-like-elevator"))))
			Expect(ts.ResidualAccess).To(HaveLen(1), "the other target's recorded binding is not listed")
		}
	})

	It("names every target in its Requested Event", func() {
		s.op = startOperator(operatorOptions{})
		er := newTargetsRequest("named", both...)
		Eventually(func() string { return eventNote(s.ctx, er, "Requested") }, eventually, poll).Should(
			SatisfyAll(ContainSubstring("role edit of cluster"), ContainSubstring("role edit of second")))
		Expect(strings.Count(get(s.ctx, er).Status.TargetList, "/edit")).To(Equal(2))
	})
})

// withLogsByTarget is a real client whose activity source is one scripted log
// per target, found by the entitlement's part: what each system's own audit
// log would show.
type withLogsByTarget struct {
	provider.Client
	logs map[string]*scriptedLog
}

func (c withLogsByTarget) Activity(_ context.Context, q provider.ActivityQuery) (provider.ActivityPage, error) {
	return c.logs[q.Entitlement.Part].read(q), nil
}
func (c withLogsByTarget) ActivityDelay() time.Duration { return time.Second }
func (c withLogsByTarget) ActivitySourceName() string   { return "scripted log" }

var _ = Describe("Activity of a request with several targets", func() {
	s := newLifecycleSpec()
	BeforeEach(func() { createConnectionNamed(s.ctx, s.ns, "second", "1h", "1h") })

	It("records each target's actions from its own source, and is complete once every target's is", func() {
		logs := map[string]*scriptedLog{"cluster/edit": {}, "second/edit": {}}
		s.op = startOperator(operatorOptions{
			activityInterval: 200 * time.Millisecond,
			wrap:             func(c provider.Client) provider.Client { return withLogsByTarget{Client: c, logs: logs} },
		})
		er := newRequest(s.ns, "acts-on-two", "", "6s")
		er.Spec.Connection, er.Spec.Role = "", ""
		er.Spec.Targets = []accessv1alpha1.Target{{Connection: "cluster", Role: "edit"}, {Connection: "second", Role: "edit"}}
		Expect(k8sClient.Create(s.ctx, er)).To(Succeed())
		writeRecords(s.ctx, er, func(rec *records.Records) {
			rec.Approvals = []accessv1alpha1.ApprovalRecord{{User: approver, At: metav1.Now(), Connections: []string{"cluster", "second"}}}
		})
		waitPhase(s.ctx, er, accessv1alpha1.PhaseActive)
		logs["cluster/edit"].act(accessv1alpha1.ActivityConfig, "update", "Deployment "+s.ns+"/billing")
		logs["cluster/edit"].act(accessv1alpha1.ActivityAccess, "create", "RoleBinding "+s.ns+"/backdoor")
		logs["second/edit"].act(accessv1alpha1.ActivityData, "update", "Secret "+s.ns+"/db")

		waitPhase(s.ctx, er, accessv1alpha1.PhaseRevoked)
		Eventually(func(g Gomega) {
			got := get(s.ctx, er)
			for _, ts := range got.Status.Targets {
				g.Expect(ts.Activity).NotTo(BeNil())
				g.Expect(ts.Activity.State).To(Equal(accessv1alpha1.ActivityComplete))
			}
		}, eventually, poll).Should(Succeed())
		got := get(s.ctx, er)
		Expect(got.Status.Targets[0].Activity.Counts).To(Equal(accessv1alpha1.ActivityCounts{Total: 2, Config: 1, Access: 1}))
		Expect(got.Status.Targets[1].Activity.Counts).To(Equal(accessv1alpha1.ActivityCounts{Total: 1, Data: 1}))
		Expect(got.Status.Activity).To(BeNil(), "a multi-target request keeps activity per target")
		c := meta.FindStatusCondition(got.Status.Conditions, accessv1alpha1.ConditionActivityRecorded)
		Expect(c).NotTo(BeNil())
		Expect(c.Status).To(Equal(metav1.ConditionTrue))
		Expect(c.Message).To(SatisfyAll(ContainSubstring("cluster/edit: "), ContainSubstring("second/edit: ")))
	})
})
