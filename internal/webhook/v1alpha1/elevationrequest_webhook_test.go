package v1alpha1

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

var requestCounter atomic.Int32

// warningRecorder collects the warnings the API server returns.
type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningRecorder) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warningRecorder) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

// mutDenied and valDenied are the messages the API server returns when the
// mutating or the validating webhook denies a request.
func mutDenied(msg string) string {
	return `admission webhook "melevationrequest.access.elevator.dev" denied the request: ` + msg
}

func valDenied(msg string) string {
	return `admission webhook "velevationrequest.access.elevator.dev" denied the request: ` + msg
}

func notApprover(key, user string) string {
	return fmt.Sprintf(`%s: user %q is not an approver: it needs RBAC verb "approve" on resource "saasconnections" (group access.elevator.dev) named "prod" in namespace "payments"`, key, user)
}

func newRequest(subj, conn, roleName, duration string) *accessv1alpha1.ElevationRequest {
	return &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("req-%d", requestCounter.Add(1)), Namespace: ns},
		Spec: accessv1alpha1.ElevationRequestSpec{
			Subject: subj, Connection: conn, Role: roleName, Duration: duration,
			Justification: "INC-4711: roll back the billing config",
		},
	}
}

// createAs creates a request for the subject on prod/role as user and returns it.
func createAs(user, subj, roleName string) *accessv1alpha1.ElevationRequest {
	req := newRequest(subj, "prod", roleName, "30m")
	Expect(as[user].Create(context.Background(), req)).To(Succeed())
	return req
}

// annotate sets one annotation as user, the way kubectl annotate does (a merge patch).
func annotate(user string, req *accessv1alpha1.ElevationRequest, key, value string) error {
	return setAnnotation(user, req, key, &value)
}

// setAnnotation sets (value non-nil) or removes (nil) one annotation as user.
func setAnnotation(user string, req *accessv1alpha1.ElevationRequest, key string, value *string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]*string{key: value}}})
	Expect(err).NotTo(HaveOccurred())
	return as[user].Patch(context.Background(), req.DeepCopy(), client.RawPatch(types.MergePatchType, patch))
}

// stored reads the request as admin and decodes its records, which must carry
// the webhook's valid signature.
func stored(req *accessv1alpha1.ElevationRequest) (*accessv1alpha1.ElevationRequest, Records) {
	GinkgoHelper()
	got := &accessv1alpha1.ElevationRequest{}
	Expect(admin.Get(context.Background(), client.ObjectKeyFromObject(req), got)).To(Succeed())
	rec, err := suiteSigner.Verify(got)
	Expect(err).NotTo(HaveOccurred())
	return got, rec
}

// approvers lists who approved, in order.
func approvers(rec Records) []string {
	var out []string
	for _, a := range rec.Approvals {
		out = append(out, a.User)
	}
	return out
}

