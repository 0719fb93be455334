package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/controller"
)

// Requests with spec.targets (issue 18) in the shipped configuration, each
// target a kubernetes connection of testdata/multitarget.yaml whose role gives
// admin of the namespace named like the connection.
const (
	multiOne    = "e2e-multi-one"
	multiTwo    = "e2e-multi-two"
	multiDoomed = "e2e-multi-doomed" // refused by an admission policy (multitarget_policy.yaml)
	multiLate   = "e2e-multi-late"   // its namespace is made only while the grant is retried
	multiNever  = "e2e-multi-never"  // its namespace is never made: its grant is retried for good
	multiRole   = "ns-admin"

	oneApprover = "ana" // may approve for e2e-multi-one only
	twoApprover = "ben" // may approve for e2e-multi-two only
	notApprover = "nel" // may annotate requests, approves for none
	// abe (approver) may approve for every connection of multitarget.yaml.

	multiDuration = 5 * time.Minute
)

// applyMultiFixtures applies the suite's fixtures and the multi-target
// connections and RBAC, and waits until the connections are Ready.
func applyMultiFixtures() {
	applyFixtures()
	mustKubectl("apply", "-f", testdata("multitarget.yaml"))
	mustKubectl("wait", "--for=condition=Ready", "--timeout=60s", "-n", ns,
		"saasconnection/"+multiOne, "saasconnection/"+multiTwo, "saasconnection/"+multiDoomed, "saasconnection/"+multiLate, "saasconnection/"+multiNever)
}

// multiTarget is the target for role ns-admin of connection, as kubectl shows it.
func multiTarget(connection string) string { return connection + "/" + multiRole }

// multiRequestFile writes an ElevationRequest of erin for ns-admin of each
// connection and returns its path.
func multiRequestFile(name string, connections ...string) string {
	return multiRequestFileFor(name, multiDuration, connections...)
}

// multiRequestFileFor is multiRequestFile with the duration d.
func multiRequestFileFor(name string, d time.Duration, connections ...string) string {
	var targets strings.Builder
	for _, c := range connections {
		fmt.Fprintf(&targets, "  - {connection: %s, role: %s}\n", c, multiRole)
	}
	yaml := fmt.Sprintf(`apiVersion: access.elevator.dev/v1alpha1
kind: ElevationRequest
metadata:
  name: %s
  namespace: %s
spec:
  subject: %s
  targets:
%s  duration: %s
  justification: "e2e: one purpose, several systems"
  ticket: E2E-18
`, name, ns, requester, targets.String(), d)
	path := filepath.Join(workDir, name+".yaml")
	Expect(os.WriteFile(path, []byte(yaml), 0o600)).To(Succeed())
	return path
}

// createMultiRequest creates the request as erin and waits until it is Pending.
func createMultiRequest(name string, connections ...string) {
	mustKubectl("create", "-f", multiRequestFile(name, connections...), "--as="+requester)
	Eventually(phaseOf(name)).WithTimeout(10 * time.Second).Should(Equal("Pending"))
}

// deleteWhenDone deletes the requests when the current node (a spec, or the
// BeforeAll of an Ordered container) is done, so that a failed spec leaves
// no access behind for the next.
func deleteWhenDone(names ...string) {
	DeferCleanup(func() {
		for _, name := range names {
			_, _, _ = kubectl("delete", "elevationrequest/"+name, "-n", ns, "--ignore-not-found", "--wait=true", "--timeout=30s")
		}
	})
}

func approveAs(name, user, comment string) {
	mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+user, accessv1alpha1.AnnotationApprove+"="+comment)
}

func revokeAs(name, user, reason string) {
	mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+user, accessv1alpha1.AnnotationRevoke+"="+reason)
}

// requestField reads one JSONPath of the request's status, e.g. ".status.targets[1].phase".
func requestField(name, jsonPath string) string {
	return field("elevationrequest/"+name, ns, jsonPath)
}

// targetField reads a JSONPath below status.targets[i].
func targetField(name string, i int, jsonPath string) string {
	return requestField(name, fmt.Sprintf(".status.targets[%d]%s", i, jsonPath))
}

