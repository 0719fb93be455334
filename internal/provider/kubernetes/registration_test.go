package kubernetes

import (
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// The kubernetes provider talks to the cluster the operator runs in, as the
// operator: no Secret, no endpoint for --allowed-endpoint-hosts, no transport
// settings, and one object per request.
func TestRegistrationReadsTheKubernetesField(t *testing.T) {
	reg := Registration(nil, nil)
	if reg.Kind != Kind || reg.Shared || reg.New == nil {
		t.Errorf("registration = {Kind %q, Shared %v, New set %v}, want {kubernetes, false, true}", reg.Kind, reg.Shared, reg.New != nil)
	}
	if !reg.Configured(accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}}) {
		t.Error("Configured is false for a connection with spec.provider.kubernetes")
	}
	if reg.Configured(accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{}}) || reg.Configured(accessv1alpha1.ProviderSpec{}) {
		t.Error("Configured is true for a connection without spec.provider.kubernetes")
	}
	if reg.CredentialsSecret != nil || reg.Endpoint != nil || reg.Insecure != nil {
		t.Error("the kubernetes provider reads no Secret and has no endpoint or transport of its own")
	}
}