var _ = Describe("ElevationRequest create", func() {
	It("stamps requested-by with the creating user, overwriting a forged one, and drops forged records", func() {
		req := newRequest(subject, "prod", "viewer", "30m")
		req.Annotations = map[string]string{
			accessv1alpha1.AnnotationRequestedBy: approver1,
			accessv1alpha1.AnnotationApprovals:   `[{"user":"anna","at":"2026-01-01T00:00:00Z"},{"user":"abe","at":"2026-01-01T00:00:00Z"}]`,
			accessv1alpha1.AnnotationDenial:      `{"user":"abe","at":"2026-01-01T00:00:00Z"}`,
			accessv1alpha1.AnnotationRevocation:  `{"user":"abe","at":"2026-01-01T00:00:00Z"}`,
			"team":                               "billing",
		}
		warnings := &warningRecorder{}
		cfg := rest.CopyConfig(userConfig[requester])
		cfg.WarningHandlerWithContext = warnings
		c, err := client.New(cfg, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Create(context.Background(), req)).To(Succeed())
		got, _ := stored(req)
		Expect(got.Annotations).To(HaveKey(accessv1alpha1.AnnotationRecordsSignature))
		delete(got.Annotations, accessv1alpha1.AnnotationRecordsSignature)
		Expect(got.Annotations).To(Equal(map[string]string{accessv1alpha1.AnnotationRequestedBy: requester, "team": "billing"}))
		Expect(warnings.get()).To(ConsistOf(
			"elevator.dev/requested-by is written only by the elevator webhook; the value sent was replaced",
			"elevator.dev/approvals is written only by the elevator webhook; the value sent was replaced",
			"elevator.dev/denial is written only by the elevator webhook; the value sent was replaced",
			"elevator.dev/revocation is written only by the elevator webhook; the value sent was replaced",
		))
	})

	It("rejects a trigger set on create", func() {
		req := newRequest(subject, "prod", "viewer", "30m")
		req.Annotations = map[string]string{accessv1alpha1.AnnotationApprove: "lgtm"}
		err := as[approver1].Create(context.Background(), req)
		Expect(err).To(MatchError(mutDenied("elevator.dev/approve cannot be set when a request is created: create the request first, then an approver (not the requester or the subject) annotates it")))
	})

	DescribeTable("rejects a request against the policy, naming the field, the value and the limit",
		func(conn, roleName, duration, want string) {
			err := as[requester].Create(context.Background(), newRequest(subject, conn, roleName, duration))
			Expect(err).To(MatchError(valDenied(want)))
		},
		Entry("over the role's maxDuration", "prod", "admin", "2h",
			`spec.duration: 2h0m0s exceeds the maxDuration 1h0m0s of role "admin"`),
		Entry("over the connection's maxDuration", "prod", "viewer", "5h",
			`spec.duration: 5h0m0s exceeds the connection's maxDuration 4h0m0s`),
		Entry("on a connection whose maxDuration is over the operator's --max-duration", "wide", "viewer", "9h",
			`spec.connection: the connection's maxDuration 12h0m0s exceeds the operator's --max-duration 8h0m0s`),
		Entry("an unknown connection", "nope", "viewer", "30m",
			`spec.connection: SaaSConnection "nope" not found in namespace "payments"`),
		Entry("an unknown role", "prod", "owner", "30m",
			`spec.role: role "owner" does not exist in SaaSConnection "prod" (roles: [admin viewer])`),
	)

	It("accepts a request within every cap", func() {
		req := newRequest(subject, "prod", "admin", "1h")
		Expect(as[requester].Create(context.Background(), req)).To(Succeed())
		got, rec := stored(req)
		Expect(rec).To(Equal(Records{RequestedBy: requester}))
		Expect(got.Spec.Duration).To(Equal("1h"))
	})

	It("sees a connection created a moment before the request", func() {
		Expect(admin.Create(context.Background(), connection("fresh", "1h", role("viewer", "", 1)))).To(Succeed())
		Expect(as[requester].Create(context.Background(), newRequest(subject, "fresh", "viewer", "45m"))).To(Succeed())
	})
})

