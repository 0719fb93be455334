package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/elevator-dev/elevator/internal/testenv"
)

// The kubectl elevate plugin, built from ./cmd/kubectl-elevate, found by the
// real kubectl on the PATH and run as `kubectl elevate`, with users played by
// --as, against the running operator with its webhooks on.

const (
	pluginNS = "e2e-plugin" // where the plugin connection's roles give access
	reader   = "ivy"        // may read requests in ns, approves nothing
)

// pluginDir holds the built plugin; kubectl finds it there on the PATH.
var pluginDir string

// buildPlugin builds the plugin once, as the suite builds the operator.
func buildPlugin(ctx context.Context) {
	if pluginDir != "" {
		return
	}
	dir := filepath.Join(workDir, "plugin-bin")
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, "kubectl-elevate"), "./cmd/kubectl-elevate")
	cmd.Dir = testenv.ModuleRoot()
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "go build ./cmd/kubectl-elevate: %s", out)
	pluginDir = dir
}

// elevateCmd is `kubectl elevate ARGS` as user in the namespace e2e.
func elevateCmd(user string, args ...string) *exec.Cmd {
	full := append([]string{"elevate"}, args...)
	full = append(full, "--kubeconfig", cluster.AdminKubeconfig, "-n", ns)
	if user != "" {
		full = append(full, "--as="+user)
	}
	cmd := exec.Command(testenv.Kubectl(), full...)
	cmd.Env = append(os.Environ(), "PATH="+pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return cmd
}

// elevate runs `kubectl elevate ARGS` as user and returns stdout and stderr.
func elevate(user string, args ...string) (string, string, error) {
	cmd := elevateCmd(user, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	GinkgoWriter.Printf("$ kubectl elevate %s (as %s)\n%s\n%s", strings.Join(args, " "), user, stdout.String(), stderr.String())
	return stdout.String(), stderr.String(), err
}

// mustElevate runs kubectl elevate and fails the spec when it fails.
func mustElevate(user string, args ...string) string {
	stdout, stderr, err := elevate(user, args...)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "kubectl elevate %v: %s", args, stderr)
	return stdout
}

var createdLine = regexp.MustCompile(`elevationrequest ` + ns + `/(\S+) created`)

// createdName is the name request or extend printed for the new request.
func createdName(stdout string) string {
	m := createdLine.FindStringSubmatch(stdout)
	ExpectWithOffset(1, m).To(HaveLen(2), "no created request in %q", stdout)
	return m[1]
}

// listed reports whether the output of ls has a row for name.
func listed(out, name string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, name+" ") {
			return true
		}
	}
	return false
}

func applyPluginFixtures(ctx SpecContext) {
	applyFixtures()
	mustKubectl("apply", "-f", testdata("plugin.yaml"))
	mustKubectl("wait", "--for=condition=Ready", "--timeout=60s", "-n", ns, "saasconnection/e2e-plugin")
	buildPlugin(ctx)
}

