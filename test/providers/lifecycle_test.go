package providers

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/elevator-dev/elevator/internal/provider/providertest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/ldap"
	"github.com/elevator-dev/elevator/internal/provider/postgres"
	"github.com/elevator-dev/elevator/internal/provider/scim"
)

var _ = Describe("The lifecycle through a shared provider", func() {
	for _, kind := range []string{scim.Kind, ldap.Kind, postgres.Kind} {
		Describe("with the "+kind+" provider and a real server", func() { lifecycleSpecs(kind) })
	}
})

// lifecycleSpecs are the lifecycle's guarantees, run once per provider. Every
// spec has its own namespace, credentials Secret, SaaSConnection, role on the
// server and operator; the server is the suite's.
func lifecycleSpecs(kind string) {
	var (
		ctx context.Context
		b   backend
		ns  string
		tgt target
		op  *operator
	)

	BeforeEach(func() {
		ctx = context.Background()
		b = backends[kind]
		Expect(b).NotTo(BeNil(), "the suite started no %s server", kind)
		ns = createNamespace(ctx, kind)
		tgt = b.NewTarget()
		createSecret(ctx, ns, b.Credentials())
		createConnection(ctx, ns, b.ProviderSpec(secretName), tgt.Role)
	})

	AfterEach(func() {
		if op != nil {
			op.stop()
			op = nil
		}
		expectNoCredentialIn(ctx, ns, b.Secrets())
	})

	It("grants on approval, and at expiry revokes and verifies the membership gone on the server", func() {
		op = startOperator(b, ns, nil)
		er := createRequest(ctx, ns, "expire", tgt, "3s")
		waitPhase(ctx, er, accessv1alpha1.PhasePending)
		Expect(b.IsMember(tgt)).To(BeFalse(), "no membership before approval")

		approveAsAdmin(ctx, er)
		got := waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		Expect(b.IsMember(tgt)).To(BeTrue(), "the server shows the membership while Active")
		Expect(got.Status.Grant.Preexisting).To(BeFalse())
		Expect(condition(got.Status.Conditions, accessv1alpha1.ConditionGranted).Status).To(Equal(metav1.ConditionTrue))
		// grantedAt is cut to the second; expiresAt is the start of the grant
		// + 3s (this operator has no expiry lead), to the millisecond
		// (expiryOf): 3 to 4 seconds after grantedAt, never a whole second more.
		Expect(got.Status.ExpiresAt.Sub(got.Status.GrantedAt.Time)).To(
			And(BeNumerically(">=", 3*time.Second), BeNumerically("<", 4*time.Second)))

		got = waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		expectVerifiedRevocation(got, b, tgt)
		Expect(b.IsMember(tgt)).To(BeFalse(), "the server no longer shows the membership")
		AddReportEntry(kind+": expiry to verified revocation", got.Status.Revocation.VerifiedAt.Sub(got.Status.ExpiresAt.Time).String())
		Eventually(func() []string { return eventReasons(ctx, er) }, eventually, poll).
			Should(ConsistOf("Requested", "Granted", "Verified"), "one Event per stored transition")
	})

	It("keeps one membership held by two overlapping requests until the last one ends", func() {
		op = startOperator(b, ns, nil)
		first := createRequest(ctx, ns, "first", tgt, "2s")
		second := createRequest(ctx, ns, "second", tgt, "6s")
		approveAsAdmin(ctx, first)
		approveAsAdmin(ctx, second)
		waitPhase(ctx, first, accessv1alpha1.PhaseActive)
		secondActive := waitPhase(ctx, second, accessv1alpha1.PhaseActive)
		Expect(secondActive.Status.Grant.Preexisting).To(BeFalse(), "a membership another request made is not standing access")

		Eventually(func(g Gomega) {
			got := get(ctx, first)
			g.Expect(got.Status.Phase).To(Equal(accessv1alpha1.PhaseRevoking))
			g.Expect(got.Status.Revocation.RetainedBy).To(Equal(ns + "/second"))
			cond := condition(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)
			g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(cond.Reason).To(Equal("RetainedByOtherRequest"))
		}, eventually, poll).Should(Succeed())
		Expect(get(ctx, second).Status.Phase).To(Equal(accessv1alpha1.PhaseActive))
		Expect(b.IsMember(tgt)).To(BeTrue(), "the second request still holds the membership")
		Expect(get(ctx, first).Status.Revocation.VerifiedAt).To(BeNil())
		Expect(op.Tracker.Overdue()).To(Equal(0), "waiting for another holder is not overdue")

		secondDone := waitPhase(ctx, second, accessv1alpha1.PhaseRevoked)
		firstDone := waitPhase(ctx, first, accessv1alpha1.PhaseRevoked)
		expectVerifiedRevocation(secondDone, b, tgt)
		expectVerifiedRevocation(firstDone, b, tgt)
		Expect(firstDone.Status.Revocation.VerifiedAt.Time).NotTo(BeTemporally("<", secondActive.Status.ExpiresAt.Truncate(time.Second)),
			"the first request's revocation is verified only after the second one ended")
		Expect(b.IsMember(tgt)).To(BeFalse())
	})

	It("leaves a standing membership that predates the request in place", func() {
		b.AddMember(tgt)
		Expect(b.IsMember(tgt)).To(BeTrue())
		op = startOperator(b, ns, nil)
		er := createRequest(ctx, ns, "standing", tgt, "2s")
		approveAsAdmin(ctx, er)
		got := waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		Expect(got.Status.Grant.Preexisting).To(BeTrue())
		Expect(got.Status.Message).To(ContainSubstring("standing access"))

		got = waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		Expect(got.Status.Revocation.Method).To(Equal("none: standing access left in place"))
		cond := condition(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)
		Expect(cond.Status).NotTo(Equal(metav1.ConditionTrue), "nothing was removed, so nothing was verified removed")
		Expect(cond.Reason).To(Equal("StandingAccess"))
		Consistently(func() bool { return b.IsMember(tgt) }, time.Second, 200*time.Millisecond).Should(BeTrue(),
			"the standing membership is still on the server")
	})

	It("retries a revocation the server refuses until it is verified", func() {
		op = startOperator(b, ns, nil)
		er := createRequest(ctx, ns, "outage", tgt, "2s")
		approveAsAdmin(ctx, er)
		waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		Expect(b.IsMember(tgt)).To(BeTrue())
		b.Break()
		DeferCleanup(b.Repair)

		var attempts int32
		Eventually(func(g Gomega) {
			got := get(ctx, er)
			g.Expect(got.Status.Phase).To(Equal(accessv1alpha1.PhaseRevoking))
			cond := condition(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)
			g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(cond.Reason).To(BeElementOf("RevokeFailed", "VerificationFailed"))
			g.Expect(got.Status.Revocation.Attempts).To(BeNumerically(">=", 2))
			attempts = got.Status.Revocation.Attempts
		}, eventually, poll).Should(Succeed())
		got := get(ctx, er)
		Expect(got.Status.Revocation.VerifiedAt).To(BeNil(), "nothing is marked revoked that was not verified")
		Expect(got.Status.RevokedAt).To(BeNil())
		Expect(op.Tracker.Overdue()).To(Equal(1))
		Eventually(func() []string { return warningReasons(ctx, er) }, eventually, poll).
			Should(ContainElement(BeElementOf("RevokeFailed", "VerificationFailed")))
		if b.readableWhileBroken() {
			Expect(b.IsMember(tgt)).To(BeTrue(), "the refused revocation left the membership on the server")
		}
		Eventually(func() int32 { return get(ctx, er).Status.Revocation.Attempts }, eventually, poll).
			Should(BeNumerically(">", attempts), "the operator keeps retrying")
		// The connection re-checks its health every 5 minutes or on a change;
		// a change makes it look now.
		touchConnection(ctx, ns)
		Eventually(func() metav1.ConditionStatus { return connectionReady(ctx, ns).Status }, eventually, poll).
			Should(Equal(metav1.ConditionFalse), "a connection to an unavailable server is not Ready")
		AddReportEntry(kind+": Ready=False message while the server is unavailable", connectionReady(ctx, ns).Message)

		b.Repair()
		got = waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		expectVerifiedRevocation(got, b, tgt)
		Expect(got.Status.Revocation.Attempts).To(BeNumerically(">", attempts))
		Expect(b.IsMember(tgt)).To(BeFalse())
		Expect(op.Tracker.Overdue()).To(Equal(0))
		touchConnection(ctx, ns)
		Eventually(func() metav1.Condition { return connectionReady(ctx, ns) }, eventually, poll).Should(And(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", "Healthy")))
	})

	It("does not take a membership whose revocation is being retried for standing access", func() {
		op = startOperator(b, ns, nil)
		first := createRequest(ctx, ns, "first", tgt, "2s")
		approveAsAdmin(ctx, first)
		waitPhase(ctx, first, accessv1alpha1.PhaseActive)
		b.Break()
		DeferCleanup(b.Repair)
		Eventually(func(g Gomega) {
			got := get(ctx, first)
			g.Expect(got.Status.Phase).To(Equal(accessv1alpha1.PhaseRevoking))
			g.Expect(got.Status.Revocation.Attempts).To(BeNumerically(">=", 1))
		}, eventually, poll).Should(Succeed())

		// While the first request's membership is still on the server, a second
		// request for it must not be recorded as standing access (which would
		// skip the grant and leave it without access once the first is removed).
		second := createRequest(ctx, ns, "second", tgt, "4s")
		approveAsAdmin(ctx, second)
		Consistently(func() bool {
			g := get(ctx, second).Status.Grant
			return g != nil && g.Preexisting
		}, 3*time.Second, poll).Should(BeFalse())

		b.Repair()
		// The second request either grants after the repair and ends Revoked, or,
		// where the server refused its grant as permanent (PostgreSQL's
		// permission denied), ends Failed after undoing it; both verified.
		var got *accessv1alpha1.ElevationRequest
		Eventually(func() accessv1alpha1.Phase {
			got = get(ctx, second)
			return got.Status.Phase
		}, eventually, poll).Should(BeElementOf(accessv1alpha1.PhaseRevoked, accessv1alpha1.PhaseFailed))
		Expect(got.Status.Grant.Preexisting).To(BeFalse())
		Expect(got.Status.Revocation.VerifiedAt).NotTo(BeNil(), "the second request's end was verified too")
		Expect(condition(got.Status.Conditions, accessv1alpha1.ConditionRevocationVerified).Status).To(Equal(metav1.ConditionTrue))
		got = waitPhase(ctx, first, accessv1alpha1.PhaseRevoked)
		expectVerifiedRevocation(got, b, tgt)
		Expect(b.IsMember(tgt)).To(BeFalse())
	})

	It("converges with no leftover membership after a crash between grant and status write", func() {
		var grants atomic.Int32
		op = startOperator(b, ns, func(c provider.Client) provider.Client {
			return providertest.CrashAfterGrant{Client: c, Grants: &grants}
		})
		er := createRequest(ctx, ns, "crash", tgt, "3s")
		approveAsAdmin(ctx, er)
		Eventually(grants.Load, eventually, poll).Should(BeNumerically(">=", 1))
		Expect(b.IsMember(tgt)).To(BeTrue(), "the provider granted on the server")
		got := get(ctx, er)
		Expect(got.Status.Phase).To(Equal(accessv1alpha1.PhaseApproved), "the status write never happened")
		Expect(got.Status.Grant).NotTo(BeNil(), "the intent to grant was recorded before the grant")
		op.stop()

		op = startOperator(b, ns, nil)
		got = waitPhase(ctx, er, accessv1alpha1.PhaseActive)
		Expect(got.Status.Grant.Preexisting).To(BeFalse(), "the membership the crashed operator made is not standing access")
		Expect(b.IsMember(tgt)).To(BeTrue())
		got = waitPhase(ctx, er, accessv1alpha1.PhaseRevoked)
		expectVerifiedRevocation(got, b, tgt)
		Expect(b.IsMember(tgt)).To(BeFalse(), "no leftover membership")
	})

	It("reports the connection Ready from the credentials Secret, never revealing it", func() {
		op = startOperator(b, ns, nil)
		ready := func() metav1.Condition { return connectionReady(ctx, ns) }
		Eventually(ready, eventually, poll).Should(And(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", "Healthy")))

		wrongData, wrong := b.WrongCredentials()
		replaceSecretData(ctx, ns, wrongData)
		var cond metav1.Condition
		Eventually(func() metav1.ConditionStatus { cond = ready(); return cond.Status }, eventually, poll).
			Should(Equal(metav1.ConditionFalse))
		Expect(cond.Reason).To(Equal("InvalidConfiguration"), "retrying will not fix a wrong credential: %s", cond.Message)
		Expect(cond.Message).To(ContainSubstring(secretName), "the message names the Secret to fix: %s", cond.Message)
		AddReportEntry(kind+": Ready=False message for a wrong credential", cond.Message)
		Expect(slices.Contains(b.Secrets(), wrong)).To(BeTrue(), "the leak check covers the wrong credential")
		expectNoCredentialIn(ctx, ns, b.Secrets())

		replaceSecretData(ctx, ns, b.Credentials())
		Eventually(ready, eventually, poll).Should(And(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", "Healthy")))
	})
}
