package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/elevator-dev/elevator/internal/testenv"
)

// kustomizeBinary is $KUSTOMIZE, else the bin/kustomize-<version> that
// `make kustomize` installs for the Makefile's KUSTOMIZE_VERSION.
func kustomizeBinary() string {
	if path := os.Getenv("KUSTOMIZE"); path != "" {
		return path
	}
	makefile, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), "Makefile"))
	Expect(err).NotTo(HaveOccurred())
	m := regexp.MustCompile(`(?m)^KUSTOMIZE_VERSION \?= (\S+)$`).FindSubmatch(makefile)
	Expect(m).NotTo(BeNil(), "the Makefile sets no KUSTOMIZE_VERSION")
	path := filepath.Join(testenv.ModuleRoot(), "bin", "kustomize-"+string(m[1]))
	if _, err := os.Stat(path); err != nil {
		Fail(fmt.Sprintf("%s is missing (%v): run `make kustomize` to install it", path, err))
	}
	return path
}

var _ = Describe("the shipped manifests", func() {
	It("config/default builds and the apiserver accepts it (server-side dry run)", func() {
		By("installing stand-ins for cert-manager's CRDs, which the overlay uses")
		mustKubectl("apply", "-f", testdata("cert-manager-crds.yaml"))
		mustKubectl("wait", "--for=condition=Established", "--timeout=30s",
			"crd/certificates.cert-manager.io", "crd/issuers.cert-manager.io")

		build := exec.Command(kustomizeBinary(), "build", filepath.Join(testenv.ModuleRoot(), "config", "default"))
		manifests, err := build.Output()
		Expect(err).NotTo(HaveOccurred(), "kustomize build config/default: %v", exitStderr(err))
		path := filepath.Join(workDir, "install.yaml")
		Expect(os.WriteFile(path, manifests, 0o600)).To(Succeed())

		out := mustKubectl("apply", "--dry-run=server", "-f", path)
		for _, obj := range []string{
			"deployment.apps/elevator-controller-manager",
			"serviceaccount/elevator-controller-manager",
			"clusterrole.rbac.authorization.k8s.io/elevator-manager-role",
			"validatingwebhookconfiguration.admissionregistration.k8s.io/elevator-validating-webhook-configuration",
			"mutatingwebhookconfiguration.admissionregistration.k8s.io/elevator-mutating-webhook-configuration",
			"certificate.cert-manager.io/elevator-serving-cert",
			"issuer.cert-manager.io/elevator-selfsigned-issuer",
			"customresourcedefinition.apiextensions.k8s.io/elevationrequests.access.elevator.dev",
		} {
			Expect(out).To(MatchRegexp(`(?m)^%s (created|configured|unchanged) \(server dry run\)$`, regexp.QuoteMeta(obj)))
		}
	})

	It("config/samples applies, and its requester and approver may do what the walk-through shows", func() {
		mustKubectl("apply", "-k", filepath.Join(testenv.ModuleRoot(), "config", "samples"))
		mustKubectl("wait", "--for=condition=Ready", "--timeout=60s", "-n", "payments", "saasconnection/prod-cluster")

		request := filepath.Join(testenv.ModuleRoot(), "config", "samples", "elevationrequest.yaml")
		Expect(mustKubectl("create", "--dry-run=server", "-f", request, "--as=alice")).
			To(ContainSubstring("elevationrequest.access.elevator.dev/inc-4711-alice created (server dry run)"))
		Expect(canI("bob", "approve", "saasconnections/prod-cluster", "payments", "payments-approvers")).To(Equal("yes"))
		Expect(canI("alice", "approve", "saasconnections/prod-cluster", "payments")).To(Equal("no"))
	})
})

func exitStderr(err error) string {
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
