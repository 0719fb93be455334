package endpoint

import (
	"strings"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// Insecure lists the transport settings of the connection that protect its
// credentials less than the defaults do, each saying what it exposes. A
// connection gets these only with an explicit allowInsecure or
// allowInsecureHTTP; an empty list means the transport is encrypted and the
// server's certificate verified.
func Insecure(spec accessv1alpha1.ProviderSpec) []string {
	switch {
	case spec.SCIM != nil:
		return scimInsecure(spec.SCIM)
	case spec.LDAP != nil:
		return ldapInsecure(spec.LDAP)
	case spec.Postgres != nil:
		return postgresInsecure(spec.Postgres)
	}
	return nil
}

func scimInsecure(p *accessv1alpha1.SCIMProvider) []string {
	if strings.HasPrefix(strings.ToLower(p.URL), "https://") {
		return nil
	}
	return []string{"spec.provider.scim.url is plain http (allowInsecureHTTP): the bearer token and every request cross the network unencrypted"}
}

func ldapInsecure(p *accessv1alpha1.LDAPProvider) []string {
	if strings.HasPrefix(strings.ToLower(p.URL), "ldaps://") || p.StartTLS {
		return nil
	}
	return []string{"spec.provider.ldap.url is plain ldap:// without startTLS (allowInsecure): the bind password and every entry cross the network unencrypted"}
}

func postgresInsecure(p *accessv1alpha1.PostgresProvider) []string {
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