// requestBindings lists the RoleBindings in namespace that the operator made
// for the request (by its labels), read from the API server.
func requestBindings(name, namespace string) []string {
	out := mustKubectl("get", "rolebindings", "-n", namespace,
		"-l", accessv1alpha1.LabelManagedBy+"="+accessv1alpha1.ManagedByValue+","+accessv1alpha1.LabelRequestName+"="+name,
		"-o", "jsonpath={.items[*].metadata.name}")
	return strings.Fields(out)
}

// bindingUIDs are the uids of the request's RoleBindings in namespace: a
// binding made again has a new one.
func bindingUIDs(name, namespace string) []string {
	out := mustKubectl("get", "rolebindings", "-n", namespace,
		"-l", accessv1alpha1.LabelRequestName+"="+name, "-o", "jsonpath={.items[*].metadata.uid}")
	return strings.Fields(out)
}

// elevationsCells returns the header of kubectl get elevations (with any
// extra flags, e.g. -o wide) and name's row as a map from column to cell. The
// row is cut at the offsets where the header's columns start, as kubectl
// aligns them, so a cell may hold a space (TARGET's "conn/role +1") or be
// empty.
func elevationsCells(name string, flags ...string) ([]string, map[string]string) {
	out := mustKubectl(append([]string{"get", "elevations", "-n", ns}, flags...)...)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var starts []int
	for i, c := range lines[0] {
		if c != ' ' && (i == 0 || lines[0][i-1] == ' ') {
			starts = append(starts, i)
		}
	}
	header := strings.Fields(lines[0])
	for _, line := range lines[1:] {
		if !strings.HasPrefix(line, name+" ") {
			continue
		}
		cells := make(map[string]string, len(header))
		for i, start := range starts {
			end := len(line)
			if i+1 < len(starts) {
				end = min(starts[i+1], len(line))
			}
			cells[header[i]] = strings.TrimSpace(line[min(start, end):end])
		}
		return header, cells
	}
	Fail(fmt.Sprintf("no row for %s in kubectl get elevations:\n%s", name, out))
	return nil, nil
}

// firstGrantedAt is the earliest grantedAt of the request's targets.
func firstGrantedAt(name string) string {
	times := strings.Fields(requestField(name, ".status.targets[*].grantedAt"))
	ExpectWithOffset(1, times).NotTo(BeEmpty())
	slices.Sort(times) // RFC 3339 in UTC sorts as time does
	return times[0]
}

// expectExpiryFrom asserts that the request's one expiresAt counts from
// granted (the first target's grantedAt, cut to the second): its duration
// plus the operator's expiry lead (the controller's expiryOf), so never from
// a later target's grant.
func expectExpiryFrom(name, granted string) {
	from, err := time.Parse(time.RFC3339, granted)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	expiresAt, err := time.Parse(time.RFC3339, requestField(name, ".status.expiresAt"))
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	ExpectWithOffset(1, expiresAt).To(BeTemporally(">=", from.Add(multiDuration)), "expiresAt counts from the first grant at %s", granted)
	ExpectWithOffset(1, expiresAt).To(BeTemporally("<", from.Add(multiDuration+controller.DefaultExpiryLead+time.Second)),
		"expiresAt counts from the first grant at %s", granted)
}

// eventNotes returns a poll of the notes of the request's Events of reason.
func eventNotes(name, reason string) func() string {
	return func() string {
		return mustKubectl("get", "events.events.k8s.io", "-n", ns, "--field-selector=regarding.name="+name,
			"-o", `jsonpath={.items[?(@.reason=="`+reason+`")].note}`)
	}
}

// expectAccess asserts, with kubectl auth can-i as erin, whether she holds
// the ns-admin access in each namespace.
func expectAccess(answer string, namespaces ...string) {
	for _, namespace := range namespaces {
		ExpectWithOffset(1, canI(requester, verb, resource, namespace)).To(Equal(answer), "erin's %s %s in %s", verb, resource, namespace)
	}
}

