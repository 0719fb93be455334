package ldap

import (
	"strings"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/endpoint"
)

// Kind is the field of spec.provider this provider answers to.
const Kind = "ldap"

// Registration is the ldap provider. A membership is one fact per subject and
// group, so two requests for the same subject and role share it.
func Registration() provider.Registration {
	return provider.Registration{
		Kind:              Kind,
		Configured:        func(spec accessv1alpha1.ProviderSpec) bool { return spec.LDAP != nil },
		CredentialsSecret: func(spec accessv1alpha1.ProviderSpec) string { return spec.LDAP.CredentialsSecretRef.Name },
		Endpoint: func(spec accessv1alpha1.ProviderSpec) (endpoint.Endpoint, error) {
			return endpoint.FromURL("spec.provider.ldap.url", spec.LDAP.URL)
		},
		Insecure: func(spec accessv1alpha1.ProviderSpec) []string { return insecure(spec.LDAP) },
		Shared:   true,
		New:      New,
	}
}

// insecure says what a plain ldap:// URL without startTLS, which the
// connection can only have with allowInsecure, exposes.
func insecure(p *accessv1alpha1.LDAPProvider) []string {
	if strings.HasPrefix(strings.ToLower(p.URL), "ldaps://") || p.StartTLS {
		return nil
	}
	return []string{"spec.provider.ldap.url is plain ldap:// without startTLS (allowInsecure): the bind password and every entry cross the network unencrypted"}
}
