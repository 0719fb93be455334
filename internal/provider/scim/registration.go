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
		MoreEndpoints: func(spec accessv1alpha1.ProviderSpec) ([]endpoint.Endpoint, error) {
			return moreEndpoints(spec.SCIM)
		},
		Insecure: func(spec accessv1alpha1.ProviderSpec) []string { return insecure(spec.SCIM) },
		Shared:   true,
		New:      New,
	}
}

// oktaLogSource is the connection's Okta System Log settings, nil when unset.
func oktaLogSource(p *accessv1alpha1.SCIMProvider) *accessv1alpha1.OktaSystemLogSource {
	if p.Activity == nil {
		return nil
	}
	return p.Activity.OktaSystemLog
}

// moreEndpoints is the Okta org the activity source reads, when set: the
// operator's allowlist must allow it as it must the SCIM URL.
func moreEndpoints(p *accessv1alpha1.SCIMProvider) ([]endpoint.Endpoint, error) {
	src := oktaLogSource(p)
	if src == nil {
		return nil, nil
	}
	ep, err := endpoint.FromURL(oktaField+".url", src.URL)
	if err != nil {
		return nil, err
	}
	return []endpoint.Endpoint{ep}, nil
}

// insecure says what a plain http URL, which the connection can only have with
// allowInsecureHTTP, exposes: the SCIM URL's, and the activity source's.
func insecure(p *accessv1alpha1.SCIMProvider) []string {
	var out []string
	if !isHTTPS(p.URL) {
		out = append(out, "spec.provider.scim.url is plain http (allowInsecureHTTP): the bearer token and every request cross the network unencrypted")
	}
	if src := oktaLogSource(p); src != nil && !isHTTPS(src.URL) {
		out = append(out, oktaField+".url is plain http (allowInsecureHTTP): the System Log API token and the subject's activity cross the network unencrypted")
	}
	return out
}

func isHTTPS(raw string) bool { return strings.HasPrefix(strings.ToLower(raw), "https://") }
