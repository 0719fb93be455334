package e2e

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The local kube-apiserver posts its audit events to the built operator's
// receiver (internal/localcluster), as config/audit sets a real cluster up:
// what the subject does while elevated shows on the request.
var _ = Describe("activity while elevated, in the shipped configuration", func() {
	BeforeEach(applyFixtures)

	It("records on the request what the subject did while elevated, flags the binding she made, and nothing of anyone else's", func() {
		const name, backdoor = "e2e-activity", "erin-activity-backdoor"
		_, _, err := kubectl("create", "configmap", "erin-before-the-grant", "-n", ns, "--from-literal=k=v", "--as="+requester)
		Expect(err).To(HaveOccurred(), "erin may not create ConfigMaps before the grant: an attempt outside the window")
		// The window's start is stored to the second: let the grant fall in a later one.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		DeferCleanup(func() {
			mustKubectl("delete", "configmap", "-n", ns, "erin-before-the-grant", "erin-while-elevated", "abe-while-erin-is-elevated", "--ignore-not-found")
			mustKubectl("delete", "rolebinding", backdoor, "-n", ns, "--ignore-not-found")
		})
		requestAndApprove(name)

		By("acting as erin, and as someone else, while she is elevated")
		mustKubectl("create", "configmap", "erin-while-elevated", "-n", ns, "--from-literal=k=v", "--as="+requester)
		mustKubectl("create", "rolebinding", backdoor, "-n", ns, "--clusterrole=admin", "--user="+requester, "--as="+requester)
		mustKubectl("create", "configmap", "abe-while-erin-is-elevated", "-n", ns, "--from-literal=k=v")
		_, _, err = kubectl("create", "quota", "erin-quota", "-n", ns, "--hard=pods=1", "--as="+requester)
		Expect(err).To(HaveOccurred(), "the admin ClusterRole may not create ResourceQuotas")
		Eventually(func() string { return field("elevationrequest/"+name, ns, ".status.activity.counts.config") }).
			WithTimeout(20*time.Second).Should(Equal("1"), "recorded while the window is open")
		Expect(field("elevationrequest/"+name, ns, `.status.conditions[?(@.type=="ActivityRecorded")].status`)).To(Equal("Unknown"))

		mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+requester, "elevator.dev/revoke=done")
		Eventually(phaseOf(name)).WithTimeout(10 * time.Second).Should(Equal("Revoked"))
		Eventually(func() string { return field("elevationrequest/"+name, ns, ".status.activity.state") }).
			WithTimeout(30 * time.Second).Should(Equal("Complete"))

		activity := func(path string) string { return field("elevationrequest/"+name, ns, ".status.activity."+path) }
		Expect(activity("source")).To(Equal("kube-apiserver audit webhook"))
		Expect(activity("counts.config")).To(Equal("1"), "erin's ConfigMap, not the one before the grant nor abe's")
		Expect(activity("counts.denied")).To(Equal("1"), "the refused ResourceQuota, not the refusal before the grant")
		Expect(activity("accessChanges[*].object")).To(ContainSubstring("RoleBinding " + ns + "/" + backdoor))
		objects := activity("recent[*].object")
		Expect(objects).To(ContainSubstring("ConfigMap " + ns + "/erin-while-elevated"))
		Expect(objects).NotTo(ContainSubstring("erin-before-the-grant"))
		Expect(objects).NotTo(ContainSubstring("abe-while-erin-is-elevated"))
		Expect(activity("recent[0].impersonatedBy")).NotTo(BeEmpty(), "kubectl --as impersonates erin; the record says who did")
		Expect(field("elevationrequest/"+name, ns, `.status.conditions[?(@.type=="ActivityRecorded")].status`)).To(Equal("True"))
		Expect(field("elevationrequest/"+name, ns, `.status.conditions[?(@.type=="ActivityRecorded")].message`)).To(HavePrefix("erin made "))
		Expect(field("elevationrequest/"+name, ns, ".status.residualAccess[*].madeWhileElevated")).To(ContainSubstring("RoleBinding " + ns + "/" + backdoor))

		events := mustKubectl("get", "events.events.k8s.io", "-n", ns, "--field-selector=regarding.name="+name, "-o", "jsonpath={range .items[*]}{.reason}:{.note}{\"\\n\"}{end}")
		Expect(events).To(ContainSubstring("AccessChangedWhileElevated:erin changed access while elevated: create RoleBinding " + ns + "/" + backdoor))
		Expect(strings.Count(events, "ActivityRecorded:")).To(Equal(1))
	})
})
