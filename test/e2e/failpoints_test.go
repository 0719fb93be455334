package e2e

import (
	"io"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/elevator-dev/elevator/internal/failpoint"
	"github.com/elevator-dev/elevator/internal/localcluster"
	"github.com/elevator-dev/elevator/internal/testenv"
)

// SIGKILL at chosen points of the lifecycle, not at random moments: the
// operator is built with the failpoints tag and told, by internal/failpoint's
// environment variable, where to hold; the spec kills it once it holds there
// and starts the shipped binary, which must converge with nothing leaked and
// nothing recorded as verified that was not read.
var _ = Describe("an operator killed with SIGKILL at a chosen point of the lifecycle", Ordered, func() {
	var held string

	BeforeAll(func(ctx SpecContext) {
		applyFixtures()
		held = filepath.Join(workDir, "elevator-failpoints")
		By("building the operator with the failpoints tag")
		Expect(localcluster.BuildOperatorWithTags(ctx, held, "failpoints")).To(Succeed())
	}, NodeTimeout(5*time.Minute))

	// killAt replaces the running operator with one that holds at point, does
	// act, and kills the operator with SIGKILL once it holds there.
	killAt := func(ctx SpecContext, point string, act func()) {
		Expect(operator.Stop(15 * time.Second)).To(Succeed())
		out := &testenv.LockedBuffer{}
		var err error
		metricsAddr, err = localcluster.FreeLoopbackAddr()
		Expect(err).NotTo(HaveOccurred())
		op, err := cluster.StartOperator(localcluster.OperatorOptions{
			Binary: held, Output: io.MultiWriter(out, GinkgoWriter), MetricsAddr: metricsAddr,
			Env: []string{failpoint.Env + "=" + point},
		})
		Expect(err).NotTo(HaveOccurred())
		operator = op
		Expect(op.WaitReady(ctx, 2*time.Minute)).To(Succeed())
		act()
		Eventually(out.String).WithTimeout(30*time.Second).Should(ContainSubstring(failpoint.Marker(point)), "the operator reached %s", point)
		By("SIGKILL at " + point)
		Expect(operator.Kill()).To(Succeed())
		Eventually(operator.Done()).WithTimeout(10 * time.Second).Should(BeClosed())
	}
	bindingsOf := func(name string) []string {
		return strings.Fields(mustKubectl("get", "rolebindings", "-n", ns, "-l", "elevator.dev/request-name="+name, "-o", "name"))
	}
	request := func(name string) {
		mustKubectl("apply", "-f", requestFileFor(name, "e2e-cluster", "ns-admin", 5*time.Minute), "--as="+requester)
	}
	approve := func(name string) {
		mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+approver, "elevator.dev/approve=e2e approval")
	}
	revoke := func(name string) {
		mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+requester, "elevator.dev/revoke=done")
	}

	It("after the grant, before its status is written: the restart grants once and ends it", func(ctx SpecContext) {
		const name = "e2e-kill-after-grant"
		killAt(ctx, failpoint.AfterGrant, func() {
			request(name)
			approve(name)
		})
		Expect(bindingsOf(name)).To(HaveLen(1), "the grant reached the cluster")
		Expect(phaseOf(name)()).NotTo(Equal("Active"), "the status write never happened")
		Expect(canI(requester, verb, resource, ns)).To(Equal("yes"))

		startOperator(ctx)
		Eventually(phaseOf(name)).WithTimeout(30 * time.Second).Should(Equal("Active"))
		Expect(bindingsOf(name)).To(HaveLen(1), "one binding: the restart found the request's own")
		revoke(name)
		Eventually(phaseOf(name)).WithTimeout(30 * time.Second).Should(Equal("Revoked"))
		Expect(bindingsOf(name)).To(BeEmpty())
		Expect(canI(requester, verb, resource, ns)).To(Equal("no"))
		Expect(field("elevationrequest/"+name, ns, ".status.revocation.verifiedAt")).NotTo(BeEmpty())
	}, SpecTimeout(5*time.Minute))

	It("after the revoke, before the removal is verified: nothing is recorded verified until the restart reads it", func(ctx SpecContext) {
		const name = "e2e-kill-after-revoke"
		request(name)
		approve(name)
		Eventually(phaseOf(name)).WithTimeout(30 * time.Second).Should(Equal("Active"))
		killAt(ctx, failpoint.AfterRevoke, func() { revoke(name) })
		Expect(bindingsOf(name)).To(BeEmpty(), "the revoke reached the cluster")
		Expect(phaseOf(name)()).NotTo(Equal("Revoked"))
		Expect(field("elevationrequest/"+name, ns, ".status.revocation.verifiedAt")).To(BeEmpty(), "not verified: the fresh read never happened")

		startOperator(ctx)
		Eventually(phaseOf(name)).WithTimeout(30 * time.Second).Should(Equal("Revoked"))
		Expect(field("elevationrequest/"+name, ns, ".status.revocation.verifiedAt")).NotTo(BeEmpty())
		Expect(field("elevationrequest/"+name, ns, ".status.revocation.detail")).To(ContainSubstring("absent"))
		Expect(canI(requester, verb, resource, ns)).To(Equal("no"))
	}, SpecTimeout(5*time.Minute))

	It("after a deleted request's verified revocation is stored, before its finalizer goes: the restart lets it go", func(ctx SpecContext) {
		const name = "e2e-kill-before-finalizer"
		request(name)
		approve(name)
		Eventually(phaseOf(name)).WithTimeout(30 * time.Second).Should(Equal("Active"))
		killAt(ctx, failpoint.BeforeFinalizerRemoval, func() {
			mustKubectl("delete", "elevationrequest/"+name, "-n", ns, "--wait=false")
		})
		Expect(phaseOf(name)()).To(Equal("Revoked"), "the verified revocation was stored")
		Expect(field("elevationrequest/"+name, ns, ".metadata.finalizers")).To(ContainSubstring("elevator.dev"), "the record stays while its finalizer does")
		Expect(bindingsOf(name)).To(BeEmpty())

		startOperator(ctx)
		Eventually(func() string {
			out, _, _ := kubectl("get", "elevationrequest/"+name, "-n", ns, "--ignore-not-found", "-o", "name")
			return strings.TrimSpace(out)
		}).WithTimeout(30 * time.Second).Should(BeEmpty())
	}, SpecTimeout(5*time.Minute))
})