var _ = Describe("Approving", func() {
	It("records an approval by an authorised approver under their name and consumes the trigger", func() {
		req := createAs(requester, subject, "viewer")
		before := time.Now().Add(-time.Second)
		Expect(annotate(approver1, req, accessv1alpha1.AnnotationApprove, "looks right")).To(Succeed())
		got, rec := stored(req)
		Expect(got.Annotations).NotTo(HaveKey(accessv1alpha1.AnnotationApprove))
		Expect(rec.Approvals).To(HaveLen(1))
		Expect(rec.Approvals[0].User).To(Equal(approver1))
		Expect(rec.Approvals[0].Comment).To(Equal("looks right"))
		Expect(rec.Approvals[0].At.Time).To(BeTemporally(">=", before.Truncate(time.Second)))
		Expect(rec.Approvals[0].At.Time).To(BeTemporally("<=", time.Now()))
		Expect(rec.RequestedBy).To(Equal(requester))
	})

	It("records an approval with a forged approver name in the value under the real user", func() {
		req := createAs(requester, subject, "viewer")
		forged := `{"user":"abe","at":"2026-01-01T00:00:00Z"}`
		Expect(annotate(approver1, req, accessv1alpha1.AnnotationApprove, forged)).To(Succeed())
		_, rec := stored(req)
		Expect(approvers(rec)).To(Equal([]string{approver1}))
		Expect(rec.Approvals[0].Comment).To(Equal(forged))
	})

	It("rejects an approval by a user without the approve verb", func() {
		req := createAs(requester, subject, "viewer")
		err := annotate(outsider, req, accessv1alpha1.AnnotationApprove, "me too")
		Expect(err).To(MatchError(mutDenied(notApprover("elevator.dev/approve", outsider))))
		got, rec := stored(req)
		Expect(rec.Approvals).To(BeEmpty())
		Expect(got.Annotations).NotTo(HaveKey(accessv1alpha1.AnnotationApprove))
	})

	It("rejects self-approval by the subject", func() {
		req := createAs(requester, approver1, "viewer")
		err := annotate(approver1, req, accessv1alpha1.AnnotationApprove, "")
		Expect(err).To(MatchError(mutDenied(`elevator.dev/approve: user "anna" is the subject of this request (spec.subject) and cannot approve it: self-approval is not allowed`)))
		_, rec := stored(req)
		Expect(rec.Approvals).To(BeEmpty())
	})

	It("rejects self-approval by the requester, even an approver", func() {
		req := createAs(approver1, subject, "viewer")
		err := annotate(approver1, req, accessv1alpha1.AnnotationApprove, "")
		Expect(err).To(MatchError(mutDenied(`elevator.dev/approve: user "anna" created this request (requested-by) and cannot approve it: self-approval is not allowed`)))
		_, rec := stored(req)
		Expect(rec.Approvals).To(BeEmpty())
	})

	It("needs distinct approvers: the same approver twice counts once", func() {
		req := createAs(requester, subject, "admin")
		Expect(annotate(approver1, req, accessv1alpha1.AnnotationApprove, "first")).To(Succeed())
		_, first := stored(req)
		Expect(annotate(approver1, req, accessv1alpha1.AnnotationApprove, "again")).To(Succeed())
		got, again := stored(req)
		Expect(again).To(Equal(first), "a repeated approval changes nothing")
		Expect(got.Annotations).NotTo(HaveKey(accessv1alpha1.AnnotationApprove))

		Expect(annotate(approver2, req, accessv1alpha1.AnnotationApprove, "second")).To(Succeed())
		_, rec := stored(req)
		Expect(approvers(rec)).To(Equal([]string{approver1, approver2}))
		Expect(rec.Approvals[0]).To(Equal(first.Approvals[0]))
		Expect(rec.Approvals[1].Comment).To(Equal("second"))
	})

	It("rejects an approval after a denial, and a second denial by someone else", func() {
		req := createAs(requester, subject, "admin")
		Expect(annotate(approver2, req, accessv1alpha1.AnnotationDeny, "too broad")).To(Succeed())
		_, rec := stored(req)
		Expect(rec.Denial).NotTo(BeNil())
		Expect(rec.Denial.User).To(Equal(approver2))
		Expect(rec.Denial.Reason).To(Equal("too broad"))

		err := annotate(approver1, req, accessv1alpha1.AnnotationApprove, "")
		Expect(err).To(MatchError(mutDenied(`elevator.dev/approve: the request was denied by "abe" ("too broad"); a denial is final`)))
		err = annotate(approver1, req, accessv1alpha1.AnnotationDeny, "me too")
		Expect(err).To(MatchError(mutDenied(`elevator.dev/deny: the request was denied by "abe" ("too broad"); a denial is final`)))
		Expect(annotate(approver2, req, accessv1alpha1.AnnotationDeny, "said so")).To(Succeed(), "a repeated denial is a no-op")
		_, after := stored(req)
		Expect(after).To(Equal(rec))
	})

	It("rejects a denial by a user without the approve verb", func() {
		req := createAs(requester, subject, "viewer")
		err := annotate(outsider, req, accessv1alpha1.AnnotationDeny, "no")
		Expect(err).To(MatchError(mutDenied(notApprover("elevator.dev/deny", outsider))))
	})

	It("rejects an approval of a request that was Revoked", func() {
		req := createAs(requester, subject, "admin")
		got, _ := stored(req)
		got.Status.Phase = accessv1alpha1.PhaseRevoked
		Expect(admin.Status().Update(context.Background(), got)).To(Succeed())
		err := annotate(approver1, req, accessv1alpha1.AnnotationApprove, "")
		Expect(err).To(MatchError(mutDenied("elevator.dev/approve: the request is already Revoked (status.phase); nothing can be approved, denied or revoked")))
	})

	It("rejects two triggers in one update", func() {
		req := createAs(requester, subject, "viewer")
		patch := []byte(`{"metadata":{"annotations":{"elevator.dev/approve":"ok","elevator.dev/deny":"no"}}}`)
		err := as[approver1].Patch(context.Background(), req.DeepCopy(), client.RawPatch(types.MergePatchType, patch))
		Expect(err).To(MatchError(mutDenied("set one of elevator.dev/approve, elevator.dev/deny, elevator.dev/revoke, elevator.dev/break-glass, elevator.dev/review at a time, got elevator.dev/approve, elevator.dev/deny")))
	})

	It("rejects a spec edit after approval (spec is immutable)", func() {
		req := createAs(requester, subject, "viewer")
		Expect(annotate(approver1, req, accessv1alpha1.AnnotationApprove, "")).To(Succeed())
		patch := []byte(`{"spec":{"duration":"4h"}}`)
		err := as[requester].Patch(context.Background(), req.DeepCopy(), client.RawPatch(types.MergePatchType, patch))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("spec is immutable: create a new ElevationRequest to ask for different access"))
		got, _ := stored(req)
		Expect(got.Spec.Duration).To(Equal("30m"))
	})

	It("adds the finalizer on create and lets the operator's own updates through without touching the records", func() {
		req := createAs(requester, subject, "viewer")
		created, _ := stored(req)
		Expect(created.Finalizers).To(ConsistOf(accessv1alpha1.Finalizer), "the mutating webhook adds it, so the controller spends no write on it")
		Expect(annotate(approver1, req, accessv1alpha1.AnnotationApprove, "ok")).To(Succeed())
		got, before := stored(req)
		got.Finalizers = nil
		Expect(admin.Update(context.Background(), got)).To(Succeed())
		after, rec := stored(req)
		Expect(after.Finalizers).To(BeEmpty(), "an update does not add it back; the controller does, while the request may hold access")
		Expect(rec).To(Equal(before))

		withOwn := newRequest(subject, "prod", "viewer", "30m")
		withOwn.Finalizers = []string{"example.com/keep"}
		Expect(as[requester].Create(context.Background(), withOwn)).To(Succeed())
		got, _ = stored(withOwn)
		Expect(got.Finalizers).To(Equal([]string{"example.com/keep", accessv1alpha1.Finalizer}), "a finalizer the creator set is kept")
	})
})