// expectEachRevocationVerified asserts that every target's removal was
// verified by a fresh read, for reason, and that the request says so.
func expectEachRevocationVerified(name, reason string, targets int) {
	for i := range targets {
		ExpectWithOffset(1, targetField(name, i, ".revocation.reason")).To(Equal(reason), "target %d", i)
		ExpectWithOffset(1, targetField(name, i, ".revocation.verifiedAt")).NotTo(BeEmpty(), "target %d's removal verified", i)
		ExpectWithOffset(1, targetField(name, i, ".revocation.method")).NotTo(BeEmpty(), "target %d's verification method", i)
	}
	ExpectWithOffset(1, requestField(name, ".status.revocation.verifiedAt")).NotTo(BeEmpty())
	ExpectWithOffset(1, requestField(name, `.status.conditions[?(@.type=="RevocationVerified")].status`)).To(Equal("True"))
}

var _ = Describe("a request for roles in two connections (multi-target)", Ordered, func() {
	const name, deleted = "e2e-multi", "e2e-multi-deleted"

	BeforeAll(func() {
		applyMultiFixtures()
		deleteWhenDone(name, deleted)
	})

	It("counts an approval only for the connections its approver may approve for, and stays Pending until every target has its own", func() {
		createMultiRequest(name, multiOne, multiTwo)
		Expect(requestField(name, ".status.targets[*].connection")).To(Equal(multiOne + " " + multiTwo))
		Expect(requestField(name, ".status.targets[*].phase")).To(Equal("Pending Pending"))

		By("an approval by the approver of the first connection only")
		approveAs(name, oneApprover, "payments side ok")
		Eventually(func() string { return targetField(name, 0, ".approvals") }).WithTimeout(10 * time.Second).Should(Equal("1"))
		Expect(requestField(name, ".status.approvals[0].user")).To(Equal(oneApprover))
		Expect(requestField(name, ".status.approvals[0].connections[*]")).To(Equal(multiOne))
		Expect(targetField(name, 1, ".approvals")).To(Or(BeEmpty(), Equal("0")), "ana's approval does not count for e2e-multi-two")
		Expect(targetField(name, 0, ".requiredApprovals")).To(Equal("1"))
		Expect(targetField(name, 1, ".requiredApprovals")).To(Equal("1"))
		Consistently(phaseOf(name)).WithTimeout(3 * time.Second).Should(Equal("Pending"))
		Expect(requestBindings(name, multiOne)).To(BeEmpty(), "nothing is granted before every target is approved")
		expectAccess("no", multiOne, multiTwo)

		By("refusing a user who may approve for neither connection")
		_, stderr, err := kubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+notApprover, accessv1alpha1.AnnotationApprove+"=nel says yes")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring(`denied the request: elevator.dev/approve: user "nel" is not an approver of any connection of this request: ` +
			`it needs RBAC verb "approve" on resource "saasconnections" (group access.elevator.dev) named one of "e2e-multi-one", "e2e-multi-two" in namespace "e2e"`))
		Expect(requestField(name, ".metadata.annotations")).NotTo(ContainSubstring("nel says yes"))
		Expect(requestField(name, ".status.approvals[*].user")).To(Equal(oneApprover))
		Expect(phaseOf(name)()).To(Equal("Pending"))
	})

	It("grants every target once the approver of the other connection approves, and the access is real in both", func() {
		approveAs(name, twoApprover, "billing side ok")
		Eventually(phaseOf(name)).WithTimeout(30 * time.Second).Should(Equal("Active"))
		Expect(requestField(name, ".status.approvals[*].user")).To(Equal(oneApprover + " " + twoApprover))
		Expect(requestField(name, ".status.approvals[1].connections[*]")).To(Equal(multiTwo))
		Expect(requestField(name, ".status.targets[*].approvals")).To(Equal("1 1"))
		Expect(requestField(name, ".status.targets[*].phase")).To(Equal("Active Active"))
		Expect(requestBindings(name, multiOne)).To(HaveLen(1))
		Expect(requestBindings(name, multiTwo)).To(HaveLen(1))
		expectAccess("yes", multiOne, multiTwo)

		for i := range 2 {
			Expect(targetField(name, i, ".grantedAt")).NotTo(BeEmpty(), "target %d", i)
			Expect(targetField(name, i, ".grant.target.bindings[*].kind")).To(Equal("RoleBinding"), "target %d", i)
		}
		Expect(targetField(name, 0, ".grant.target.bindings[0].namespace")).To(Equal(multiOne))
		Expect(targetField(name, 1, ".grant.target.bindings[0].namespace")).To(Equal(multiTwo))
		expectExpiryFrom(name, firstGrantedAt(name))
		Expect(requestField(name, `.status.conditions[?(@.type=="Ready")].status`)).To(Equal("True"))
	})

	It("shows the first target and how many more in kubectl get elevations, and lists all with -o wide", func() {
		header, cells := elevationsCells(name)
		Expect(header).To(Equal([]string{"NAME", "PHASE", "SUBJECT", "TARGET", "EXPIRES", "AGE"}))
		Expect(cells["PHASE"]).To(Equal("Active"))
		Expect(cells["SUBJECT"]).To(Equal(requester))
		Expect(cells["TARGET"]).To(Equal(multiTarget(multiOne) + " +1"))
		Expect(cells["EXPIRES"]).To(Equal(requestField(name, ".status.expiresAt")))

		wideHeader, wide := elevationsCells(name, "-o", "wide")
		Expect(wideHeader).To(Equal([]string{"NAME", "PHASE", "SUBJECT", "TARGET", "EXPIRES", "AGE", "REQUESTED-BY", "APPROVED-BY", "TARGETS", "VERIFIED", "MESSAGE"}))
		Expect(wide["TARGET"]).To(Equal(multiTarget(multiOne) + " +1"))
		Expect(wide["TARGETS"]).To(Equal(multiTarget(multiOne) + ", " + multiTarget(multiTwo)))
		Expect(wide["REQUESTED-BY"]).To(Equal(requester))
		Expect(wide["APPROVED-BY"]).To(Equal(oneApprover + "," + twoApprover))
	})

	It("ends every target at an early revoke, each removal verified on its own", func() {
		revokeAs(name, requester, "done with both")
		Eventually(phaseOf(name)).WithTimeout(15 * time.Second).Should(Equal("Revoked"))
		Expect(requestBindings(name, multiOne)).To(BeEmpty())
		Expect(requestBindings(name, multiTwo)).To(BeEmpty())
		expectAccess("no", multiOne, multiTwo)
		Expect(requestField(name, ".status.targets[*].phase")).To(Equal("Revoked Revoked"))
		expectEachRevocationVerified(name, "EarlyRevoke", 2)
		Expect(requestField(name, ".status.revocation.requestedBy")).To(Equal(requester))
		_, wide := elevationsCells(name, "-o", "wide")
		Expect(wide["VERIFIED"]).To(Equal(requestField(name, ".status.revocation.verifiedAt")))
	})

	It("revokes and verifies every target before a deleted Active request goes", func() {
		createMultiRequest(deleted, multiOne, multiTwo)
		approveAs(deleted, approver, "abe approves for both")
		Eventually(phaseOf(deleted)).WithTimeout(30 * time.Second).Should(Equal("Active"))
		Expect(requestField(deleted, ".status.approvals[0].connections[*]")).To(Equal(multiOne+" "+multiTwo),
			"one approver of both connections approves both targets at once")
		Expect(requestBindings(deleted, multiOne)).To(HaveLen(1))
		Expect(requestBindings(deleted, multiTwo)).To(HaveLen(1))
		expectAccess("yes", multiOne, multiTwo)

		mustKubectl("delete", "elevationrequest/"+deleted, "-n", ns, "--wait=true", "--timeout=30s")
		_, stderr, err := kubectl("get", "elevationrequest/"+deleted, "-n", ns)
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("NotFound"))
		Expect(requestBindings(deleted, multiOne)).To(BeEmpty())
		Expect(requestBindings(deleted, multiTwo)).To(BeEmpty())
		expectAccess("no", multiOne, multiTwo)
		By("the request is gone; its Verified Event, which outlives it, names each target's verification")
		Eventually(eventNotes(deleted, accessv1alpha1.ReasonVerified)).WithTimeout(10 * time.Second).Should(And(
			ContainSubstring(accessv1alpha1.RevocationDeleted),
			ContainSubstring(multiTarget(multiOne)+": "), ContainSubstring(multiTarget(multiTwo)+": "),
			ContainSubstring("absent: RoleBinding "+multiOne+"/"), ContainSubstring("absent: RoleBinding "+multiTwo+"/")))
	})
})

