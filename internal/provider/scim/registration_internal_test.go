package scim

import (
	"context"
	"errors"
	"strings"
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/endpoint"
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

func oktaSpec(scimURL, oktaURL string) accessv1alpha1.ProviderSpec {
	return accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{
		URL: scimURL, CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "scim-token"},
		AllowInsecureHTTP: strings.HasPrefix(scimURL, "http://"),
		Activity: &accessv1alpha1.SCIMActivitySource{OktaSystemLog: &accessv1alpha1.OktaSystemLogSource{
			URL: oktaURL, AllowInsecureHTTP: strings.HasPrefix(oktaURL, "http://"),
			CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "okta-token"},
		}},
	}}
}

// The Okta org is a second endpoint: the operator's allowlist must allow it
// as well, or the registry builds no client at all.
func TestRegistryChecksTheOktaHost(t *testing.T) {
	hosts, err := endpoint.ParseAllowlist("scim.example.com,*.okta.com")
	if err != nil {
		t.Fatal(err)
	}
	reg := provider.NewRegistry(Registration()).WithAllowedHosts(hosts)
	secrets := func(context.Context, string) (map[string][]byte, error) {
		return map[string][]byte{"token": []byte("t")}, nil
	}
	connect := func(spec accessv1alpha1.ProviderSpec) error {
		conn := &accessv1alpha1.SaaSConnection{Spec: accessv1alpha1.SaaSConnectionSpec{Provider: spec}}
		conn.Namespace, conn.Name = "team", "billing"
		_, _, err := reg.Connect(context.Background(), provider.Config{Connection: conn, Secrets: secrets})
		return err
	}
	err = connect(oktaSpec("https://scim.example.com/v2", "https://attacker.example"))
	if !errors.Is(err, endpoint.ErrNotAllowed) || !provider.IsPermanent(err) || !strings.Contains(err.Error(), oktaField+".url") || !strings.Contains(err.Error(), `"attacker.example"`) {
		t.Errorf("an Okta host outside the allowlist: %v", err)
	}
	if err := connect(oktaSpec("https://scim.example.com/v2", "https://org.okta.com")); err != nil {
		t.Errorf("an allowed Okta host: %v", err)
	}
	if eps, err := Registration().MoreEndpoints(accessv1alpha1.ProviderSpec{SCIM: &accessv1alpha1.SCIMProvider{URL: "https://scim.example.com"}}); eps != nil || err != nil {
		t.Errorf("MoreEndpoints without an activity source = %v, %v", eps, err)
	}
}

func TestInsecureNamesThePlainHTTPLog(t *testing.T) {
	got := Registration().Insecure(oktaSpec("https://scim.example.com/v2", "http://org.okta.example"))
	if len(got) != 1 || !strings.Contains(got[0], oktaField+".url is plain http") || !strings.Contains(got[0], "allowInsecureHTTP") {
		t.Errorf("Insecure = %q, want the log's plain http named", got)
	}
	if got := Registration().Insecure(oktaSpec("http://scim.example.com/v2", "http://org.okta.example")); len(got) != 2 {
		t.Errorf("Insecure with both plain http = %q, want both named", got)
	}
	if got := Registration().Insecure(oktaSpec("https://scim.example.com/v2", "https://org.okta.example")); len(got) != 0 {
		t.Errorf("Insecure with both https = %q", got)
	}
}
