// Package testenv locates what the project's tests need: the control-plane
// binaries that hack/build-controlplane.sh builds, the generated CRDs and the
// webhook manifests. Tests use it with sigs.k8s.io/controller-runtime's envtest,
// and start the operator's reconcilers in their own process with
// StartInProcess.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// KubeVersion is the version of the control plane the tests run against.
const KubeVersion = "v1.37.2"

// ModuleRoot returns the directory holding the project's go.mod.
func ModuleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		panic(fmt.Sprintf("testenv: working directory: %v", err))
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			panic("testenv: no go.mod above the working directory")
		}
		dir = parent
	}
}

// AssetsDir is the directory with kube-apiserver, etcd and kubectl: the
// KUBEBUILDER_ASSETS variable when set, else bin/k8s/<KubeVersion>.
func AssetsDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(ModuleRoot(), "bin", "k8s", KubeVersion)
}

// Kubectl is the path of the kubectl binary the tests use.
func Kubectl() string { return filepath.Join(AssetsDir(), "kubectl") }

// CRDDir is the directory of the generated CRDs.
func CRDDir() string { return filepath.Join(ModuleRoot(), "config", "crd", "bases") }

// WebhookDir is the directory of the generated webhook configurations.
func WebhookDir() string { return filepath.Join(ModuleRoot(), "config", "webhook") }

// Environment returns an envtest environment with the project's CRDs installed,
// failing when the CRDs or the control-plane binaries are missing rather than
// silently testing less. Callers may add webhook options before Start.
func Environment() *envtest.Environment {
	return &envtest.Environment{
		CRDDirectoryPaths:     []string{CRDDir()},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: AssetsDir(),
		// A test that fails should not leave an apiserver behind.
		ControlPlaneStopTimeout: 60e9,
	}
}