var _ = Describe("a multi-target grant refused for good on one target", func() {
	const name = "e2e-multi-undo"

	It("removes and verifies the target already granted, and ends Failed naming the refused target", func() {
		applyMultiFixtures()
		deleteWhenDone(name)
		mustKubectl("apply", "-f", testdata("multitarget_policy.yaml"))
		DeferCleanup(func() { _, _, _ = kubectl("delete", "-f", testdata("multitarget_policy.yaml"), "--ignore-not-found") })
		By("waiting until the admission policy is in force")
		Eventually(func() string {
			_, stderr, _ := kubectl("create", "rolebinding", "e2e-multi-policy-probe", "-n", ns, "--clusterrole=view", "--user=nobody", "--dry-run=server")
			return stderr
		}).WithTimeout(15 * time.Second).Should(ContainSubstring("refuses RoleBindings"))

		By("the second target's namespace does not exist yet: its grant is retried while the first is granted")
		createMultiRequest(name, multiOne, multiDoomed)
		approveAs(name, approver, "abe approves for both")
		Eventually(func() []string { return requestBindings(name, multiOne) }).WithTimeout(30 * time.Second).Should(HaveLen(1))
		Eventually(func() string { return targetField(name, 1, ".blocked.reason") }).WithTimeout(15 * time.Second).Should(Equal(accessv1alpha1.ReasonGrantFailed))
		Expect(phaseOf(name)()).To(Equal("Approved"), "not Active while a target is not granted")
		expectAccess("yes", multiOne)

		By("the namespace appears, and the policy refuses the binding in it for good")
		mustKubectl("create", "namespace", multiDoomed)
		Eventually(phaseOf(name)).WithTimeout(60 * time.Second).Should(Equal("Failed"))
		mustKubectl("get", "elevationrequest/"+name, "-n", ns, "-o", "yaml")

		Expect(requestBindings(name, multiOne)).To(BeEmpty(), "the first target's binding was removed")
		expectAccess("no", multiOne, multiDoomed)
		Expect(targetField(name, 0, ".revocation.reason")).To(Equal(accessv1alpha1.RevocationGrantUndo))
		Expect(targetField(name, 0, ".revocation.verifiedAt")).NotTo(BeEmpty(), "the rollback of the first target was verified")
		Expect(targetField(name, 0, ".revocation.method")).NotTo(BeEmpty())
		Expect(targetField(name, 0, ".phase")).To(Equal("Revoked"), "undone because the other failed: only the refused target is Failed")
		Expect(requestField(name, ".status.revocation.verifiedAt")).NotTo(BeEmpty())
		Expect(requestField(name, `.status.conditions[?(@.type=="RevocationVerified")].status`)).To(Equal("True"))
		Expect(requestField(name, ".status.grantedAt")).To(BeEmpty(), "the request was never granted as a whole")

		By("naming the refused target in the request's message and in the target's grant error")
		Expect(requestField(name, ".status.message")).To(ContainSubstring(multiTarget(multiDoomed)))
		Eventually(eventNotes(name, accessv1alpha1.ReasonGrantFailed)).WithTimeout(10*time.Second).
			Should(ContainSubstring(multiTarget(multiDoomed)), "the Warning Event names the target")
		Expect(targetField(name, 1, ".grant.error")).To(ContainSubstring("refuses RoleBindings"), "the target's refusal, as the API server said it")
		Expect(targetField(name, 1, ".grant.error")).To(ContainSubstring(multiTarget(multiDoomed)))
		Expect(targetField(name, 1, ".phase")).To(Equal("Failed"), "the refused target's phase")
	})
})