var _ = Describe("Hand-edited records", func() {
	approved := func() *accessv1alpha1.ElevationRequest {
		req := createAs(requester, subject, "admin")
		Expect(annotate(approver1, req, accessv1alpha1.AnnotationApprove, "ok")).To(Succeed())
		return req
	}
	handEdit := func(key string) string {
		return mutDenied(key + `: written only by the elevator admission webhook and cannot be set or changed by hand; to approve, deny or revoke set the trigger annotation instead, e.g. kubectl annotate elevationrequest/NAME elevator.dev/approve="comment"`)
	}

	DescribeTable("are rejected and leave the records as they were",
		func(user, key string, value *string) {
			req := approved()
			_, before := stored(req)
			Expect(setAnnotation(user, req, key, value)).To(MatchError(handEdit(key)))
			_, after := stored(req)
			Expect(after).To(Equal(before))
		},
		Entry("an approver adding a second approval by hand", approver2, accessv1alpha1.AnnotationApprovals,
			strPtr(`[{"user":"anna","at":"2026-01-01T00:00:00Z","comment":"ok"},{"user":"abe","at":"2026-01-01T00:00:00Z"}]`)),
		Entry("the requester rewriting the approver's name", requester, accessv1alpha1.AnnotationApprovals,
			strPtr(`[{"user":"boss","at":"2026-01-01T00:00:00Z"}]`)),
		Entry("the requester removing the approvals", requester, accessv1alpha1.AnnotationApprovals, nil),
		Entry("an approver writing a denial record", approver2, accessv1alpha1.AnnotationDenial,
			strPtr(`{"user":"boss","at":"2026-01-01T00:00:00Z","reason":"no"}`)),
		Entry("an outsider rewriting requested-by", outsider, accessv1alpha1.AnnotationRequestedBy, strPtr(outsider)),
		Entry("the subject writing a revocation record", subject, accessv1alpha1.AnnotationRevocation,
			strPtr(`{"user":"abe","at":"2026-01-01T00:00:00Z"}`)),
		Entry("the requester replacing the signature", requester, accessv1alpha1.AnnotationRecordsSignature, strPtr("v1:forged")),
		Entry("the requester removing the signature", requester, accessv1alpha1.AnnotationRecordsSignature, nil),
	)
})

