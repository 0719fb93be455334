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
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

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
type operator struct {
	cancel  context.CancelFunc
	done    chan struct{}
	tracker *metrics.Tracker
}

// operatorOptions change how a test's operator is built.
type operatorOptions struct {
	maxDuration time.Duration
	// wrap decorates the provider clients, e.g. to crash after a grant.
	wrap func(provider.Client) provider.Client
}

func startOperator(opts operatorOptions) *operator {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:     scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	reg := providertest.Wrap(kubernetes.Registration(mgr.GetClient(), mgr.GetAPIReader()), opts.wrap)
	op := &operator{done: make(chan struct{}), tracker: metrics.NewTracker()}
	Expect(Setup(mgr, Options{
		Providers: provider.NewRegistry(reg), Metrics: op.tracker, MaxDuration: opts.maxDuration, Records: suiteSigner(),
		GrantableClusterRoles: policy.GrantableClusterRoles{clusterRoleName, binderRoleName},
	})).To(Succeed())

	ctx, cancel := context.WithCancel(context.Background())
	op.cancel = cancel
	go func() {
		defer GinkgoRecover()
		defer close(op.done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	return op
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
	o.cancel()
	Eventually(o.done, 30*time.Second).Should(BeClosed())
}
