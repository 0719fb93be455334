package scim

import (
	"strings"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/endpoint"
)

// Kind is the field of spec.provider this provider answers to.
const Kind = "scim"

// Registration is the SCIM provider for the registry. A group membership is one
// fact per subject and group, so two requests for the same role share it.
func Registration() provider.Registration {
	return provider.Registration{
		Kind:              Kind,
		Configured:        func(spec accessv1alpha1.ProviderSpec) bool { return spec.SCIM != nil },
		CredentialsSecret: func(spec accessv1alpha1.ProviderSpec) string { return spec.SCIM.CredentialsSecretRef.Name },
		Endpoint: func(spec accessv1alpha1.ProviderSpec) (endpoint.Endpoint, error) {
			return endpoint.FromURL("spec.provider.scim.url", spec.SCIM.URL)
		},
		Insecure: func(spec accessv1alpha1.ProviderSpec) []string { return insecure(spec.SCIM) },
		Shared:   true,
		New:      New,
	}
}

// insecure says what a plain http URL, which the connection can only have with
// allowInsecureHTTP, exposes.
func insecure(p *accessv1alpha1.SCIMProvider) []string {
	if strings.HasPrefix(strings.ToLower(p.URL), "https://") {
		return nil
	}
	return []string{"spec.provider.scim.url is plain http (allowInsecureHTTP): the bearer token and every request cross the network unencrypted"}
}
