package scim

import (
	"strings"
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestRegistrationReadsTheSCIMField(t *testing.T) {
	reg := Registration()
	spec := accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{
		URL: "https://Apps.Example.com:8443/scim/v2", CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "scim-token"},
	}}
	if !reg.Configured(spec) {
		t.Error("Configured is false for a connection with spec.provider.scim")
	}
	for name, other := range map[string]accessv1alpha1.ProviderSpec{
		"ldap": {LDAP: &accessv1alpha1.LDAPProvider{}}, "kubernetes": {Kubernetes: &accessv1alpha1.KubernetesProvider{}}, "none": {},
	} {
		if reg.Configured(other) {
			t.Errorf("Configured is true for a %s connection", name)
		}
	}
	if got := reg.CredentialsSecret(spec); got != "scim-token" {
		t.Errorf("CredentialsSecret = %q, want scim-token", got)
	}
	ep, err := reg.Endpoint(spec)
	if err != nil || ep.Field != "spec.provider.scim.url" || ep.Host != "apps.example.com" {
		t.Errorf("Endpoint = %+v, %v; want apps.example.com from spec.provider.scim.url", ep, err)
	}
}

func TestInsecureSaysWhatPlainHTTPExposes(t *testing.T) {
	for url, want := range map[string]string{
		"https://x/scim": "",
		"HTTPS://x/scim": "",
		"http://x/scim":  "plain http",
	} {
		spec := accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{URL: url, AllowInsecureHTTP: want != ""}}
		got := strings.Join(Registration().Insecure(spec), "; ")
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: Insecure = %q, want %q", url, got, want)
		}
	}
}
