package v1alpha1

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/identity"
	"github.com/elevator-dev/elevator/internal/records"
)

// setPhase writes status.phase as the operator would.
func setPhase(req *accessv1alpha1.ElevationRequest, phase accessv1alpha1.Phase) {
	GinkgoHelper()
	got, _ := stored(req)
	got.Status.Phase = phase
	Expect(admin.Status().Update(context.Background(), got)).To(Succeed())
}

// removeFinalizers patches metadata.finalizers to empty as user, the way
// kubectl patch --type=merge -p '{"metadata":{"finalizers":null}}' does.
func removeFinalizers(user string, req *accessv1alpha1.ElevationRequest) error {
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	return as[user].Patch(context.Background(), req.DeepCopy(), client.RawPatch(types.MergePatchType, patch))
}

func finalizerDenied(phase string) string {
	return valDenied(`metadata.finalizers: elevator.dev/revoke-before-delete is removed only by the elevator operator, after the request's access is revoked and verified gone (status.phase: ` +
		phase + `); to end access set elevator.dev/revoke="reason" or delete the request, and the operator removes the finalizer itself`)
}

// Attack 5: a user with the shipped editor role removed the operator's
// finalizer from an Active request and deleted it, erasing the request and its
// overdue metric while the access stayed.
var _ = Describe("The operator's finalizer", func() {
	It("cannot be removed by an editor from an Active request, before or after its deletion", func() {
		req := createAs(requester, subject, "viewer")
		setPhase(req, accessv1alpha1.PhaseActive)
		Expect(removeFinalizers(editor, req)).To(MatchError(finalizerDenied("Active")))

		Expect(as[editor].Delete(context.Background(), req.DeepCopy())).To(Succeed(), "deleting is allowed: it revokes first")
		got, _ := stored(req)
		Expect(got.DeletionTimestamp).NotTo(BeNil())
		Expect(got.Finalizers).To(ContainElement(accessv1alpha1.Finalizer))
		Expect(removeFinalizers(editor, req)).To(MatchError(finalizerDenied("Active")))
		got, _ = stored(req)
		Expect(got.Finalizers).To(ContainElement(accessv1alpha1.Finalizer), "the request stays until the operator has verified the revocation")
	})

	It("cannot be removed from a request not yet reconciled, or Revoking", func() {
		fresh := createAs(requester, subject, "viewer")
		Expect(removeFinalizers(editor, fresh)).To(MatchError(finalizerDenied("not yet reconciled")))
		revoking := createAs(requester, subject, "viewer")
		setPhase(revoking, accessv1alpha1.PhaseRevoking)
		Expect(removeFinalizers(requester, revoking)).To(MatchError(finalizerDenied("Revoking")))
	})

	It("may be removed by an editor once the request is terminal, and by the operator at any time", func() {
		done := createAs(requester, subject, "viewer")
		setPhase(done, accessv1alpha1.PhaseRevoked)
		Expect(removeFinalizers(editor, done)).To(Succeed())

		active := createAs(requester, subject, "viewer")
		setPhase(active, accessv1alpha1.PhaseActive)
		patch := []byte(`{"metadata":{"finalizers":null}}`)
		Expect(admin.Patch(context.Background(), active.DeepCopy(), client.RawPatch(types.MergePatchType, patch))).To(Succeed(), "the suite's admin is the operator's identity")
		got, _ := stored(active)
		Expect(got.Finalizers).To(BeEmpty())
	})

	It("is guarded against the identity the API server reports for the operator", func() {
		Expect(operatorUser).NotTo(BeEmpty())
		self, err := identity.Self(context.Background(), as[editor])
		Expect(err).NotTo(HaveOccurred())
		Expect(self.Username).To(Equal(editor))
		Expect(self.Groups).To(ContainElement("engineers"))
	})
})

