package v1alpha1

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// hastyTimeout is the pendingTimeout of connection "hasty".
const hastyTimeout = 2 * time.Second

// createTargetFixtures makes connection "ledger", whose only approver is abe
// (anna approves prod, not ledger), and connection "hasty", with a pending
// timeout of two seconds, approved by group approvers.
func createTargetFixtures(ctx context.Context) {
	GinkgoHelper()
	Expect(admin.Create(ctx, connection("ledger", "2h", role("viewer", "", 1)))).To(Succeed())
	hasty := connection("hasty", "4h", role("viewer", "", 1))
	hasty.Spec.PendingTimeout = hastyTimeout.String()
	Expect(admin.Create(ctx, hasty)).To(Succeed())
	for conn, who := range map[string]rbacv1.Subject{
		"ledger": {Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: approver2},
		"hasty":  {Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "approvers"},
	} {
		name := conn + "-approver"
		Expect(admin.Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{accessv1alpha1.GroupVersion.Group}, Resources: []string{"saasconnections"},
				ResourceNames: []string{conn}, Verbs: []string{ApproveVerb},
			}},
		})).To(Succeed())
		Expect(admin.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{who},
		})).To(Succeed())
	}
}

// newTargetsRequest asks for role viewer (or the role after a slash) of each
// connection.
func newTargetsRequest(duration string, list ...string) *accessv1alpha1.ElevationRequest {
	req := newRequest(subject, "", "", duration)
	req.Spec.Targets = targets(list...)
	return req
}

func createTargets(list ...string) *accessv1alpha1.ElevationRequest {
	GinkgoHelper()
	req := newTargetsRequest("30m", list...)
	Expect(as[requester].Create(context.Background(), req)).To(Succeed())
	return req
}

