package e2e

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The local control plane's kube-apiserver runs config/audit/policy.yaml and
// posts to the operator's audit receiver, which the operator serves with the
// flags localcluster gives it: the kubernetes activity source of `make run`,
// this suite and `make bench`.
var _ = Describe("the kube-apiserver's audit webhook", func() {
	It("posts the cluster's writes to the operator's audit receiver, which authenticates and keeps them", func() {
		before := scrapeMetric(metricsAddr, "elevator_audit_events_received_total")
		name := "audit-probe-" + time.Now().Format("150405.000000")
		_, stderr, err := kubectl("create", "configmap", "--namespace=default", strings.ReplaceAll(name, ".", "-"))
		Expect(err).NotTo(HaveOccurred(), stderr)
		Eventually(func() float64 { return scrapeMetric(metricsAddr, "elevator_audit_events_received_total") }).
			WithTimeout(30*time.Second).WithPolling(250*time.Millisecond).
			Should(BeNumerically(">", before), "the apiserver posted no event for the ConfigMap to the operator's receiver")
		Expect(scrapeMetric(metricsAddr, "elevator_audit_posts_rejected_total")).To(BeZero(),
			"the receiver refused a post of the apiserver (wrong token, a body too large or malformed); see the operator log")
	})
})