var _ = Describe("an operator killed between two targets' grants (multi-target)", func() {
	const name = "e2e-multi-crash"

	It("converges to Active after its restart, granting the first target once, and revokes both", func(ctx SpecContext) {
		applyMultiFixtures()
		deleteWhenDone(name)
		createMultiRequest(name, multiOne, multiLate)
		approveAs(name, approver, "abe approves for both")

		By("the second target's namespace does not exist: the first is granted, the second retried")
		Eventually(func() []string { return requestBindings(name, multiOne) }).WithTimeout(30 * time.Second).Should(HaveLen(1))
		Eventually(func() string { return targetField(name, 1, ".blocked.reason") }).WithTimeout(15 * time.Second).Should(Equal(accessv1alpha1.ReasonGrantFailed))
		Expect(phaseOf(name)()).To(Equal("Approved"))
		Expect(targetField(name, 0, ".phase")).To(Equal("Active"), "the first target's grant is recorded while the second is retried")
		grantedBeforeCrash := targetField(name, 0, ".grantedAt")
		Expect(grantedBeforeCrash).NotTo(BeEmpty())
		firstUIDs := bindingUIDs(name, multiOne)
		Expect(firstUIDs).To(HaveLen(1))

		By("killing the operator with SIGKILL, then making the namespace")
		Expect(operator.Kill()).To(Succeed())
		mustKubectl("create", "namespace", multiLate)
		Consistently(phaseOf(name)).WithTimeout(2*time.Second).Should(Equal("Approved"), "nothing moves without the operator")

		startOperator(ctx)
		Eventually(phaseOf(name)).WithTimeout(30 * time.Second).Should(Equal("Active"))
		Expect(bindingUIDs(name, multiOne)).To(Equal(firstUIDs), "the first target was granted once: its binding was kept, not made again")
		Expect(targetField(name, 0, ".grantedAt")).To(Equal(grantedBeforeCrash))
		Expect(targetField(name, 1, ".grantedAt")).NotTo(Equal(grantedBeforeCrash), "the second target was granted after the restart")
		expectExpiryFrom(name, grantedBeforeCrash)
		Expect(requestBindings(name, multiLate)).To(HaveLen(1))
		Expect(requestField(name, ".status.targets[*].phase")).To(Equal("Active Active"))
		Expect(targetField(name, 1, ".blocked")).To(BeEmpty(), "the block is cleared once the target is granted")
		expectAccess("yes", multiOne, multiLate)

		revokeAs(name, requester, "done")
		Eventually(phaseOf(name)).WithTimeout(15 * time.Second).Should(Equal("Revoked"))
		Expect(requestBindings(name, multiOne)).To(BeEmpty())
		Expect(requestBindings(name, multiLate)).To(BeEmpty())
		expectAccess("no", multiOne, multiLate)
		expectEachRevocationVerified(name, "EarlyRevoke", 2)
	}, SpecTimeout(5*time.Minute))
})

