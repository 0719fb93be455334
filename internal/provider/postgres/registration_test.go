package postgres

import (
	"strings"
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestRegistrationReadsThePostgresField(t *testing.T) {
	reg := Registration()
	spec := accessv1alpha1.ProviderSpec{Postgres: &accessv1alpha1.PostgresProvider{
		Host: "DB.Example.net", CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "pg"},
	}}
	if !reg.Configured(spec) {
		t.Error("Configured is false for a connection with spec.provider.postgres")
	}
	for name, other := range map[string]accessv1alpha1.ProviderSpec{
		"ldap": {LDAP: &accessv1alpha1.LDAPProvider{}}, "kubernetes": {Kubernetes: &accessv1alpha1.KubernetesProvider{}}, "none": {},
	} {
		if reg.Configured(other) {
			t.Errorf("Configured is true for a %s connection", name)
		}
	}
	if got := reg.CredentialsSecret(spec); got != "pg" {
		t.Errorf("CredentialsSecret = %q, want pg", got)
	}
	ep, err := reg.Endpoint(spec)
	if err != nil || ep.Field != "spec.provider.postgres.host" || ep.Host != "db.example.net" {
		t.Errorf("Endpoint = %+v, %v; want db.example.net from spec.provider.postgres.host", ep, err)
	}
}

func TestInsecureSaysWhatEachSSLModeExposes(t *testing.T) {
	for name, tc := range map[string]struct {
		p    accessv1alpha1.PostgresProvider
		want string
	}{
		"verify-full":     {accessv1alpha1.PostgresProvider{SSLMode: "verify-full"}, ""},
		"verify-ca + CA":  {accessv1alpha1.PostgresProvider{SSLMode: "verify-ca", CABundle: "pem"}, ""},
		"verify-ca roots": {accessv1alpha1.PostgresProvider{SSLMode: "verify-ca"}, "system roots"},
		"require":         {accessv1alpha1.PostgresProvider{SSLMode: "require"}, "not checked"},
		"require + CA":    {accessv1alpha1.PostgresProvider{SSLMode: "require", CABundle: "pem"}, "host name is not"},
		"disable":         {accessv1alpha1.PostgresProvider{SSLMode: "disable"}, "unencrypted"},
	} {
		got := strings.Join(Registration().Insecure(accessv1alpha1.ProviderSpec{Postgres: &tc.p}), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: Insecure = %q, want %q", name, got, tc.want)
		}
	}
}
