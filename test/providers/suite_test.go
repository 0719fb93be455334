// Package providers proves that the lifecycle's guarantees hold through each
// shared-entitlement provider (SCIM, LDAP, PostgreSQL): the ElevationRequest and
// SaaSConnection reconcilers run against a real apiserver (envtest) and a real
// server per provider, and every membership is read back from that server with
// a client independent of the provider under test.
package providers

import (
	"os"
	"path/filepath"
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
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/controller"
	"github.com/elevator-dev/elevator/internal/metrics"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/endpoint"
	"github.com/elevator-dev/elevator/internal/provider/providertest"
	"github.com/elevator-dev/elevator/internal/records"
	"github.com/elevator-dev/elevator/internal/testenv"
)

const (
	eventually = 30 * time.Second
	poll       = 100 * time.Millisecond
	// activityInterval is the operators' --activity-interval: short, so that
	// a record is final soon after its source's delivery delay.
	activityInterval = time.Second
)

var (
	cfg       *rest.Config
	k8sClient client.Client
	scheme    = runtime.NewScheme()
	// operatorLog holds everything the operators of this suite logged, so that
	// the suite can prove no credential was ever written to a log.
	operatorLog = &testenv.LockedBuffer{}
	// backends are the real servers, one per provider, started once for the suite.
	backends = map[string]backend{}
)

func TestProviders(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Shared providers lifecycle suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(&teeWriter{operatorLog}), zap.UseDevMode(true)))
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(accessv1alpha1.AddToScheme(scheme))

	requireControlPlane()
	testEnv := testenv.Environment()
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "start kube-apiserver and etcd from %s", testenv.AssetsDir())
	DeferCleanup(func() { Expect(testEnv.Stop()).To(Succeed()) })
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	for _, start := range []func() backend{startLDAP, startSCIM, startPostgres} {
		b := start()
		backends[b.Name()] = b
	}
})

// requireControlPlane fails the suite, naming the make target that builds
// them, when the control-plane binaries are missing.
func requireControlPlane() {
	for _, name := range []string{"kube-apiserver", "etcd"} {
		path := filepath.Join(testenv.AssetsDir(), name)
		if _, err := os.Stat(path); err != nil {
			Fail("the test control plane is missing (" + err.Error() + "): run `make test-deps` and `make controlplane`")
		}
	}
}

// operator is one run of the manager; tests stop and start it to play crashes.
type operator struct{ *testenv.InProcessOperator }

// startOperator runs the ElevationRequest and SaaSConnection reconcilers with a
// registry of b's provider, watching namespace ns only, so that no spec's
// manager touches another spec's objects. wrap, if set, decorates every
// provider client the reconcilers build.
func startOperator(b backend, ns string, wrap func(provider.Client) provider.Client) *operator {
	GinkgoHelper()
	return startOperatorAllowing(b, ns, wrap, endpoint.Allowlist{})
}

// startOperatorAllowing is startOperator with the operator's
// --allowed-endpoint-hosts set to hosts.
func startOperatorAllowing(b backend, ns string, wrap func(provider.Client) provider.Client, hosts endpoint.Allowlist) *operator {
	GinkgoHelper()
	reg := b.Registration()
	Expect(reg.Shared).To(BeTrue(), "the %s provider holds one membership per subject and role", b.Name())
	op, err := testenv.StartInProcess(cfg, testenv.InProcessOptions{
		Scheme:    scheme,
		Namespace: ns,
		Setup: func(mgr ctrl.Manager, tracker *metrics.Tracker) error {
			return controller.Setup(mgr, controller.Options{
				Providers: provider.NewRegistry(providertest.Wrap(reg, wrap)), Metrics: tracker, HealthTimeout: 10 * time.Second,
				AllowedEndpointHosts: hosts, Records: recordSigner(), ActivityInterval: activityInterval,
			})
		},
	})
	Expect(err).NotTo(HaveOccurred())
	return &operator{op}
}

// stop stops the manager and waits until it has.
func (o *operator) stop() {
	GinkgoHelper()
	Expect(o.Stop(eventually)).To(Succeed())
}

// teeWriter writes the log to the buffer and to GinkgoWriter, which shows it
// for failed specs only.
type teeWriter struct{ buf *testenv.LockedBuffer }

func (w *teeWriter) Write(p []byte) (int, error) {
	_, _ = GinkgoWriter.Write(p)
	return w.buf.Write(p)
}

// recordKey signs the records this suite writes in the webhook's place; the
// operator it starts verifies them with the same key.
var recordKey = []byte("providers-suite-record-key-32-by")

func recordSigner() *records.Signer {
	GinkgoHelper()
	s, err := records.NewSigner(recordKey)
	Expect(err).NotTo(HaveOccurred())
	return s
}
