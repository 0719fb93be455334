package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Every lifecycle path, in the shipped configuration: the webhooks on (so the
// finalizer is already there when the operator first sees a request, and
// nothing but the operator's own steps wakes it again), the operator as its
// ServiceAccount, users played with kubectl --as. Expiry and the kill -9 path
// are in lifecycle_test.go.
var _ = Describe("every lifecycle path in the shipped configuration", func() {
	BeforeEach(applyFixtures)

	// What the viewer role gives: the built-in view ClusterRole in ns.
	const viewVerb, viewResource = "list", "pods"

	It("grants a role that needs no approval at once, with no other change to wake the request", func() {
		const name = "e2e-auto"
		created := time.Now()
		mustKubectl("create", "-f", requestFileFor(name, "e2e-cluster", "viewer", duration), "--as="+requester)
		Eventually(phaseOf(name)).WithTimeout(5 * time.Second).Should(Equal("Active"))
		GinkgoWriter.Printf("auto-approved request Active %s after creation\n", time.Since(created).Round(time.Millisecond))
		Expect(canI(requester, viewVerb, viewResource, ns)).To(Equal("yes"))
		Expect(field("elevationrequest/"+name, ns, `.status.conditions[?(@.type=="Approved")].message`)).To(Equal("the role needs no approval"))
		Expect(field("elevationrequest/"+name, ns, ".status.approvals")).To(BeEmpty())

		mustKubectl("delete", "elevationrequest/"+name, "-n", ns, "--wait=true", "--timeout=30s")
		Expect(canI(requester, viewVerb, viewResource, ns)).To(Equal("no"))
	})

	It("expires a request not approved within the connection's pendingTimeout, never granting it", func() {
		const name = "e2e-timeout"
		mustKubectl("create", "-f", requestFileFor(name, "e2e-impatient", "ns-admin", duration), "--as="+requester)
		Eventually(phaseOf(name)).WithTimeout(5 * time.Second).Should(Equal("Pending"))
		created, err := time.Parse(time.RFC3339, field("elevationrequest/"+name, ns, ".metadata.creationTimestamp"))
		Expect(err).NotTo(HaveOccurred())

		Eventually(phaseOf(name)).WithTimeout(time.Until(created.Add(10*time.Second)) + 5*time.Second).Should(Equal("Expired"))
		GinkgoWriter.Printf("request Expired %s after creation (pendingTimeout 10s)\n", time.Since(created).Round(time.Millisecond))
		Expect(time.Now()).To(BeTemporally(">=", created.Add(10*time.Second)), "not expired before its pendingTimeout")
		Expect(field("elevationrequest/"+name, ns, ".status.message")).To(Equal("not approved within the pending timeout of 10s"))
		Expect(field("elevationrequest/"+name, ns, ".status.grantedAt")).To(BeEmpty())
		Expect(canI(requester, verb, resource, ns)).To(Equal("no"))
	})

	It("ends a denied request Denied, never granted, and refuses a later approval", func() {
		const name = "e2e-deny"
		mustKubectl("create", "-f", requestFile(name), "--as="+requester)
		Eventually(phaseOf(name)).WithTimeout(5 * time.Second).Should(Equal("Pending"))
		mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+approver, "elevator.dev/deny=not during the freeze")

		Eventually(phaseOf(name)).WithTimeout(5 * time.Second).Should(Equal("Denied"))
		Expect(field("elevationrequest/"+name, ns, ".status.denial.user")).To(Equal(approver))
		Expect(field("elevationrequest/"+name, ns, ".status.denial.reason")).To(Equal("not during the freeze"))
		_, stderr, err := kubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+approver, "elevator.dev/approve=changed my mind")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("denied the request"))
		Expect(canI(requester, verb, resource, ns)).To(Equal("no"))
	})

	It("ends access early when the subject revokes it, and verifies it gone", func() {
		const name = "e2e-early"
		requestAndApprove(name)
		Expect(canI(requester, verb, resource, ns)).To(Equal("yes"))
		mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+requester, "elevator.dev/revoke=done early")

		Eventually(phaseOf(name)).WithTimeout(5 * time.Second).Should(Equal("Revoked"))
		Expect(canI(requester, verb, resource, ns)).To(Equal("no"))
		Expect(field("elevationrequest/"+name, ns, ".status.revocation.reason")).To(Equal("EarlyRevoke"))
		Expect(field("elevationrequest/"+name, ns, ".status.revocation.requestedBy")).To(Equal(requester))
		Expect(field("elevationrequest/"+name, ns, `.status.conditions[?(@.type=="RevocationVerified")].status`)).To(Equal("True"))
	})

	It("revokes and verifies before a deleted Active request goes", func() {
		const name = "e2e-delete"
		requestAndApprove(name)
		Expect(canI(requester, verb, resource, ns)).To(Equal("yes"))

		mustKubectl("delete", "elevationrequest/"+name, "-n", ns, "--wait=true", "--timeout=30s")
		_, stderr, err := kubectl("get", "elevationrequest/"+name, "-n", ns)
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("NotFound"))
		Expect(canI(requester, verb, resource, ns)).To(Equal("no"))
		Expect(mustKubectl("get", "rolebindings", "-n", ns, "-l", "app.kubernetes.io/managed-by=elevator", "-o", "name")).To(BeEmpty())
	})

	It("keeps access while an overlapping request still holds it, and ends it with the last", func() {
		const first, second = "e2e-overlap-1", "e2e-overlap-2"
		requestAndApprove(first)
		requestAndApprove(second)
		mustKubectl("annotate", "elevationrequest/"+first, "-n", ns, "--as="+requester, "elevator.dev/revoke=first one done")
		Eventually(phaseOf(first)).WithTimeout(5 * time.Second).Should(Equal("Revoked"))
		Expect(canI(requester, verb, resource, ns)).To(Equal("yes"), "the second request still holds the access")
		Expect(phaseOf(second)()).To(Equal("Active"))

		mustKubectl("annotate", "elevationrequest/"+second, "-n", ns, "--as="+requester, "elevator.dev/revoke=second one done")
		Eventually(phaseOf(second)).WithTimeout(5 * time.Second).Should(Equal("Revoked"))
		Expect(canI(requester, verb, resource, ns)).To(Equal("no"))
	})

	It("names, beside a verified revocation, a binding the subject made for herself while elevated", func() {
		const name, backdoor = "e2e-backdoor", "erin-backdoor"
		requestAndApprove(name)
		mustKubectl("create", "rolebinding", backdoor, "-n", ns, "--clusterrole=admin", "--user="+requester, "--as="+requester)
		DeferCleanup(func() { mustKubectl("delete", "rolebinding", backdoor, "-n", ns, "--ignore-not-found") })
		mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+requester, "elevator.dev/revoke=done")

		Eventually(phaseOf(name)).WithTimeout(10 * time.Second).Should(Equal("Revoked"))
		Expect(field("elevationrequest/"+name, ns, `.status.conditions[?(@.type=="RevocationVerified")].status`)).To(Equal("True"))
		Expect(field("elevationrequest/"+name, ns, `.status.conditions[?(@.type=="ResidualAccess")].status`)).To(Equal("True"))
		Expect(field("elevationrequest/"+name, ns, ".status.residualAccess[*].name")).To(ContainSubstring(backdoor))
		Expect(field("elevationrequest/"+name, ns, ".status.residualAccess[0].insideWindow")).To(Equal("true"))
		Expect(canI(requester, verb, resource, ns)).To(Equal("yes"), "the backdoor still grants the access, and the status says so")
	})
})
