package provider

import (
	"context"
	"errors"
	"fmt"
	"testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
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
