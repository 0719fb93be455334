package v1alpha1

import (
	"context"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// Subjects are people, compared as the target compares them (issue 12, attack 2).
var _ = Describe("subjects", Ordered, func() {
	BeforeAll(func() {
		auto := role("self-service", "", 0)
		Expect(admin.Create(context.Background(), connection("self", "1h", auto))).To(Succeed())
	})

	It("refuses a ServiceAccount subject unless the connection allows them", func() {
		err := as[requester].Create(context.Background(), newRequest("system:serviceaccount:"+ns+":deployer", "prod", "viewer", "30m"))
		Expect(err).To(MatchError(ContainSubstring(valDenied(`spec.subject: "system:serviceaccount:` + ns + `:deployer" is a ServiceAccount; SaaSConnection "prod" does not allow ServiceAccounts as subjects (spec.subjects.allowServiceAccounts)`))))
	})

	It("refuses system:anonymous and other system identities as subjects", func() {
		err := as[requester].Create(context.Background(), newRequest("system:anonymous", "prod", "viewer", "30m"))
		Expect(err).To(MatchError(ContainSubstring(valDenied(`spec.subject: "system:anonymous" is a Kubernetes system identity; only people may be given access`))))
	})

	It("refuses an approval by a case variant of the subject's own name", func() {
		req := createAs(requester, strings.ToUpper(approver1), "viewer")
		err := annotate(approver1, req, accessv1alpha1.AnnotationApprove, "lgtm")
		Expect(err).To(MatchError(ContainSubstring(`user "` + approver1 + `" is the subject of this request (spec.subject) and cannot approve it: self-approval is not allowed`)))
		_, rec := stored(req)
		Expect(rec.Approvals).To(BeEmpty())
	})

	It("lets a subject ask for a role that needs no approval for herself", func() {
		req := newRequest(subject, "self", "self-service", "30m")
		Expect(as[subject].Create(context.Background(), req)).To(Succeed())
	})

	It("refuses a role that needs no approval asked for someone else", func() {
		err := as[requester].Create(context.Background(), newRequest(subject, "self", "self-service", "30m"))
		Expect(err).To(MatchError(ContainSubstring(valDenied(`spec.subject: role "self-service" needs no approval, so only its subject may request it: user "` + requester + `" asked for "` + subject + `"`))))
	})
})
