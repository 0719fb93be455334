package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider/endpoint"
)

func TestPermanent(t *testing.T) {
	base := errors.New("role does not exist")
	wrapped := fmt.Errorf("grant: %w", Permanent(base))
	if !IsPermanent(wrapped) {
		t.Error("a wrapped permanent error must stay permanent")
	}
	if !errors.Is(wrapped, base) {
		t.Error("Permanent must keep the cause reachable with errors.Is")
	}
	if IsPermanent(fmt.Errorf("grant: %w", base)) {
		t.Error("an unmarked error is transient")
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) must be nil")
	}
}

// registrations as a provider package makes them, for the field it is given.
func ldapRegistration(factory Factory) Registration {
	return Registration{
		Kind:              "ldap",
		Configured:        func(spec accessv1alpha1.ProviderSpec) bool { return spec.LDAP != nil },
		CredentialsSecret: func(spec accessv1alpha1.ProviderSpec) string { return spec.LDAP.CredentialsSecretRef.Name },
		Insecure:          func(accessv1alpha1.ProviderSpec) []string { return []string{"plain ldap"} },
		Shared:            true,
		New:               factory,
	}
}

func scimRegistration(factory Factory) Registration {
	return Registration{
		Kind:       "scim",
		Configured: func(spec accessv1alpha1.ProviderSpec) bool { return spec.SCIM != nil },
		Endpoint: func(spec accessv1alpha1.ProviderSpec) (endpoint.Endpoint, error) {
			return endpoint.FromURL("spec.provider.scim.url", spec.SCIM.URL)
		},
		New: factory,
	}
}

// unbuilt is the factory of a test that builds no client.
func unbuilt(context.Context, Config) (Client, error) {
	return nil, errors.New("not built in this test")
}

func kubernetesRegistration() Registration {
	return Registration{
		Kind:       "kubernetes",
		Configured: func(spec accessv1alpha1.ProviderSpec) bool { return spec.Kubernetes != nil },
		New:        unbuilt,
	}
}

func TestRegistry(t *testing.T) {
	called := ""
	reg := NewRegistry(ldapRegistration(func(context.Context, Config) (Client, error) {
		called = "ldap"
		return nil, errors.New("unreachable")
	}))
	ldap := &accessv1alpha1.SaaSConnection{}
	ldap.Spec.Provider.LDAP = &accessv1alpha1.LDAPProvider{}
	_, got, err := reg.Connect(context.Background(), Config{Connection: ldap})
	if called != "ldap" || !got.Shared || err == nil || err.Error() != "connect to ldap provider: unreachable" {
		t.Errorf("Connect: called=%q reg=%+v err=%v", called, got, err)
	}

	scim := &accessv1alpha1.SaaSConnection{}
	scim.Namespace, scim.Name = "team", "billing"
	scim.Spec.Provider.SCIM = &accessv1alpha1.SCIMProvider{}
	if _, err := reg.Lookup(scim); !IsPermanent(err) || err.Error() != "connection team/billing sets none of the providers enabled in this operator (ldap)" {
		t.Errorf("an unregistered provider: %v", err)
	}
	if _, err := reg.Lookup(&accessv1alpha1.SaaSConnection{}); !IsPermanent(err) {
		t.Errorf("a connection with no provider: %v", err)
	}
}

// The registry knows no provider's fields: it asks each registration.
func TestRegistryAsksTheRegistrationOfTheFieldSet(t *testing.T) {
	reg := NewRegistry(kubernetesRegistration(), scimRegistration(unbuilt), ldapRegistration(unbuilt))
	ldap := accessv1alpha1.ProviderSpec{LDAP: &accessv1alpha1.LDAPProvider{CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "bind"}}}
	kube := accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}}
	postgres := accessv1alpha1.ProviderSpec{Postgres: &accessv1alpha1.PostgresProvider{CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "pg"}}}

	if got := reg.KindOf(ldap); got != "ldap" {
		t.Errorf("KindOf(ldap) = %q", got)
	}
	if got := reg.KindOf(kube); got != "kubernetes" {
		t.Errorf("KindOf(kubernetes) = %q", got)
	}
	if got := reg.KindOf(postgres); got != "" {
		t.Errorf("KindOf of a provider not registered = %q, want \"\"", got)
	}
	if got := reg.CredentialsSecret(ldap); got != "bind" {
		t.Errorf("CredentialsSecret(ldap) = %q, want bind", got)
	}
	for name, spec := range map[string]accessv1alpha1.ProviderSpec{"kubernetes (none)": kube, "postgres (not registered)": postgres} {
		if got := reg.CredentialsSecret(spec); got != "" {
			t.Errorf("CredentialsSecret of %s = %q, want \"\"", name, got)
		}
		if got := reg.Insecure(spec); got != nil {
			t.Errorf("Insecure of %s = %q, want nil", name, got)
		}
	}
	if got := reg.Insecure(ldap); len(got) != 1 || got[0] != "plain ldap" {
		t.Errorf("Insecure(ldap) = %q, want the registration's list", got)
	}
}

func TestNewRegistryRefusesAnIncompleteRegistration(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewRegistry accepted a registration that cannot say which field is its own")
		}
	}()
	NewRegistry(Registration{Kind: "scim", New: func(context.Context, Config) (Client, error) { return nil, nil }})
}

