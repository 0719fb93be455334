package v1alpha1

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// ensureBreakGlassFixtures makes connection "glass", whose role "oncall" (two
// approvals) allows break-glass, lets the subject hold the verb breakglass on
// it, and makes group approvers its approvers.
func ensureBreakGlassFixtures(ctx context.Context) {
	GinkgoHelper()
	oncall := role("oncall", "1h", 2)
	oncall.BreakGlass = &accessv1alpha1.BreakGlassPolicy{MinJustification: 30, MaxDuration: "30m", ReviewWithin: "24h"}
	create := func(obj interface{ GetName() string }, err error) {
		if err != nil && !apierrors.IsAlreadyExists(err) {
			Expect(err).NotTo(HaveOccurred(), "create %s", obj.GetName())
		}
	}
	conn := connection("glass", "4h", oncall)
	create(conn, admin.Create(ctx, conn))
	rule := func(verb string) []rbacv1.PolicyRule {
		return []rbacv1.PolicyRule{{APIGroups: []string{accessv1alpha1.GroupVersion.Group}, Resources: []string{"saasconnections"}, ResourceNames: []string{"glass"}, Verbs: []string{verb}}}
	}
	for name, binding := range map[string]struct {
		verb    string
		subject rbacv1.Subject
	}{
		"glass-breakers":  {BreakGlassVerb, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: subject}},
		"glass-approvers": {ApproveVerb, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "approvers"}},
	} {
		r := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Rules: rule(binding.verb)}
		create(r, admin.Create(ctx, r))
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{binding.subject},
		}
		create(rb, admin.Create(ctx, rb))
	}
}

const emergencyJustification = "INC-4711: billing is down and no approver answers the page"

func emergencyRequest(conn, roleName, duration string) *accessv1alpha1.ElevationRequest {
	req := newRequest(subject, conn, roleName, duration)
	req.Spec.Justification = emergencyJustification
	Expect(as[subject].Create(context.Background(), req)).To(Succeed())
	return req
}

var _ = Describe("Break-glass", func() {
	BeforeEach(func() { ensureBreakGlassFixtures(context.Background()) })

	It("records the subject's break-glass, signed, when they hold the verb breakglass, and an approver's review", func() {
		req := emergencyRequest("glass", "oncall", "20m")
		Expect(annotate(subject, req, accessv1alpha1.AnnotationBreakGlass, "pager unanswered")).To(Succeed())
		got, rec := stored(req)
		Expect(got.Annotations).NotTo(HaveKey(accessv1alpha1.AnnotationBreakGlass))
		Expect(rec.BreakGlass).NotTo(BeNil())
		Expect(rec.BreakGlass.User).To(Equal(subject))
		Expect(rec.BreakGlass.Reason).To(Equal("pager unanswered"))
		Expect(rec.Approvals).To(BeEmpty())

		err := annotate(subject, req, accessv1alpha1.AnnotationReview, "fine")
		Expect(err).To(MatchError(mutDenied(`elevator.dev/review: user "sam" broke the glass and cannot review it; another approver must`)))
		Expect(annotate(approver1, req, accessv1alpha1.AnnotationReview, "justified")).To(Succeed())
		_, rec = stored(req)
		Expect(rec.Review).NotTo(BeNil())
		Expect(rec.Review.User).To(Equal(approver1))
	})

	It("refuses break-glass by anyone but the subject, without the verb, or outside the role's policy", func() {
		req := emergencyRequest("glass", "oncall", "20m")
		Expect(annotate(approver1, req, accessv1alpha1.AnnotationBreakGlass, "")).To(MatchError(
			mutDenied(`elevator.dev/break-glass: only the subject "sam" may break the glass for their own request; user "anna" is not the subject`)))

		tooLong := emergencyRequest("glass", "oncall", "45m")
		Expect(annotate(subject, tooLong, accessv1alpha1.AnnotationBreakGlass, "")).To(MatchError(
			mutDenied(`elevator.dev/break-glass: spec.duration 45m is longer than break-glass allows: at most 30m0s (spec.roles[].breakGlass.maxDuration of role "oncall")`)))

		noPolicy := emergencyRequest("prod", "viewer", "20m")
		Expect(annotate(subject, noPolicy, accessv1alpha1.AnnotationBreakGlass, "")).To(MatchError(
			mutDenied(`elevator.dev/break-glass: role "viewer" of SaaSConnection "prod" does not allow break-glass (spec.roles[].breakGlass is not set)`)))

		for _, r := range []*accessv1alpha1.ElevationRequest{req, tooLong, noPolicy} {
			_, rec := stored(r)
			Expect(rec.BreakGlass).To(BeNil())
		}
	})

	It("refuses a forged break-glass record written by hand", func() {
		req := emergencyRequest("glass", "oncall", "20m")
		forged := `{"user":"sam","at":"2026-12-02T03:00:00Z"}`
		err := annotate(subject, req, accessv1alpha1.AnnotationBreakGlassRecord, forged)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring(accessv1alpha1.AnnotationBreakGlassRecord))
		_, rec := stored(req)
		Expect(rec.BreakGlass).To(BeNil())
	})
})
