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

func TestRegistry(t *testing.T) {
	called := ""
	reg := NewRegistry(Registration{Kind: KindLDAP, Shared: true, New: func(context.Context, Config) (Client, error) {
		called = KindLDAP
		return nil, errors.New("unreachable")
	}})
	ldap := &accessv1alpha1.SaaSConnection{}
	ldap.Spec.Provider.LDAP = &accessv1alpha1.LDAPProvider{}
	_, got, err := reg.Connect(context.Background(), Config{Connection: ldap})
	if called != KindLDAP || !got.Shared || err == nil || err.Error() != "connect to ldap provider: unreachable" {
		t.Errorf("Connect: called=%q reg=%+v err=%v", called, got, err)
	}

	scim := &accessv1alpha1.SaaSConnection{}
	scim.Spec.Provider.SCIM = &accessv1alpha1.SCIMProvider{}
	if _, err := reg.Lookup(scim); !IsPermanent(err) || err.Error() != `provider "scim" is not enabled in this operator` {
		t.Errorf("an unregistered provider: %v", err)
	}
	if _, err := reg.Lookup(&accessv1alpha1.SaaSConnection{}); !IsPermanent(err) {
		t.Errorf("a connection with no provider: %v", err)
	}
}

func TestCredentialsSecretName(t *testing.T) {
	spec := accessv1alpha1.ProviderSpec{Postgres: &accessv1alpha1.PostgresProvider{CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: "pg"}}}
	if got := CredentialsSecretName(spec); got != "pg" {
		t.Errorf("postgres: %q", got)
	}
	if got := CredentialsSecretName(accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}}); got != "" {
		t.Errorf("kubernetes needs no Secret, got %q", got)
	}
}

// A registry with allowed hosts never calls the factory of a connection whose
// endpoint is elsewhere, and says which host and which flag refused it.
func TestRegistryRefusesEndpointsOutsideTheAllowlist(t *testing.T) {
	built := 0
	reg := NewRegistry(Registration{Kind: KindSCIM, New: func(context.Context, Config) (Client, error) {
		built++
		return nil, errors.New("factory ran")
	}})
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
	if built != 4 {
		t.Errorf("the factory ran %d times, want 4 (three allowed hosts, one unrestricted registry)", built)
	}
}