var _ = Describe("Bounds", func() {
	It("rejects a denial of an Active request, pointing to elevator.dev/revoke", func() {
		req := createAs(requester, subject, "viewer")
		Expect(annotate(approver1, req, accessv1alpha1.AnnotationApprove, "ok")).To(Succeed())
		for _, phase := range []accessv1alpha1.Phase{accessv1alpha1.PhaseApproved, accessv1alpha1.PhaseActive} {
			setPhase(req, phase)
			err := annotate(approver2, req, accessv1alpha1.AnnotationDeny, "changed my mind")
			Expect(err).To(MatchError(mutDenied(fmt.Sprintf(`elevator.dev/deny: the request is already %s (status.phase), so a denial would change nothing; to end its access set elevator.dev/revoke="reason" instead`, phase))))
		}
		_, rec := stored(req)
		Expect(rec.Denial).To(BeNil())
		Expect(annotate(approver2, req, accessv1alpha1.AnnotationRevoke, "changed my mind")).To(Succeed())
	})

	It("rejects a trigger value over the limit, naming the annotation and the limit", func() {
		req := createAs(requester, subject, "viewer")
		err := annotate(approver1, req, accessv1alpha1.AnnotationApprove, strings.Repeat("x", MaxTextLength+1))
		Expect(err).To(MatchError(mutDenied(fmt.Sprintf("elevator.dev/approve: value must be valid UTF-8 of at most 1024 bytes, got %d bytes", MaxTextLength+1))))
		Expect(annotate(approver1, req, accessv1alpha1.AnnotationApprove, strings.Repeat("x", MaxTextLength))).To(Succeed())
	})

	// The suite's webhooks run with no cap (its specs leave many requests of
	// one subject open); the cap is checked here against real requests, read
	// through the manager's cache and the index the webhook set-up registers.
	It("caps the open requests of one subject on one connection", func() {
		const capped, limit = "cap-subject", 3
		var open []*accessv1alpha1.ElevationRequest
		for range limit {
			open = append(open, createAs(requester, capped, "viewer"))
		}
		Expect(admin.Create(context.Background(), connection("cap-other", "1h", role("viewer", "", 1)))).To(Succeed())
		Expect(as[requester].Create(context.Background(), newRequest(capped, "cap-other", "viewer", "30m"))).To(Succeed())
		next := newRequest(capped, "prod", "viewer", "30m")
		names := []string{open[0].Name, open[1].Name, open[2].Name}
		slices.Sort(names)
		Eventually(func() error { return checkOpenRequests(context.Background(), managerCache, next, limit) }).WithTimeout(30 * time.Second).Should(MatchError(
			fmt.Sprintf(`spec.subject: %q already has 3 open requests on connection "prod" (%s), the limit is 3 (--max-open-requests-per-subject): wait for one to end or revoke one`,
				capped, strings.Join(names, ", "))))
		Expect(isRejection(checkOpenRequests(context.Background(), managerCache, newRequest("CAP-Subject", "prod", "viewer", "30m"), limit))).To(BeTrue(), "a case variant shares the cap")
		Expect(checkOpenRequests(context.Background(), managerCache, next, limit+1)).To(Succeed(), "under a higher cap")
		Expect(checkOpenRequests(context.Background(), managerCache, newRequest(capped, "cap-other", "viewer", "30m"), limit)).To(Succeed(), "the cap is per connection")

		setPhase(open[0], accessv1alpha1.PhaseRevoked)
		Eventually(func() error { return checkOpenRequests(context.Background(), managerCache, next, limit) }).WithTimeout(30*time.Second).Should(Succeed(), "an ended request frees its place")
	})
})

var _ = Describe("The record-signing key", func() {
	It("is created once in its Secret, immutable, and read back by the next start", func() {
		ctx := context.Background()
		Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "elevator-keys"}})).To(Succeed())
		where, err := records.KeySecret("", "system:serviceaccount:elevator-keys:elevator-controller-manager")
		Expect(err).NotTo(HaveOccurred())
		Expect(where).To(Equal(types.NamespacedName{Namespace: "elevator-keys", Name: records.DefaultKeySecretName}))

		first, err := records.EnsureKey(ctx, admin, where)
		Expect(err).NotTo(HaveOccurred())
		Expect(first).To(HaveLen(records.KeySize))
		again, err := records.EnsureKey(ctx, admin, where)
		Expect(err).NotTo(HaveOccurred())
		Expect(again).To(Equal(first))

		secret := &corev1.Secret{}
		Expect(admin.Get(ctx, where, secret)).To(Succeed())
		Expect(*secret.Immutable).To(BeTrue())
		secret.Data["key"] = []byte("0123456789abcdef0123456789abcdef")
		err = admin.Update(ctx, secret)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "an immutable Secret refuses a new key: %v", err)
	})

	It("refuses a Secret whose key is too short", func() {
		ctx := context.Background()
		where := types.NamespacedName{Namespace: ns, Name: "short-key"}
		Expect(admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: where.Name, Namespace: ns}, Data: map[string][]byte{"key": []byte("short")}})).To(Succeed())
		_, err := records.EnsureKey(ctx, admin, where)
		Expect(err).To(MatchError(`secret payments/short-key: field "key" holds 5 bytes, want at least 32`))
	})
})

// Attack 7, at the door: a record typed by hand is refused even by a user who
// may write the object, and a record not signed with the operator's key is
// never built on.
var _ = Describe("Typed records", func() {
	It("are rejected on update even with a signature copied from another request", func() {
		donor := createAs(requester, subject, "viewer")
		Expect(annotate(approver1, donor, accessv1alpha1.AnnotationApprove, "ok")).To(Succeed())
		donorObj, _ := stored(donor)
		target := createAs(requester, subject, "viewer")
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
			accessv1alpha1.AnnotationApprovals:        donorObj.Annotations[accessv1alpha1.AnnotationApprovals],
			accessv1alpha1.AnnotationRecordsSignature: donorObj.Annotations[accessv1alpha1.AnnotationRecordsSignature],
		}}})
		Expect(err).NotTo(HaveOccurred())
		err = as[requester].Patch(context.Background(), target.DeepCopy(), client.RawPatch(types.MergePatchType, patch))
		Expect(err).To(MatchError(ContainSubstring("written only by the elevator admission webhook and cannot be set or changed by hand")))
		copied := donorObj.DeepCopy()
		_, err = suiteSigner.Verify(copied)
		Expect(err).NotTo(HaveOccurred(), "the donor's records verify on the donor")
		targetObj, _ := stored(target)
		copied.Name, copied.UID = targetObj.Name, targetObj.UID
		_, err = suiteSigner.Verify(copied)
		Expect(err).To(MatchError(records.ErrBadSignature), "but not on another request")
	})
})
