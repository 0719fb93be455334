package ldap

import (
	"strings"
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestRegistrationReadsTheLDAPField(t *testing.T) {
	reg := Registration()
	spec := accessv1alpha1.ProviderSpec{LDAP: &accessv1alpha1.LDAPProvider{
		URL: "ldaps://Dir.Example.org.:636", CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "bind"},
	}}
	if !reg.Configured(spec) {
		t.Error("Configured is false for a connection with spec.provider.ldap")
	}
	for name, other := range map[string]accessv1alpha1.ProviderSpec{
		"scim": {SCIM: &accessv1alpha1.SCIMProvider{}}, "postgres": {Postgres: &accessv1alpha1.PostgresProvider{}}, "none": {},
	} {
		if reg.Configured(other) {
			t.Errorf("Configured is true for a %s connection", name)
		}
	}
	if got := reg.CredentialsSecret(spec); got != "bind" {
		t.Errorf("CredentialsSecret = %q, want bind", got)
	}
	ep, err := reg.Endpoint(spec)
	if err != nil || ep.Field != "spec.provider.ldap.url" || ep.Host != "dir.example.org" {
		t.Errorf("Endpoint = %+v, %v; want dir.example.org from spec.provider.ldap.url", ep, err)
	}
}

func TestInsecureSaysWhatPlainLDAPExposes(t *testing.T) {
	for name, tc := range map[string]struct {
		p    accessv1alpha1.LDAPProvider
		want string
	}{
		"ldaps":    {accessv1alpha1.LDAPProvider{URL: "ldaps://x"}, ""},
		"startTLS": {accessv1alpha1.LDAPProvider{URL: "ldap://x", StartTLS: true}, ""},
		"plain":    {accessv1alpha1.LDAPProvider{URL: "ldap://x", AllowInsecure: true}, "bind password"},
	} {
		got := strings.Join(Registration().Insecure(accessv1alpha1.ProviderSpec{LDAP: &tc.p}), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: Insecure = %q, want %q", name, got, tc.want)
		}
	}
}
