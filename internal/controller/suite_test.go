package controller

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/metrics"
	"github.com/elevator-dev/elevator/internal/policy"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/kubernetes"
	"github.com/elevator-dev/elevator/internal/provider/providertest"
	"github.com/elevator-dev/elevator/internal/records"
	"github.com/elevator-dev/elevator/internal/testenv"
)

var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	scheme    = runtime.NewScheme()
)

func TestController(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(accessv1alpha1.AddToScheme(scheme))

	testEnv = testenv.Environment()
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	Expect(metrics.MissedNextLooks()).To(BeZero(), "a lifecycle step scheduled no next look (elevator_missed_next_look_total); see the operator log")
	Expect(testEnv.Stop()).To(Succeed())
})

// operator is one run of the manager; tests stop and start it to play crashes.
type operator struct{ *testenv.InProcessOperator }

// operatorOptions change how a test's operator is built.
type operatorOptions struct {
	maxDuration time.Duration
	// wrap decorates the provider clients, e.g. to crash after a grant.
	wrap func(provider.Client) provider.Client
	// activityInterval is how often the activity controller reads a source.
	activityInterval time.Duration
}

// startOperator runs the reconcilers with the kubernetes provider only.
func startOperator(opts operatorOptions) *operator {
	GinkgoHelper()
	op, err := testenv.StartInProcess(cfg, testenv.InProcessOptions{
		Scheme: scheme,
		Setup: func(mgr ctrl.Manager, tracker *metrics.Tracker) error {
			reg := providertest.Wrap(kubernetes.Registration(mgr.GetClient(), mgr.GetAPIReader()), opts.wrap)
			return Setup(mgr, Options{
				Providers: provider.NewRegistry(reg), Metrics: tracker, MaxDuration: opts.maxDuration, Records: suiteSigner(),
				GrantableClusterRoles:         policy.GrantableClusterRoles{clusterRoleName, binderRoleName},
				ActivityInterval:              opts.activityInterval,
				AllowInsecureNotificationURLs: true,
			})
		},
	})
	Expect(err).NotTo(HaveOccurred())
	return &operator{op}
}

// suiteSigner signs and verifies records with the suite's key (testKey), the
// one the operator of the suite is given.
func suiteSigner() *records.Signer {
	GinkgoHelper()
	s, err := records.NewSigner(testKey)
	Expect(err).NotTo(HaveOccurred())
	return s
}

// stop stops the manager and waits until it has.
func (o *operator) stop() {
	GinkgoHelper()
	Expect(o.Stop(30 * time.Second)).To(Succeed())
}

// lifecycleSpec is what a lifecycle spec starts from: a fresh namespace with
// the suite's ClusterRole and its "cluster" connection, and the operator the
// spec starts, stopped after it.
type lifecycleSpec struct {
	ctx context.Context
	ns  string
	op  *operator
}

// newLifecycleSpec registers, in the calling Describe, the BeforeEach that
// makes the namespace and connection and the AfterEach that stops the
// spec's operator.
func newLifecycleSpec() *lifecycleSpec {
	s := &lifecycleSpec{}
	BeforeEach(func() {
		s.ctx = context.Background()
		s.ns = createNamespace(s.ctx)
		ensureClusterRole(s.ctx)
		createConnection(s.ctx, s.ns, "1h", "1h")
	})
	AfterEach(func() {
		if s.op != nil {
			s.op.stop()
			s.op = nil
		}
	})
	return s
}
