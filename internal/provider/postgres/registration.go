package postgres

import (
	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/endpoint"
)

// Kind is the field of spec.provider this provider answers to.
const Kind = "postgres"

// Registration is the postgres provider: role membership is one fact per
// subject and role, so two requests for the same subject and role share it.
func Registration() provider.Registration {
	return provider.Registration{
		Kind:              Kind,
		Configured:        func(spec accessv1alpha1.ProviderSpec) bool { return spec.Postgres != nil },
		CredentialsSecret: func(spec accessv1alpha1.ProviderSpec) string { return spec.Postgres.CredentialsSecretRef.Name },
		Endpoint: func(spec accessv1alpha1.ProviderSpec) (endpoint.Endpoint, error) {
			return endpoint.FromHost("spec.provider.postgres.host", spec.Postgres.Host)
		},
		Insecure: func(spec accessv1alpha1.ProviderSpec) []string { return insecure(spec.Postgres) },
		Shared:   true,
		New:      New,
	}
}

// insecure says what an sslMode weaker than verify-full, or verify-ca with the
// system roots, exposes; the connection can only have them with allowInsecure.
func insecure(p *accessv1alpha1.PostgresProvider) []string {
	switch {
	case p.SSLMode == "disable":
		return []string{"spec.provider.postgres.sslMode is disable (allowInsecure): the session, including the password exchange, crosses the network unencrypted"}
	case p.SSLMode == "require" && p.CABundle == "":
		return []string{"spec.provider.postgres.sslMode is require (allowInsecure): the server's certificate is not checked, so anyone on the network path can pose as the server"}
	case p.SSLMode == "require":
		return []string{"spec.provider.postgres.sslMode is require (allowInsecure): the certificate chain is checked against caBundle, the host name is not"}
	case p.SSLMode == "verify-ca" && p.CABundle == "":
		return []string{"spec.provider.postgres.sslMode is verify-ca with the system roots (allowInsecure): any certificate a public CA issued, for any name, is accepted"}
	}
	return nil
}
