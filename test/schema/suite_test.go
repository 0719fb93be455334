// Package schema tests the CRD schemas of api/v1alpha1 against a real
// kube-apiserver: every validation rule rejects an object that breaks it with
// its message and accepts one that keeps it, and the real kubectl prints the
// resources with their columns, short names and category.
package schema

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/elevator-dev/elevator/internal/testenv"
)

var (
	testEnv   *envtest.Environment
	k8sClient client.Client
	// namespace holds the objects of the rule tables; each object has a generated name.
	namespace string
)

func TestSchema(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "CRD schema suite")
}

var _ = BeforeSuite(func() {
	requireControlPlane()
	testEnv = testenv.Environment()
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "starting kube-apiserver and etcd from %s", testenv.AssetsDir())
	DeferCleanup(func() { Expect(testEnv.Stop()).To(Succeed()) })

	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.Scheme})
	Expect(err).NotTo(HaveOccurred())
	namespace = createNamespace(context.Background())
})

// requireControlPlane fails the suite, naming the make target that builds
// them, when the control-plane binaries are missing.
func requireControlPlane() {
	for _, name := range []string{"kube-apiserver", "etcd", "kubectl"} {
		path := filepath.Join(testenv.AssetsDir(), name)
		if _, err := os.Stat(path); err != nil {
			Fail(fmt.Sprintf("%s is missing (%v): run `make controlplane` (a step of `make test`) to build the test control plane", path, err))
		}
	}
}

// createNamespace creates a namespace with a generated name and returns it.
func createNamespace(ctx context.Context) string {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "schema-"}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Name
}