var _ = Describe("Multi-target requests", Ordered, func() {
	BeforeAll(func() { createTargetFixtures(context.Background()) })

	It("records an approval by an approver of one of two connections for that connection only, and by an approver of both for both", func() {
		req := createTargets("prod/viewer", "ledger/viewer")
		Expect(annotate(approver1, req, accessv1alpha1.AnnotationApprove, "prod is fine")).To(Succeed())
		_, rec := stored(req)
		Expect(rec.Approvals).To(HaveLen(1))
		Expect(rec.Approvals[0].User).To(Equal(approver1))
		Expect(rec.Approvals[0].Connections).To(Equal([]string{"prod"}), "anna holds approve on prod, not on ledger")

		Expect(annotate(approver2, req, accessv1alpha1.AnnotationApprove, "both")).To(Succeed())
		_, rec = stored(req)
		Expect(approvers(rec)).To(Equal([]string{approver1, approver2}))
		Expect(rec.Approvals[1].Connections).To(Equal([]string{"ledger", "prod"}))

		Expect(annotate(approver1, req, accessv1alpha1.AnnotationApprove, "again")).To(Succeed())
		_, again := stored(req)
		Expect(again).To(Equal(rec), "a repeated approval changes nothing")
	})

	It("refuses an approver of neither connection, naming both", func() {
		req := createTargets("prod/viewer", "ledger/viewer")
		err := annotate(outsider, req, accessv1alpha1.AnnotationApprove, "me too")
		Expect(err).To(MatchError(mutDenied(`elevator.dev/approve: user "otto" is not an approver of any connection of this request: ` +
			`it needs RBAC verb "approve" on resource "saasconnections" (group access.elevator.dev) named one of "ledger", "prod" in namespace "payments"`)))
		_, rec := stored(req)
		Expect(rec.Approvals).To(BeEmpty())
	})

	It("lets an approver of one target deny or revoke, and refuses break-glass", func() {
		denied := createTargets("prod/viewer", "ledger/viewer")
		Expect(annotate(approver1, denied, accessv1alpha1.AnnotationDeny, "not the ledger")).To(Succeed())
		_, rec := stored(denied)
		Expect(rec.Denial.User).To(Equal(approver1))

		revoked := createTargets("prod/viewer", "ledger/viewer")
		Expect(annotate(outsider, revoked, accessv1alpha1.AnnotationRevoke, "")).To(MatchError(ContainSubstring(`user "otto" is not an approver of any connection of this request`)))
		Expect(annotate(approver1, revoked, accessv1alpha1.AnnotationRevoke, "incident over")).To(Succeed())
		_, rec = stored(revoked)
		Expect(rec.Revocation.User).To(Equal(approver1))

		glass := createTargets("prod/viewer", "ledger/viewer")
		Expect(annotate(subject, glass, accessv1alpha1.AnnotationBreakGlass, "pager unanswered")).To(MatchError(mutDenied(
			`elevator.dev/break-glass: break-glass is for a request with one connection, and this one has 2 targets (spec.targets); create one request per system (spec.connection and spec.role) to break the glass for it`)))
		_, rec = stored(glass)
		Expect(rec.BreakGlass).To(BeNil())
	})

	DescribeTable("refuses at create a target against its policy, naming the target",
		func(duration, want string, list ...string) {
			err := as[requester].Create(context.Background(), newTargetsRequest(duration, list...))
			Expect(err).To(MatchError(valDenied(want)))
		},
		Entry("a role missing in one connection", "30m",
			`spec.targets[1].role: role "owner" does not exist in SaaSConnection "ledger" (roles: [viewer])`, "prod/viewer", "ledger/owner"),
		Entry("a connection missing", "30m",
			`spec.targets[2].connection: SaaSConnection "nope" not found in namespace "payments"`, "prod/viewer", "ledger/viewer", "nope/viewer"),
		Entry("the duration over the smallest cap among the targets", "3h",
			`spec.duration: 3h0m0s exceeds the connection's maxDuration 2h0m0s (spec.targets[1]: ledger/viewer)`, "prod/viewer", "ledger/viewer"),
	)

	It("is refused by the schema with more than 16 targets", func() {
		list := make([]string, accessv1alpha1.MaxTargets+1)
		for i := range list {
			list[i] = fmt.Sprintf("prod/role-%d", i)
		}
		err := as[requester].Create(context.Background(), newTargetsRequest("30m", list...))
		Expect(err).To(MatchError(ContainSubstring("spec.targets: Too many: 17: must have at most 16 items")))
	})

	// Issue 16: with no controller in this suite nothing writes Expired, as
	// when the controller has not looked yet.
	It("refuses an approval after the smallest pending timeout of its connections, and keeps one admitted in time", func() {
		inTime := createTargets("prod/viewer", "hasty/viewer")
		Expect(annotate(approver1, inTime, accessv1alpha1.AnnotationApprove, "quick")).To(Succeed())
		_, admitted := stored(inTime)
		Expect(admitted.Approvals).To(HaveLen(1))
		Expect(admitted.Approvals[0].Connections).To(Equal([]string{"hasty", "prod"}))

		late := createTargets("prod/viewer", "hasty/viewer")
		got, _ := stored(late)
		created := got.CreationTimestamp.UTC()
		deadline := created.Add(hastyTimeout)
		time.Sleep(time.Until(deadline) + 100*time.Millisecond)
		err := annotate(approver1, late, accessv1alpha1.AnnotationApprove, "too late")
		Expect(err).To(MatchError(mutDenied(fmt.Sprintf(`elevator.dev/approve: the request's pending timeout of 2s (spec.pendingTimeout of SaaSConnection "hasty", the smallest among the request's connections) has passed: `+
			`created at %s, it had to be approved before %s; an approval after that does not count and the request expires without being granted: create a new request`,
			created.Format(time.RFC3339), deadline.Format(time.RFC3339)))))
		_, rec := stored(late)
		Expect(rec.Approvals).To(BeEmpty())

		Expect(annotate(approver1, inTime, accessv1alpha1.AnnotationApprove, "again")).To(Succeed(), "repeating an approval admitted in time stays a no-op")
		_, after := stored(inTime)
		Expect(after).To(Equal(admitted))
	})
})
