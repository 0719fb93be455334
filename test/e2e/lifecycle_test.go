package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const (
	ns        = "e2e"
	requester = "erin" // asks for access for herself
	approver  = "abe"  // may approve for the e2e-cluster connection
	// What the ns-admin role gives: the built-in admin ClusterRole in ns.
	verb, resource = "delete", "deployments"
	// Short enough to watch expire, long enough to check the access meanwhile.
	duration = 20 * time.Second
)

// requestFile writes an ElevationRequest of erin for ns-admin of e2e-cluster
// and returns its path.
func requestFile(name string) string {
	return requestFileFor(name, "e2e-cluster", "ns-admin", duration)
}

// requestFileFor writes an ElevationRequest of erin for role of connection and
// returns its path.
func requestFileFor(name, connection, role string, d time.Duration) string {
	path := filepath.Join(workDir, name+".yaml")
	yaml := fmt.Sprintf(`apiVersion: access.elevator.dev/v1alpha1
kind: ElevationRequest
metadata:
  name: %s
  namespace: %s
spec:
  subject: %s
  connection: %s
  role: %s
  duration: %s
  justification: "e2e: check the lifecycle end to end"
  ticket: E2E-1
`, name, ns, requester, connection, role, d)
	Expect(os.WriteFile(path, []byte(yaml), 0o600)).To(Succeed())
	return path
}

// applyFixtures applies the suite's connections and RBAC and waits until the
// connections are Ready. Every Describe calls it: Ginkgo may run them in any order.
func applyFixtures() {
	mustKubectl("apply", "-f", testdata("connection.yaml"))
	mustKubectl("apply", "-f", testdata("rbac.yaml"))
	mustKubectl("wait", "--for=condition=Ready", "--timeout=60s", "-n", ns, "saasconnection/e2e-cluster", "saasconnection/e2e-impatient")
}

func phaseOf(name string) func() string {
	return func() string { return field("elevationrequest/"+name, ns, ".status.phase") }
}

// elevationsRow returns the header and the row of name in `kubectl get
// elevations`, with any extra flags (-o wide).
func elevationsRow(name string, flags ...string) (header []string, row string) {
	out := mustKubectl(append([]string{"get", "elevations", "-n", ns}, flags...)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, line := range lines[1:] {
		if strings.HasPrefix(line, name+" ") {
			return strings.Fields(lines[0]), line
		}
	}
	Fail(fmt.Sprintf("no row for %s in kubectl get elevations:\n%s", name, out))
	return nil, ""
}

// requestAndApprove creates a request as erin, approves it as abe and waits
// until it is Active.
func requestAndApprove(name string) {
	mustKubectl("apply", "-f", requestFile(name), "--as="+requester)
	mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+approver, "elevator.dev/approve=e2e approval")
	Eventually(phaseOf(name)).WithTimeout(30 * time.Second).Should(Equal("Active"))
}