var _ = Describe("Revoking", func() {
	It("accepts a revoke by the subject and records it under the subject", func() {
		req := createAs(requester, subject, "viewer")
		Expect(annotate(approver1, req, accessv1alpha1.AnnotationApprove, "ok")).To(Succeed())
		Expect(annotate(subject, req, accessv1alpha1.AnnotationRevoke, "done early")).To(Succeed())
		got, rec := stored(req)
		Expect(got.Annotations).NotTo(HaveKey(accessv1alpha1.AnnotationRevoke))
		Expect(rec.Revocation).NotTo(BeNil())
		Expect(rec.Revocation.User).To(Equal(subject))
		Expect(rec.Revocation.Reason).To(Equal("done early"))
	})

	It("accepts a revoke by the requester and by an approver", func() {
		byRequester := createAs(requester, subject, "viewer")
		Expect(annotate(requester, byRequester, accessv1alpha1.AnnotationRevoke, "not needed")).To(Succeed())
		_, rec := stored(byRequester)
		Expect(rec.Revocation.User).To(Equal(requester))

		byApprover := createAs(requester, subject, "viewer")
		Expect(annotate(approver2, byApprover, accessv1alpha1.AnnotationRevoke, "incident over")).To(Succeed())
		_, rec = stored(byApprover)
		Expect(rec.Revocation.User).To(Equal(approver2))
	})

	It("rejects a revoke by an outsider", func() {
		req := createAs(requester, subject, "viewer")
		err := annotate(outsider, req, accessv1alpha1.AnnotationRevoke, "mischief")
		Expect(err).To(MatchError(mutDenied(notApprover("elevator.dev/revoke", outsider) + `; the subject "sam" and the requester "rita" may also revoke`)))
		_, rec := stored(req)
		Expect(rec.Revocation).To(BeNil())
	})

	It("keeps the first revocation when a second one comes", func() {
		req := createAs(requester, subject, "viewer")
		Expect(annotate(subject, req, accessv1alpha1.AnnotationRevoke, "first")).To(Succeed())
		_, first := stored(req)
		Expect(annotate(requester, req, accessv1alpha1.AnnotationRevoke, "second")).To(Succeed())
		_, second := stored(req)
		Expect(second).To(Equal(first))
	})
})

func strPtr(s string) *string { return &s }
