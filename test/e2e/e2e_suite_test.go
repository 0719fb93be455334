// Package e2e runs the elevator binary as a separate process against a local
// control plane, with its webhooks registered in the apiserver and the identity
// of its own ServiceAccount bound by config/rbac, exactly as `make run` does,
// and drives it only through the real kubectl binary.
package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/elevator-dev/elevator/internal/localcluster"
	"github.com/elevator-dev/elevator/internal/testenv"
)

var (
	cluster  *localcluster.Cluster
	operator *localcluster.Operator
	binary   string
	workDir  string
	// metricsAddr is where the current operator serves its metrics.
	metricsAddr string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyPollingInterval(250 * time.Millisecond)
	RunSpecs(t, "Elevator end-to-end suite")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	Expect(localcluster.RequireBinaries()).To(Succeed())
	var err error
	workDir, err = os.MkdirTemp("", "elevator-e2e-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, workDir)

	binary = filepath.Join(workDir, "elevator")
	By("building the elevator binary")
	Expect(localcluster.BuildOperator(ctx, binary)).To(Succeed())

	By("starting the local control plane with the operator's ServiceAccount")
	cluster, err = localcluster.Start(ctx, localcluster.Options{Dir: workDir})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(cluster.Stop()).To(Succeed()) })

	DeferCleanup(func() {
		if operator != nil {
			Expect(operator.Stop(15 * time.Second)).To(Succeed())
		}
	})
	startOperator(ctx)
}, NodeTimeout(10*time.Minute))

// Every spec starts with a running operator, even after one that killed it failed.
var _ = BeforeEach(func(ctx SpecContext) {
	select {
	case <-operator.Done():
		startOperator(ctx)
	default:
	}
})

// Every step of the lifecycle schedules its own next look: after each spec,
// the running operator must not have caught a step that forgot to.
var _ = AfterEach(func() {
	select {
	case <-operator.Done():
		return
	default:
	}
	Expect(scrapeMetric(metricsAddr, "elevator_missed_next_look_total")).To(BeZero(),
		"a lifecycle step scheduled no next look; see the operator log")
})

// startOperator starts the elevator binary, its log going to GinkgoWriter, and
// waits until it is ready. The suite stops the current one when it ends.
func startOperator(ctx context.Context) {
	By("starting the operator as a separate process")
	var err error
	metricsAddr, err = localcluster.FreeLoopbackAddr()
	Expect(err).NotTo(HaveOccurred())
	op, err := cluster.StartOperator(localcluster.OperatorOptions{Binary: binary, Output: GinkgoWriter, MetricsAddr: metricsAddr})
	Expect(err).NotTo(HaveOccurred())
	operator = op
	Expect(op.WaitReady(ctx, 2*time.Minute)).To(Succeed())
}

// kubectl runs the real kubectl as the cluster admin (users are played with
// --as) and returns its stdout and stderr.
func kubectl(args ...string) (string, string, error) {
	cmd := exec.Command(testenv.Kubectl(), append([]string{"--kubeconfig", cluster.AdminKubeconfig}, args...)...)
	cmd.Dir = testenv.ModuleRoot()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	GinkgoWriter.Printf("$ kubectl %s\n%s\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
	return stdout.String(), stderr.String(), err
}

// mustKubectl runs kubectl and fails the spec when it fails.
func mustKubectl(args ...string) string {
	stdout, stderr, err := kubectl(args...)
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), "kubectl %v: %s", args, stderr)
	return stdout
}

// field reads one JSONPath of an object with kubectl get.
func field(resource, namespace, jsonPath string) string {
	return mustKubectl("get", resource, "-n", namespace, "-o", "jsonpath={"+jsonPath+"}")
}

// canI asks the apiserver, with a real `kubectl auth can-i --as`, whether user
// (in groups) may do verb on resource in namespace; kubectl prints yes or no.
func canI(user, verb, resource, namespace string, groups ...string) string {
	args := []string{"auth", "can-i", verb, resource, "-n", namespace, "--as=" + user}
	for _, g := range groups {
		args = append(args, "--as-group="+g)
	}
	stdout, _, err := kubectl(args...)
	answer := strings.TrimSpace(stdout)
	if answer != "no" {
		ExpectWithOffset(1, err).NotTo(HaveOccurred())
	}
	return answer
}

// testdata is the path of a file of the suite's testdata.
func testdata(name string) string {
	return filepath.Join(testenv.ModuleRoot(), "test", "e2e", "testdata", name)
}

// scrapeMetric reads the operator's metrics endpoint and sums every series of
// the named metric (0 when it has none yet).
func scrapeMetric(addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	total := 0.0
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		fields := strings.Fields(line)
		value, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		ExpectWithOffset(1, err).NotTo(HaveOccurred(), "metric line %q", line)
		total += value
	}
	return total
}
