package alerts

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/elevator-dev/elevator/internal/localcluster"
)

// leaseName is the operator's leader-election ID (cmd/main.go), which the
// ElevatorNotLeading rule selects by.
const leaseName = "elevator.access.elevator.dev"

// startLeaderElection stands in for the operator's leader election when the
// binary cannot elect outside a cluster (it has no flag for the Lease's
// namespace, which controller-runtime otherwise reads from the in-cluster
// ServiceAccount files): a controller-runtime manager in this process elects
// itself with the operator's lease name and serves its metrics. Only its
// leader_election_* series are used (see scrapeAll), so every other metric
// must come from the operator binary.
func startLeaderElection(ctx context.Context, namespace string) {
	By("electing a stand-in leader in-process: the binary has no --leader-elect-namespace")
	addr, err := localcluster.FreeLoopbackAddr()
	Expect(err).NotTo(HaveOccurred())
	mgr, err := ctrl.NewManager(cluster.Config, ctrl.Options{
		Scheme:                  runtime.NewScheme(),
		Metrics:                 metricsserver.Options{BindAddress: addr},
		LeaderElection:          true,
		LeaderElectionID:        leaseName,
		LeaderElectionNamespace: namespace,
	})
	Expect(err).NotTo(HaveOccurred())
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	DeferCleanup(func() { cancel(); <-done })
	Eventually(mgr.Elected()).WithTimeout(30 * time.Second).Should(BeClosed())
	leaderMetricsAddr = addr
}