var _ = Describe("a target that keeps failing while another is granted (multi-target)", func() {
	const name = "e2e-multi-never-both"

	It("undoes the granted target once its window is over, and ends Failed naming the other", func(_ SpecContext) {
		applyMultiFixtures()
		deleteWhenDone(name)
		mustKubectl("create", "-f", multiRequestFileFor(name, 15*time.Second, multiOne, multiNever), "--as="+requester)
		Eventually(phaseOf(name)).WithTimeout(10 * time.Second).Should(Equal("Pending"))
		approveAs(name, approver, "abe approves for both")

		Eventually(func() []string { return requestBindings(name, multiOne) }).WithTimeout(30 * time.Second).Should(HaveLen(1))
		Expect(phaseOf(name)()).To(Equal("Approved"), "Active only once every target is")
		expectAccess("yes", multiOne)
		granted, err := time.Parse(time.RFC3339, targetField(name, 0, ".grantedAt"))
		Expect(err).NotTo(HaveOccurred())

		Eventually(phaseOf(name)).WithTimeout(45 * time.Second).Should(Equal("Failed"))
		Expect(requestBindings(name, multiOne)).To(BeEmpty())
		expectAccess("no", multiOne)
		Expect(requestField(name, ".status.message")).To(ContainSubstring("not every target was granted within the window"))
		Expect(targetField(name, 1, ".grant.error")).To(ContainSubstring(multiTarget(multiNever)))
		Expect(targetField(name, 0, ".phase")).To(Equal("Revoked"))
		verified, err := time.Parse(time.RFC3339, targetField(name, 0, ".revocation.verifiedAt"))
		Expect(err).NotTo(HaveOccurred())
		Expect(verified).To(BeTemporally("<=", granted.Add(15*time.Second+3*time.Second)),
			"the granted target is undone about when its window ends, not held while the other is retried")
	}, SpecTimeout(3*time.Minute))
})
