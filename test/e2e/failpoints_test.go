package e2e

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/failpoint"
	"github.com/elevator-dev/elevator/internal/localcluster"
	"github.com/elevator-dev/elevator/internal/provider/ldap/slapdtest"
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
		held = failpointBinary(ctx)
	}, NodeTimeout(5*time.Minute))

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
		killAt(ctx, held, failpoint.AfterGrant, func() {
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
		killAt(ctx, held, failpoint.AfterRevoke, func() { revoke(name) })
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
		killAt(ctx, held, failpoint.BeforeFinalizerRemoval, func() {
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

// The fourth point needs a shared entitlement, whose intent to grant is
// stored before the provider is called: a real slapd, started for these
// specs, behind an LDAP connection.
var _ = Describe("an operator killed with SIGKILL between a stored intent and the grant", Ordered, func() {
	const conn = "e2e-directory"
	var (
		held, group, subjectDN string
		srv                    *slapdtest.Server
	)

	BeforeAll(func(ctx SpecContext) {
		applyFixtures()
		held = failpointBinary(ctx)
		dir := filepath.Join(workDir, "slapd")
		Expect(os.MkdirAll(dir, 0o700)).To(Succeed())
		var err error
		srv, err = slapdtest.New(dir, slapdtest.Options{TLS: true})
		Expect(err).NotTo(HaveOccurred(), "start slapd (run `make test-deps` if it is missing)")
		DeferCleanup(srv.Stop)
		subjectDN = srv.AddPerson(GinkgoTB(), requester)
		// A groupOfNames has at least one member: bob, who must stay.
		group = srv.AddGroup(GinkgoTB(), slapdtest.GroupsDN, "e2e-elevated", "uid=bob,"+slapdtest.PeopleDN)
		applyJSON(directoryObjects(srv, conn, group))
		mustKubectl("wait", "--for=condition=Ready", "--timeout=60s", "-n", ns, "saasconnection/"+conn)
	}, NodeTimeout(5*time.Minute))

	isMember := func() bool { return slices.Contains(srv.Members(GinkgoTB(), group), subjectDN) }

	It("holds the intent: the restart grants the membership it stored, and ends it verified", func(ctx SpecContext) {
		const name = "e2e-kill-after-intent"
		killAt(ctx, held, failpoint.AfterGrantIntent, func() {
			mustKubectl("apply", "-f", requestFileFor(name, conn, "elevated", 5*time.Minute), "--as="+requester)
			mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+approver, "elevator.dev/approve=e2e approval")
		})

		Expect(field("elevationrequest/"+name, ns, ".status.grant.preexisting")).To(BeEmpty(), "the stored intent: not standing access")
		Expect(field("elevationrequest/"+name, ns, ".status.grant.startedAt")).NotTo(BeEmpty(), "the intent was stored")
		Expect(isMember()).To(BeFalse(), "the provider was never called")

		startOperator(ctx)
		Eventually(phaseOf(name)).WithTimeout(30 * time.Second).Should(Equal("Active"))
		Expect(isMember()).To(BeTrue())
		mustKubectl("annotate", "elevationrequest/"+name, "-n", ns, "--as="+requester, "elevator.dev/revoke=done")
		Eventually(phaseOf(name)).WithTimeout(30 * time.Second).Should(Equal("Revoked"))
		Expect(isMember()).To(BeFalse())
		Expect(field("elevationrequest/"+name, ns, ".status.revocation.verifiedAt")).NotTo(BeEmpty())
	}, SpecTimeout(5*time.Minute))
})

var buildFailpoints sync.Once

// failpointBinary is the operator built with the failpoints tag, built once
// for the suite.
func failpointBinary(ctx SpecContext) string {
	GinkgoHelper()
	path := filepath.Join(workDir, "elevator-failpoints")
	buildFailpoints.Do(func() {
		By("building the operator with the failpoints tag")
		Expect(localcluster.BuildOperatorWithTags(ctx, path, "failpoints")).To(Succeed())
	})
	Expect(path).To(BeAnExistingFile(), "the failpoints build failed in an earlier spec")
	return path
}

// killAt replaces the running operator with binary, built with the
// failpoints tag, told to hold at point; does act; and kills the operator with
// SIGKILL once it holds there.
func killAt(ctx SpecContext, binary, point string, act func()) {
	GinkgoHelper()
	Expect(operator.Stop(15 * time.Second)).To(Succeed())
	out := &testenv.LockedBuffer{}
	var err error
	metricsAddr, err = localcluster.FreeLoopbackAddr()
	Expect(err).NotTo(HaveOccurred())
	operator, err = cluster.StartOperator(localcluster.OperatorOptions{
		Binary: binary, Output: io.MultiWriter(out, GinkgoWriter), MetricsAddr: metricsAddr,
		Env: []string{failpoint.Env + "=" + point},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(operator.WaitReady(ctx, 2*time.Minute)).To(Succeed())
	act()
	Eventually(out.String).WithTimeout(30*time.Second).Should(ContainSubstring(failpoint.Marker(point)), "the operator reached %s", point)
	By("SIGKILL at " + point)
	Expect(operator.Kill()).To(Succeed())
	Eventually(operator.Done()).WithTimeout(10 * time.Second).Should(BeClosed())
}

// directoryObjects are the Secret, the LDAP SaaSConnection to srv with one
// role (membership of group) and the RBAC that lets abe approve for it.
func directoryObjects(srv *slapdtest.Server, conn, group string) []any {
	meta := func(name string) map[string]any { return map[string]any{"name": name, "namespace": ns} }
	return []any{
		map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": withLabel(meta(conn+"-credentials"), accessv1alpha1.LabelCredentials, "true"),
			"stringData": map[string]any{"password": srv.ServicePassword}},
		map[string]any{"apiVersion": "access.elevator.dev/v1alpha1", "kind": "SaaSConnection", "metadata": meta(conn),
			"spec": map[string]any{
				"provider": map[string]any{"ldap": map[string]any{
					"url": srv.URL, "startTLS": true, "caBundle": srv.CAPEM, "bindDN": slapdtest.ServiceDN,
					"credentialsSecretRef": map[string]any{"name": conn + "-credentials"}, "userBaseDN": slapdtest.PeopleDN,
				}},
				"maxDuration": "1h",
				"roles":       []any{map[string]any{"name": "elevated", "requiredApprovals": 1, "ldap": map[string]any{"groupDN": group}}},
			}},
		map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(conn + "-approver"),
			"rules": []any{map[string]any{"apiGroups": []any{"access.elevator.dev"}, "resources": []any{"saasconnections"},
				"resourceNames": []any{conn}, "verbs": []any{"approve"}}}},
		map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(conn + "-approvers"),
			"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": conn + "-approver"},
			"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": approver}}},
	}
}

func withLabel(meta map[string]any, key, value string) map[string]any {
	meta["labels"] = map[string]any{key: value}
	return meta
}

// applyJSON applies objects with kubectl, as the admin.
func applyJSON(objects []any) {
	GinkgoHelper()
	data, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": objects})
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(workDir, "objects-"+strconv.Itoa(len(data))+".json")
	Expect(os.WriteFile(path, data, 0o600)).To(Succeed())
	mustKubectl("apply", "-f", path)
}
