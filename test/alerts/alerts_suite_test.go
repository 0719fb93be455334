// Package alerts checks config/prometheus against the operator: it runs the
// elevator binary on a local control plane (as `make run` and the e2e suite
// do), drives a lifecycle that makes its metrics appear, scrapes its metrics
// endpoint into an in-memory store, and evaluates every alert expression and
// dashboard query with the Prometheus PromQL engine. A parse error, or a
// metric or label the operator does not serve, fails the suite: a renamed
// metric cannot leave an alert silently watching nothing.
package alerts

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/elevator-dev/elevator/internal/localcluster"
	"github.com/elevator-dev/elevator/internal/testenv"
)

var (
	cluster     *localcluster.Cluster
	operator    *localcluster.Operator
	workDir     string
	metricsAddr string
	// leaderMetricsAddr, when set, is a second target serving controller-runtime's
	// leader-election metrics (see startLeaderElection).
	leaderMetricsAddr string
)

func TestAlerts(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyPollingInterval(250 * time.Millisecond)
	RunSpecs(t, "Elevator alerts suite")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	Expect(localcluster.RequireBinaries()).To(Succeed())
	var err error
	workDir, err = os.MkdirTemp("", "elevator-alerts-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, workDir)

	binary := filepath.Join(workDir, "elevator")
	By("building the elevator binary")
	Expect(localcluster.BuildOperator(ctx, binary)).To(Succeed())

	By("starting the local control plane with the operator's ServiceAccount")
	cluster, err = localcluster.Start(ctx, localcluster.Options{Dir: workDir})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(cluster.Stop()).To(Succeed()) })

	metricsAddr, err = localcluster.FreeLoopbackAddr()
	Expect(err).NotTo(HaveOccurred())
	args := []string{"--allow-insecure-notification-urls"}
	leaseNamespace, _, _ := strings.Cut(cluster.ServiceAccount, "/")
	if hasFlag(ctx, binary, "leader-elect-namespace") {
		// The shipped Deployment elects a leader; so does this operator, with
		// its Lease where config/rbac lets it write one.
		args = append(args, "--leader-elect=true", "--leader-elect-namespace="+leaseNamespace)
	} else {
		startLeaderElection(ctx, leaseNamespace)
	}
	By("starting the operator as a separate process")
	operator, err = cluster.StartOperator(localcluster.OperatorOptions{Binary: binary, Output: GinkgoWriter, MetricsAddr: metricsAddr, Args: args})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(operator.Stop(15 * time.Second)).To(Succeed()) })
	Expect(operator.WaitReady(ctx, 2*time.Minute)).To(Succeed())
}, NodeTimeout(10*time.Minute))

// hasFlag reports whether the binary's -help lists the flag.
func hasFlag(ctx context.Context, binary, name string) bool {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, "-help")
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // -help exits 0 or 2 depending on the flag package; the text is what counts
	return strings.Contains(out.String(), "-"+name+" ")
}

// kubectl runs the real kubectl as the cluster admin (users are played with
// --as) and fails the spec when it fails.
func kubectl(args ...string) string {
	cmd := exec.Command(testenv.Kubectl(), append([]string{"--kubeconfig", cluster.AdminKubeconfig}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	GinkgoWriter.Printf("$ kubectl %s\n%s\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "kubectl %v: %s", args, stderr.String())
	return stdout.String()
}

// kubectlApply applies YAML given as a string.
func kubectlApply(yaml string, as ...string) string {
	path := filepath.Join(workDir, "apply.yaml")
	ExpectWithOffset(1, os.WriteFile(path, []byte(yaml), 0o600)).To(Succeed())
	args := []string{"apply", "-f", path}
	for _, user := range as {
		args = append(args, "--as="+user)
	}
	return kubectl(args...)
}