var _ = Describe("an elevation through kubectl", Ordered, func() {
	const name = "e2e-lifecycle"

	It("reports the applied connection Ready", func() {
		applyFixtures()
		Expect(mustKubectl("get", "saasconnections", "-n", ns)).To(MatchRegexp(`e2e-cluster\s+kubernetes\s+True`))
	})

	It("holds a new request Pending, recording who asked, with the columns of kubectl get elevations", func() {
		Expect(mustKubectl("apply", "-f", requestFile(name), "--as="+requester)).To(ContainSubstring("elevationrequest.access.elevator.dev/" + name + " created"))
		Eventually(phaseOf(name)).WithTimeout(30 * time.Second).Should(Equal("Pending"))
		Expect(field("elevationrequest/"+name, ns, ".status.requestedBy")).To(Equal(requester))

		header, row := elevationsRow(name)
		Expect(header).To(Equal([]string{"NAME", "PHASE", "SUBJECT", "TARGET", "EXPIRES", "AGE"}))
		Expect(strings.Fields(row)[:4]).To(Equal([]string{name, "Pending", requester, "e2e-cluster/ns-admin"}))
		Expect(canI(requester, verb, resource, ns)).To(Equal("no"))
	})

	It("refuses the requester's approval of her own request", func() {
		_, stderr, err := kubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+requester, "elevator.dev/approve=self")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("denied the request"))
		Expect(stderr).To(ContainSubstring(`user "erin" is the subject of this request (spec.subject) and cannot approve it: self-approval is not allowed`))
		Expect(field("elevationrequest/"+name, ns, ".metadata.annotations")).NotTo(ContainSubstring("self"))
		Consistently(phaseOf(name)).WithTimeout(2 * time.Second).Should(Equal("Pending"))
	})

	It("grants the role once an approver approves, and the access is real", func() {
		mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+approver, "elevator.dev/approve=e2e approval")
		Eventually(phaseOf(name)).WithTimeout(30 * time.Second).Should(Equal("Active"))
		Expect(field("elevationrequest/"+name, ns, ".status.approvals[0].user")).To(Equal(approver))

		expiresAt := field("elevationrequest/"+name, ns, ".status.expiresAt")
		Expect(expiresAt).NotTo(BeEmpty())
		header, row := elevationsRow(name)
		Expect(header[4]).To(Equal("EXPIRES"))
		Expect(strings.Fields(row)[:5]).To(Equal([]string{name, "Active", requester, "e2e-cluster/ns-admin", expiresAt}))
		Expect(canI(requester, verb, resource, ns)).To(Equal("yes"))
		Expect(field("elevationrequest/"+name, ns, `.status.conditions[?(@.type=="Ready")].status`)).To(Equal("True"))
		Expect(field("elevationrequest/"+name, ns, `.status.conditions[?(@.type=="Reconciling")].status`)).To(BeEmpty(), "an Active request is not reconciling")

		wideHeader, wideRow := elevationsRow(name, "-o", "wide")
		Expect(wideHeader).To(Equal([]string{"NAME", "PHASE", "SUBJECT", "TARGET", "EXPIRES", "AGE", "REQUESTED-BY", "APPROVED-BY", "TARGETS", "VERIFIED", "MESSAGE"}))
		Expect(strings.Fields(wideRow)[6:9]).To(Equal([]string{requester, approver, "e2e-cluster/ns-admin"}))
	})

	It("revokes the role at expiry and records how the removal was verified", func() {
		Eventually(phaseOf(name)).WithTimeout(duration + 30*time.Second).Should(Equal("Revoked"))
		Expect(canI(requester, verb, resource, ns)).To(Equal("no"))

		Expect(field("elevationrequest/"+name, ns, ".status.revocation.reason")).To(Equal("Expired"))
		Expect(field("elevationrequest/"+name, ns, ".status.revocation.verifiedAt")).NotTo(BeEmpty())
		Expect(field("elevationrequest/"+name, ns, ".status.revocation.method")).NotTo(BeEmpty())
		Expect(field("elevationrequest/"+name, ns, `.status.conditions[?(@.type=="RevocationVerified")].status`)).To(Equal("True"))
		for _, ended := range []string{"Ready", "Reconciling", "Stalled"} {
			Expect(field("elevationrequest/"+name, ns, `.status.conditions[?(@.type=="`+ended+`")].status`)).To(BeEmpty(),
				"an ended request has no %s condition, so GitOps tools read it as finished", ended)
		}
		_, row := elevationsRow(name)
		Expect(strings.Fields(row)[1]).To(Equal("Revoked"))
		_, wideRow := elevationsRow(name, "-o", "wide")
		verifiedAt := field("elevationrequest/"+name, ns, ".status.revocation.verifiedAt")
		Expect(strings.Fields(wideRow)[9]).To(Equal(verifiedAt))
	})

	It("shows the lifecycle's Events in kubectl describe", func() {
		out := mustKubectl("describe", "elevationrequest/"+name, "-n", ns)
		Expect(out).To(ContainSubstring("Events:"))
		for _, reason := range []string{"Requested", "Granted", "Verified"} {
			Expect(out).To(MatchRegexp(`Normal\s+%s\s`, reason))
		}
	})
})

var _ = Describe("an operator killed while access is Active", Ordered, func() {
	const name = "e2e-crash"

	It("revokes and verifies the access within seconds of its restart after the expiry passed", func(ctx SpecContext) {
		applyFixtures()
		requestAndApprove(name)
		expiresAt, err := time.Parse(time.RFC3339, field("elevationrequest/"+name, ns, ".status.expiresAt"))
		Expect(err).NotTo(HaveOccurred())

		By("killing the operator with SIGKILL")
		Expect(operator.Kill()).To(Succeed())
		time.Sleep(time.Until(expiresAt) + 3*time.Second)
		By("the expiry passed with no operator: the access is still there")
		Expect(phaseOf(name)()).To(Equal("Active"))
		Expect(canI(requester, verb, resource, ns)).To(Equal("yes"))

		restarted := time.Now()
		startOperator(ctx)
		Eventually(phaseOf(name)).WithTimeout(15 * time.Second).Should(Equal("Revoked"))
		Expect(canI(requester, verb, resource, ns)).To(Equal("no"))
		verifiedAt, err := time.Parse(time.RFC3339, field("elevationrequest/"+name, ns, ".status.revocation.verifiedAt"))
		Expect(err).NotTo(HaveOccurred())
		Expect(verifiedAt).To(BeTemporally("<", restarted.Add(15*time.Second)))
		Expect(field("elevationrequest/"+name, ns, ".status.revocation.reason")).To(Equal("Expired"))
		GinkgoWriter.Printf("revocation verified %s after the restart\n", verifiedAt.Sub(restarted).Round(time.Second))
	}, SpecTimeout(5*time.Minute))
})
