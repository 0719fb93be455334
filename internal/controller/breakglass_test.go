package controller

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/records"
)

const emergency = "INC-4711: billing is down at 03:00 and no approver answers the page"

// allowBreakGlass gives the connection's "edit" role (one approval) a
// break-glass policy.
func allowBreakGlass(ctx context.Context, ns, reviewWithin string) {
	GinkgoHelper()
	conn := &accessv1alpha1.SaaSConnection{}
	Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "cluster"}, conn)).To(Succeed())
	for i := range conn.Spec.Roles {
		if conn.Spec.Roles[i].Name == "edit" {
			conn.Spec.Roles[i].BreakGlass = &accessv1alpha1.BreakGlassPolicy{MinJustification: 40, MaxDuration: "30m", ReviewWithin: reviewWithin}
		}
	}
	Expect(k8sClient.Update(ctx, conn)).To(Succeed())
}

func breakGlassAsSubject(ctx context.Context, er *accessv1alpha1.ElevationRequest) {
	GinkgoHelper()
	writeRecords(ctx, er, func(rec *records.Records) {
		rec.BreakGlass = &accessv1alpha1.BreakGlassRecord{User: subject, At: metav1.Now(), Reason: "pager unanswered"}
	})
}

// createEmergencyRequest creates a request for the "edit" role with a
// justification long enough for break-glass, and waits until it is Pending.
func createEmergencyRequest(ctx context.Context, ns, name, duration string) *accessv1alpha1.ElevationRequest {
	GinkgoHelper()
	er := newRequest(ns, name, "edit", duration)
	er.Spec.Justification = emergency
	Expect(k8sClient.Create(ctx, er)).To(Succeed())
	waitPhase(ctx, er, accessv1alpha1.PhasePending)
	return er
}

var _ = Describe("Break-glass", func() {
	s := newLifecycleSpec()

	It("grants on the subject's own break-glass, loudly, and counts the review overdue until an approver gives it", func() {
		allowBreakGlass(s.ctx, s.ns, "3s")
		s.op = startOperator(operatorOptions{})
		er := createEmergencyRequest(s.ctx, s.ns, "glass", "20m")

		breakGlassAsSubject(s.ctx, er)
		got := waitPhase(s.ctx, er, accessv1alpha1.PhaseActive)
		Expect(canGetPods(s.ctx, s.ns)).To(BeTrue())
		Expect(got.Status.Approvals).To(BeEmpty())
		approved := findCondition(got, accessv1alpha1.ConditionApproved)
		Expect(approved.Reason).To(Equal(accessv1alpha1.ReasonBreakGlass))
		Expect(approved.Message).To(Equal("approved by break-glass of " + subject + ": pager unanswered; not reviewed yet"))
		Expect(got.Status.BreakGlass.ReviewDeadline.Time).To(Equal(got.Status.BreakGlass.Used.At.Add(3 * time.Second)))
		Eventually(func() []string { return warningReasons(s.ctx, er) }, eventually, poll).Should(ContainElement(accessv1alpha1.ReasonBreakGlass))

		Eventually(func() []string { return warningReasons(s.ctx, er) }, eventually, poll).Should(ContainElement(accessv1alpha1.ReasonReviewOverdue),
			"the review deadline passed without a review")
		Expect(s.op.Tracker.Unreviewed()).To(Equal(1))

		writeRecords(s.ctx, er, func(rec *records.Records) {
			rec.Review = &accessv1alpha1.ReviewRecord{User: approver, At: metav1.Now(), Comment: "justified: INC-4711"}
		})
		Eventually(func() *accessv1alpha1.ReviewRecord { return get(s.ctx, er).Status.BreakGlass.Review }, eventually, poll).
			Should(HaveField("User", approver))
		Eventually(s.op.Tracker.Unreviewed, eventually, poll).Should(BeZero())
		Expect(findCondition(get(s.ctx, er), accessv1alpha1.ConditionApproved).Message).To(HaveSuffix("reviewed by " + approver))
	})

	It("refuses a break-glass that the role's policy does not allow, even with a signed record", func() {
		allowBreakGlass(s.ctx, s.ns, "24h")
		s.op = startOperator(operatorOptions{})
		er := createEmergencyRequest(s.ctx, s.ns, "too-long", "45m")
		breakGlassAsSubject(s.ctx, er)
		got := waitPhase(s.ctx, er, accessv1alpha1.PhaseFailed)
		Expect(got.Status.Message).To(ContainSubstring("break-glass: spec.duration 45m is longer than break-glass allows: at most 30m0s"))
		Expect(bindingNames(s.ctx, s.ns)).To(BeEmpty())
	})
})
