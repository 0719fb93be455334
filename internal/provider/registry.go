package provider

import (
	"context"
	"fmt"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider/endpoint"
)

// Provider kinds, named after the field of SaaSConnection.spec.provider.
const (
	KindKubernetes = "kubernetes"
	KindSCIM       = "scim"
	KindLDAP       = "ldap"
	KindPostgres   = "postgres"
)

// Registration is one provider kind.
type Registration struct {
	// Kind is the field of spec.provider this provider answers to.
	Kind string
	// Shared is true when the entitlement is one fact per subject and role in the
	// target (a group membership), so that two requests for the same subject and
	// role hold the same thing. It is false when every request gets its own
	// object (a RoleBinding per request).
	Shared bool
	// New builds a client for one connection.
	New Factory
}

// Registry maps provider kinds to their implementations, and refuses to build
// a client for a connection whose endpoint the operator does not allow.
type Registry struct {
	byKind map[string]Registration
	hosts  endpoint.Allowlist
}

// NewRegistry returns a registry of the given providers.
func NewRegistry(regs ...Registration) *Registry {
	r := &Registry{byKind: make(map[string]Registration, len(regs))}
	for _, reg := range regs {
		r.byKind[reg.Kind] = reg
	}
	return r
}

// WithAllowedHosts returns a copy of the registry whose Connect refuses, before
// any provider code runs, every connection whose endpoint host hosts does not
// allow. The zero Allowlist allows every host.
func (r *Registry) WithAllowedHosts(hosts endpoint.Allowlist) *Registry {
	return &Registry{byKind: r.byKind, hosts: hosts}
}

// Lookup returns the registration for the connection's provider.
func (r *Registry) Lookup(conn *accessv1alpha1.SaaSConnection) (Registration, error) {
	kind := KindOf(conn.Spec.Provider)
	if kind == "" {
		return Registration{}, Permanentf("connection %s/%s sets no provider", conn.Namespace, conn.Name)
	}
	reg, ok := r.byKind[kind]
	if !ok {
		return Registration{}, Permanentf("provider %q is not enabled in this operator", kind)
	}
	return reg, nil
}

// Connect builds a client for the connection's provider. A connection whose
// endpoint is not allowed gets no client, so nothing is ever sent to it.
func (r *Registry) Connect(ctx context.Context, cfg Config) (Client, Registration, error) {
	reg, err := r.Lookup(cfg.Connection)
	if err != nil {
		return nil, Registration{}, err
	}
	if err := r.hosts.Check(cfg.Connection.Spec.Provider); err != nil {
		return nil, reg, Permanent(fmt.Errorf("connection %s/%s: %w", cfg.Connection.Namespace, cfg.Connection.Name, err))
	}
	c, err := reg.New(ctx, cfg)
	if err != nil {
		return nil, reg, fmt.Errorf("connect to %s provider: %w", reg.Kind, err)
	}
	return c, reg, nil
}

// KindOf names the field set in spec.provider, or "" if none is.
func KindOf(spec accessv1alpha1.ProviderSpec) string {
	switch {
	case spec.Kubernetes != nil:
		return KindKubernetes
	case spec.SCIM != nil:
		return KindSCIM
	case spec.LDAP != nil:
		return KindLDAP
	case spec.Postgres != nil:
		return KindPostgres
	}
	return ""
}

// CredentialsSecretName is the Secret the connection's provider reads its
// credentials from, or "" if it needs none.
func CredentialsSecretName(spec accessv1alpha1.ProviderSpec) string {
	switch {
	case spec.SCIM != nil:
		return spec.SCIM.CredentialsSecretRef.Name
	case spec.LDAP != nil:
		return spec.LDAP.CredentialsSecretRef.Name
	case spec.Postgres != nil:
		return spec.Postgres.CredentialsSecretRef.Name
	}
	return ""
}
