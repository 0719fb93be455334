package controller

import (
	"context"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/kubernetes"
)

// heldVerification counts the removals, and holds every read of the target
// that comes after the first removal until release is closed: the look that
// records a removal made ahead of it waits there.
type heldVerification struct {
	provider.Client
	revokes *atomic.Int32
	held    *atomic.Int32
	release <-chan struct{}
}

func (h heldVerification) Revoke(ctx context.Context, e provider.Entitlement) error {
	h.revokes.Add(1)
	return h.Client.Revoke(ctx, e)
}

func (h heldVerification) Check(ctx context.Context, e provider.Entitlement) (provider.Observation, error) {
	if h.revokes.Load() > 0 {
		h.held.Add(1)
		select {
		case <-h.release:
		case <-ctx.Done():
			return provider.Observation{}, ctx.Err()
		}
	}
	return h.Client.Check(ctx, e)
}

var _ = Describe("Removal ahead of its record at expiry", func() {
	s := newLifecycleSpec()
	var revokes, held atomic.Int32
	var release chan struct{}

	BeforeEach(func() {
		revokes.Store(0)
		held.Store(0)
		release = make(chan struct{})
		s.op = startOperator(operatorOptions{wrap: func(c provider.Client) provider.Client {
			return heldVerification{Client: c, revokes: &revokes, held: &held, release: release}
		}})
	})

	// expireWithRecordHeld runs a request to its expiry and returns, with its
	// binding as granted, once the binding is removed and the record's fresh
	// read is held.
	expireWithRecordHeld := func(name string) (*accessv1alpha1.ElevationRequest, *rbacv1.RoleBinding) {
		er := createRequest(s.ctx, s.ns, name, "edit", "3s")
		waitPhase(s.ctx, er, accessv1alpha1.PhasePending)
		approveAsAdmin(s.ctx, er, approver)
		waitPhase(s.ctx, er, accessv1alpha1.PhaseActive)
		granted := &rbacv1.RoleBinding{}
		Expect(k8sClient.Get(s.ctx, client.ObjectKey{Namespace: s.ns, Name: kubernetes.BindingName(key(er))}, granted)).To(Succeed())
		Eventually(held.Load, eventually, poll).Should(BeNumerically(">=", 1), "the record's fresh read is reached")
		Expect(revokes.Load()).To(Equal(int32(1)))
		Expect(bindingNames(s.ctx, s.ns)).To(BeEmpty(), "the binding is removed before anything is recorded")
		return er, granted
	}

	It("removes the binding as the expiry is due, and records it verified by a fresh read, removing it once", func() {
		er, _ := expireWithRecordHeld("ahead")
		gone := time.Now()
		got := get(s.ctx, er)
		Expect(got.Status.Phase).To(Equal(accessv1alpha1.PhaseActive), "nothing is recorded before the fresh read")
		Expect(got.Status.Revocation).To(BeNil())

		time.Sleep(1500 * time.Millisecond)
		close(release)
		got = waitPhase(s.ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(got.Status.Revocation.VerifiedAt).NotTo(BeNil())
		Expect(got.Status.Revocation.StartedAt.Time).To(BeTemporally("<=", gone),
			"the revocation is recorded as started when the removal made ahead started, not when it was recorded")
		Expect(got.Status.Revocation.Reason).To(Equal(accessv1alpha1.RevocationExpired))
		Expect(got.Status.Revocation.Attempts).To(BeZero())
		Expect(revokes.Load()).To(Equal(int32(1)), "the record's look verifies the removal made ahead, without removing again")
		Eventually(func() []string { return eventReasons(s.ctx, er) }, eventually, poll).
			Should(ConsistOf("Requested", "Granted", "Verified"))
	})

	It("finds a binding made again between the removal and its record, and removes it before it records the revocation", func() {
		er, granted := expireWithRecordHeld("readded")
		again := &rbacv1.RoleBinding{ObjectMeta: *granted.ObjectMeta.DeepCopy(), RoleRef: granted.RoleRef, Subjects: granted.Subjects}
		again.ResourceVersion, again.UID = "", ""
		Expect(k8sClient.Create(s.ctx, again)).To(Succeed())

		close(release)
		got := waitPhase(s.ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(got.Status.Revocation.VerifiedAt).NotTo(BeNil())
		Expect(got.Status.Revocation.Attempts).To(BeNumerically(">=", 1), "the fresh read found it present: a failed attempt")
		Expect(revokes.Load()).To(BeNumerically(">=", 2), "the next attempt removed it again")
		Expect(bindingNames(s.ctx, s.ns)).To(BeEmpty())
		Expect(warningReasons(s.ctx, er)).To(ContainElement(accessv1alpha1.ReasonStillPresent))
	})
})