// A registry with allowed hosts never calls the factory of a connection whose
// endpoint is elsewhere, and says which host and which flag refused it.
func TestRegistryRefusesEndpointsOutsideTheAllowlist(t *testing.T) {
	built := 0
	reg := NewRegistry(kubernetesRegistration(), scimRegistration(func(context.Context, Config) (Client, error) {
		built++
		return nil, errors.New("factory ran")
	}))
	hosts, err := endpoint.ParseAllowlist("scim.example.com,*.corp.example")
	if err != nil {
		t.Fatal(err)
	}
	restricted := reg.WithAllowedHosts(hosts)
	conn := func(url string) *accessv1alpha1.SaaSConnection {
		c := &accessv1alpha1.SaaSConnection{}
		c.Namespace, c.Name = "team", "billing"
		c.Spec.Provider.SCIM = &accessv1alpha1.SCIMProvider{URL: url}
		return c
	}

	_, _, err = restricted.Connect(context.Background(), Config{Connection: conn("https://attacker.example:8443/scim")})
	if built != 0 {
		t.Fatalf("the factory ran %d times for a refused endpoint", built)
	}
	if !IsPermanent(err) || !errors.Is(err, endpoint.ErrNotAllowed) {
		t.Fatalf("Connect to a refused host = %v, want a permanent ErrNotAllowed", err)
	}
	for _, want := range []string{`host "attacker.example"`, "spec.provider.scim.url", "--allowed-endpoint-hosts", "connection team/billing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	for _, url := range []string{"https://scim.example.com/v2", "https://SCIM.Example.com./v2", "https://app.corp.example/v2"} {
		if _, _, err := restricted.Connect(context.Background(), Config{Connection: conn(url)}); err == nil || errors.Is(err, endpoint.ErrNotAllowed) {
			t.Errorf("%s: got %v, want the factory to run", url, err)
		}
	}
	if _, _, err := reg.Connect(context.Background(), Config{Connection: conn("https://attacker.example/scim")}); errors.Is(err, endpoint.ErrNotAllowed) {
		t.Errorf("the registry without an allowlist refused: %v", err)
	}
	malformed := conn("https://%zz/scim")
	if _, _, err := restricted.Connect(context.Background(), Config{Connection: malformed}); !IsPermanent(err) || !errors.Is(err, endpoint.ErrNotAllowed) {
		t.Errorf("Connect to an unreadable URL = %v, want a permanent ErrNotAllowed", err)
	}
	kube := &accessv1alpha1.SaaSConnection{}
	kube.Spec.Provider.Kubernetes = &accessv1alpha1.KubernetesProvider{}
	if _, _, err := restricted.Connect(context.Background(), Config{Connection: kube}); errors.Is(err, endpoint.ErrNotAllowed) {
		t.Errorf("a provider without an endpoint of its own was refused: %v", err)
	}
	if built != 4 {
		t.Errorf("the factory ran %d times, want 4 (three allowed hosts, one unrestricted registry)", built)
	}
}

// Every endpoint a registration lists must pass the allowlist: a second one
// (an audit log's API) outside it refuses the connection before the factory
// runs, and one that cannot be read refuses it too.
func TestRegistryChecksMoreEndpoints(t *testing.T) {
	built := 0
	more := []endpoint.Endpoint{{Field: "spec.provider.scim.activity.url", Host: "logs.example.com"}}
	var moreErr error
	reg := scimRegistration(func(context.Context, Config) (Client, error) {
		built++
		return nil, errors.New("factory ran")
	})
	reg.MoreEndpoints = func(accessv1alpha1.ProviderSpec) ([]endpoint.Endpoint, error) { return more, moreErr }
	hosts, err := endpoint.ParseAllowlist("scim.example.com")
	if err != nil {
		t.Fatal(err)
	}
	restricted := NewRegistry(reg).WithAllowedHosts(hosts)
	conn := &accessv1alpha1.SaaSConnection{}
	conn.Spec.Provider.SCIM = &accessv1alpha1.SCIMProvider{URL: "https://scim.example.com/v2"}

	_, _, err = restricted.Connect(context.Background(), Config{Connection: conn})
	if built != 0 || !IsPermanent(err) || !errors.Is(err, endpoint.ErrNotAllowed) || !strings.Contains(err.Error(), "spec.provider.scim.activity.url") {
		t.Errorf("a second endpoint outside the allowlist: built=%d err=%v", built, err)
	}
	more, moreErr = nil, errors.New("unreadable")
	if _, _, err := restricted.Connect(context.Background(), Config{Connection: conn}); built != 0 || !errors.Is(err, endpoint.ErrNotAllowed) {
		t.Errorf("an unreadable second endpoint: built=%d err=%v", built, err)
	}
	more, moreErr = []endpoint.Endpoint{{Field: "f", Host: "scim.example.com"}}, nil
	if _, _, err := restricted.Connect(context.Background(), Config{Connection: conn}); built != 1 || errors.Is(err, endpoint.ErrNotAllowed) {
		t.Errorf("an allowed second endpoint: built=%d err=%v", built, err)
	}
}