var _ = Describe("the kubectl elevate plugin", func() {
	BeforeEach(applyPluginFixtures)

	It("requests a role that needs no approval for the caller and waits until it is Active", func() {
		out := mustElevate(requester, "request", "e2e-plugin/viewer", "--for", "2m", "--reason", "e2e: look at the pods", "--wait", "--timeout", "30s")
		name := createdName(out)
		Expect(name).To(HavePrefix("viewer-"))
		Expect(field("elevationrequest/"+name, ns, ".spec.subject")).To(Equal(requester), "the subject defaults to the caller (SelfSubjectReview)")
		Expect(phaseOf(name)()).To(Equal("Active"))
		Expect(out).To(ContainSubstring(name + " is Active: expiresAt " + toTheSecond(field("elevationrequest/"+name, ns, ".status.expiresAt"))))
		Expect(canI(requester, "list", "pods", pluginNS)).To(Equal("yes"))

		mustElevate(requester, "revoke", name, "--reason", "seen enough")
		Eventually(phaseOf(name)).WithTimeout(15 * time.Second).Should(Equal("Revoked"))
		Expect(canI(requester, "list", "pods", pluginNS)).To(Equal("no"))
	})

	It("takes a request through approval, status, early revocation and its verification", func() {
		name := createdName(mustElevate(requester, "request", "e2e-plugin/ns-admin", "--for", "5m", "--reason", "e2e: plugin lifecycle", "--ticket", "PLUG-1"))
		Eventually(phaseOf(name)).WithTimeout(10 * time.Second).Should(Equal("Pending"))

		Expect(mustElevate(approver, "status", name)).To(ContainSubstring("Approvals:     0 of 1; an approver runs: kubectl elevate approve " + name + " -n " + ns + "\n"))

		By("listing it for the approver, and not for the requester")
		Expect(listed(mustElevate(approver, "ls", "--to-approve"), name)).To(BeTrue())
		Expect(listed(mustElevate(requester, "ls", "--to-approve"), name)).To(BeFalse())
		Expect(listed(mustElevate(reader, "ls"), name)).To(BeTrue())
		Expect(listed(mustElevate(reader, "ls", "--to-approve"), name)).To(BeFalse(), "ivy holds no approve verb on the connection")
		_, stderr, err := elevate(reader, "approve", name)
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring(`refused by the elevator admission webhook: elevator.dev/approve: user "ivy" is not an approver`))
		mine := mustElevate(requester, "ls", "--mine")
		Expect(mine).To(MatchRegexp(`(?m)^%s\s+Pending\s+%s\s+e2e-plugin/ns-admin\s+-\s+\S+$`, name, requester))
		Expect(mustElevate("", "ls", "-A")).To(MatchRegexp(`(?m)^%s\s+%s\s+Pending\s`, ns, name))

		By("refusing the requester's own approval with the webhook's words")
		_, stderr, err = elevate(requester, "approve", name, "--comment", "self")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("refused by the elevator admission webhook: elevator.dev/approve: user \"erin\" is the subject of this request (spec.subject) and cannot approve it: self-approval is not allowed"))

		By("approving as the approver")
		mustElevate(approver, "approve", name, "--comment", "plugin e2e")
		Eventually(phaseOf(name)).WithTimeout(15 * time.Second).Should(Equal("Active"))
		Expect(listed(mustElevate(approver, "ls", "--to-approve"), name)).To(BeFalse(), "an Active request awaits no approval")
		Expect(canI(requester, verb, resource, pluginNS)).To(Equal("yes"))
		status := mustElevate(requester, "status", name)
		Expect(status).To(MatchRegexp(`\n  \S+Z  approved by abe: "plugin e2e"\n`))
		expiresAt := toTheSecond(field("elevationrequest/"+name, ns, ".status.expiresAt"))
		Expect(status).To(MatchRegexp(`\nExpires at:\s+%s \(\S+ left\)\n`, regexp.QuoteMeta(expiresAt)))
		Expect(status).To(ContainSubstring("Ticket:        PLUG-1\n"))

		By("revoking early as the requester and reading how the removal was verified")
		Expect(mustElevate(requester, "revoke", name, "--reason", "done")).To(ContainSubstring("elevationrequest " + ns + "/" + name + " asked to revoke"))
		Eventually(phaseOf(name)).WithTimeout(15 * time.Second).Should(Equal("Revoked"))
		Expect(canI(requester, verb, resource, pluginNS)).To(Equal("no"))
		status = mustElevate(approver, "status", name)
		Expect(status).To(ContainSubstring(`revoked early by erin: "done"; revocation started`))
		Expect(status).To(ContainSubstring("Verified at:  " + field("elevationrequest/"+name, ns, ".status.revocation.verifiedAt") + "\n"))
		Expect(status).To(ContainSubstring("Method:       " + field("elevationrequest/"+name, ns, ".status.revocation.method") + "\n"))
		Expect(status).To(ContainSubstring("Detail:       " + field("elevationrequest/"+name, ns, ".status.revocation.detail") + "\n"))

		var obj struct {
			Kind   string `json:"kind"`
			Status struct {
				Phase     string `json:"phase"`
				Approvals []struct {
					User string `json:"user"`
				} `json:"approvals"`
			} `json:"status"`
		}
		Expect(json.Unmarshal([]byte(mustElevate(requester, "status", name, "-o", "json")), &obj)).To(Succeed())
		Expect(obj.Kind).To(Equal("ElevationRequest"))
		Expect(obj.Status.Phase).To(Equal("Revoked"))
		Expect(obj.Status.Approvals).To(HaveLen(1))
		Expect(obj.Status.Approvals[0].User).To(Equal(approver))
		Expect(mustElevate(requester, "status", name, "-o", "yaml")).To(ContainSubstring("phase: Revoked\n"))
	})

	It("ends a --wait in failure with the approver's reason when the request is denied", func(_ SpecContext) {
		const name = "plugin-deny"
		waiting := elevateCmd(requester, "request", "e2e-plugin/ns-admin", "--name", name, "--for", "5m", "--reason", "e2e: to be denied", "--wait", "--timeout", "60s")
		var stdout, stderr bytes.Buffer
		waiting.Stdout, waiting.Stderr = &stdout, &stderr
		Expect(waiting.Start()).To(Succeed())
		DeferCleanup(func() {
			if waiting.ProcessState == nil {
				_ = waiting.Process.Kill()
			}
		})
		// The plugin creates the request after it started: until then, no phase.
		Eventually(func() string {
			stdout, _, _ := kubectl("get", "elevationrequest/"+name, "-n", ns, "-o", "jsonpath={.status.phase}")
			return stdout
		}).WithTimeout(15 * time.Second).Should(Equal("Pending"))

		_, denyErr, err := elevate(approver, "deny", name)
		Expect(err).To(HaveOccurred())
		Expect(denyErr).To(ContainSubstring("--reason: required"))
		mustElevate(approver, "deny", name, "--reason", "not during the freeze")

		err = waiting.Wait()
		GinkgoWriter.Printf("request --wait:\n%s\n%s", stdout.String(), stderr.String())
		Expect(err).To(HaveOccurred(), "--wait exits non-zero on a denial")
		Expect(stdout.String()).To(ContainSubstring("waiting up to 1m0s for " + name + " to become Active"))
		Expect(stderr.String()).To(ContainSubstring("error: " + name + " was denied by abe: not during the freeze"))
		Expect(phaseOf(name)()).To(Equal("Denied"))

		_, stderr2, err := elevate(approver, "approve", name)
		Expect(err).To(HaveOccurred())
		Expect(stderr2).To(ContainSubstring("refused by the elevator admission webhook"))
		Expect(stderr2).To(ContainSubstring("the request is already Denied"))
	}, SpecTimeout(2*time.Minute))

	It("ends a --wait at its --timeout saying what the request still needs, and leaves the request", func(_ SpecContext) {
		const name = "plugin-timeout"
		started := time.Now()
		_, stderr, err := elevate(requester, "request", "e2e-plugin/ns-admin", "--name", name, "--for", "5m", "--reason", "e2e: nobody approves", "--wait", "--timeout", "3s")
		Expect(err).To(HaveOccurred())
		Expect(time.Since(started)).To(BeNumerically(">=", 3*time.Second))
		Expect(stderr).To(ContainSubstring("error: --timeout: 3s passed and " + name + " is still Pending: 0 of 1 approvals; an approver runs: kubectl elevate approve " + name + " -n " + ns))
		Expect(phaseOf(name)()).To(Equal("Pending"))

		mustElevate(requester, "revoke", name, "--reason", "withdrawn")
		Eventually(phaseOf(name)).WithTimeout(15 * time.Second).Should(Equal("Revoked"))
		Expect(field("elevationrequest/"+name, ns, ".status.grantedAt")).To(BeEmpty())
	}, SpecTimeout(time.Minute))

	It("extends a request with a follow-on that keeps the access when the original expires", func(_ SpecContext) {
		const orig = "plugin-orig"
		mustElevate(requester, "request", "e2e-plugin/ns-admin", "--name", orig, "--for", "20s", "--reason", "e2e: to be extended", "--ticket", "PLUG-2")
		mustElevate(approver, "approve", orig)
		Eventually(phaseOf(orig)).WithTimeout(15 * time.Second).Should(Equal("Active"))

		out := mustElevate(requester, "extend", orig, "--for", "2m", "--reason", "e2e: needs longer")
		next := createdName(out)
		Expect(out).To(ContainSubstring("extends " + orig))
		Expect(field("elevationrequest/"+next, ns, `.metadata.annotations.elevator\.dev/extends`)).To(Equal(orig))
		Expect(field("elevationrequest/"+next, ns, ".spec.subject")).To(Equal(requester))
		Expect(field("elevationrequest/"+next, ns, ".spec.connection")).To(Equal("e2e-plugin"))
		Expect(field("elevationrequest/"+next, ns, ".spec.role")).To(Equal("ns-admin"))
		Expect(field("elevationrequest/"+next, ns, ".spec.duration")).To(Equal("2m"))
		Expect(field("elevationrequest/"+next, ns, ".spec.ticket")).To(Equal("PLUG-2"))
		Expect(mustElevate(requester, "status", next)).To(ContainSubstring("Extends:       " + orig + "\n"))

		mustElevate(approver, "approve", next, "--comment", "extension ok")
		Eventually(phaseOf(next)).WithTimeout(15 * time.Second).Should(Equal("Active"))

		By("the original expires; the follow-on's grant keeps the access")
		Eventually(phaseOf(orig)).WithTimeout(45 * time.Second).Should(Equal("Revoked"))
		Expect(field("elevationrequest/"+orig, ns, ".status.revocation.reason")).To(Equal("Expired"))
		Expect(canI(requester, verb, resource, pluginNS)).To(Equal("yes"))
		Expect(phaseOf(next)()).To(Equal("Active"))
		By("the original's verification names the follow-on's binding as the access the subject still holds")
		Expect(field("elevationrequest/"+orig, ns, `.status.conditions[?(@.type=="RevocationVerified")].status`)).To(Equal("True"))
		Expect(field("elevationrequest/"+orig, ns, ".status.residualAccess[*].name")).To(ContainSubstring("made by Elevator for request " + ns + "/" + next))
		Expect(mustElevate(requester, "status", orig)).To(ContainSubstring("made by Elevator for request " + ns + "/" + next))

		mustElevate(requester, "revoke", next, "--reason", "done")
		Eventually(phaseOf(next)).WithTimeout(15 * time.Second).Should(Equal("Revoked"))
		Expect(canI(requester, verb, resource, pluginNS)).To(Equal("no"))

		_, stderr, err := elevate(requester, "extend", orig, "--for", "1m", "--reason", "again")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring("it is Revoked, so there is no access left to keep"))
	}, SpecTimeout(3*time.Minute))
})

// toTheSecond is a stored time (status.expiresAt is stored to the
// millisecond) as the plugin prints it: RFC 3339, to the second.
func toTheSecond(stored string) string {
	GinkgoHelper()
	at, err := time.Parse(time.RFC3339, stored)
	Expect(err).NotTo(HaveOccurred(), "stored time %q", stored)
	return at.UTC().Truncate(time.Second).Format(time.RFC3339)
}
