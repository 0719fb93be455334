package provider

import (
	"context"
	"fmt"
	"strings"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider/endpoint"
)

// Registration is one provider kind, with everything the operator needs to
// know about that kind's field of SaaSConnection.spec.provider. Each provider
// package builds its own, so that adding a provider touches its package and
// the list the operator passes to NewRegistry, nothing here.
type Registration struct {
	// Kind is the name of the field of spec.provider this provider answers to,
	// e.g. "scim"; it is written to status.provider.
	Kind string
	// Configured reports whether spec sets this provider's field.
	Configured func(spec accessv1alpha1.ProviderSpec) bool
	// CredentialsSecret names the Secret, in the connection's namespace, that
	// the provider reads its credentials from, or "" when it reads none. nil
	// means the provider never reads one.
	CredentialsSecret func(spec accessv1alpha1.ProviderSpec) string
	// Endpoint is the network address the provider connects to, which the
	// operator's --allowed-endpoint-hosts may restrict. nil means the provider
	// has no endpoint of its own (kubernetes: the cluster the operator runs in).
	Endpoint func(spec accessv1alpha1.ProviderSpec) (endpoint.Endpoint, error)
	// MoreEndpoints lists the further addresses the connection's settings make
	// the provider connect to (an audit log's API on another host); each must
	// pass --allowed-endpoint-hosts too. nil means there are none.
	MoreEndpoints func(spec accessv1alpha1.ProviderSpec) ([]endpoint.Endpoint, error)
	// Insecure lists the transport settings of spec that protect credentials
	// less than the defaults do, each saying what it exposes; empty when the
	// transport is encrypted and the server verified. nil means the provider
	// has no transport settings.
	Insecure func(spec accessv1alpha1.ProviderSpec) []string
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
	regs  []Registration
	hosts endpoint.Allowlist
}

// NewRegistry returns a registry of the given providers. Every registration
// must set Kind, Configured and New.
func NewRegistry(regs ...Registration) *Registry {
	for _, reg := range regs {
		if reg.Kind == "" || reg.Configured == nil || reg.New == nil {
			panic(fmt.Sprintf("provider registration %q must set Kind, Configured and New", reg.Kind))
		}
	}
	return &Registry{regs: regs}
}

// WithAllowedHosts returns a copy of the registry whose Connect refuses, before
// any provider code runs, every connection whose endpoint host hosts does not
// allow. The zero Allowlist allows every host.
func (r *Registry) WithAllowedHosts(hosts endpoint.Allowlist) *Registry {
	return &Registry{regs: r.regs, hosts: hosts}
}

// registrationFor returns the registration whose field spec sets.
func (r *Registry) registrationFor(spec accessv1alpha1.ProviderSpec) (Registration, bool) {
	for _, reg := range r.regs {
		if reg.Configured(spec) {
			return reg, true
		}
	}
	return Registration{}, false
}

// KindOf names the field set in spec.provider, or "" when it sets none of the
// registered providers' fields.
func (r *Registry) KindOf(spec accessv1alpha1.ProviderSpec) string {
	reg, _ := r.registrationFor(spec)
	return reg.Kind
}

// CredentialsSecret is the Secret the connection's provider reads its
// credentials from, or "" if it needs none.
func (r *Registry) CredentialsSecret(spec accessv1alpha1.ProviderSpec) string {
	reg, ok := r.registrationFor(spec)
	if !ok || reg.CredentialsSecret == nil {
		return ""
	}
	return reg.CredentialsSecret(spec)
}

// Insecure lists the explicitly allowed insecure transport settings of the
// connection's provider; see Registration.Insecure.
func (r *Registry) Insecure(spec accessv1alpha1.ProviderSpec) []string {
	reg, ok := r.registrationFor(spec)
	if !ok || reg.Insecure == nil {
		return nil
	}
	return reg.Insecure(spec)
}

// Lookup returns the registration for the connection's provider.
func (r *Registry) Lookup(conn *accessv1alpha1.SaaSConnection) (Registration, error) {
	reg, ok := r.registrationFor(conn.Spec.Provider)
	if !ok {
		return Registration{}, Permanentf("connection %s/%s sets none of the providers enabled in this operator (%s)",
			conn.Namespace, conn.Name, strings.Join(r.Kinds(), ", "))
	}
	return reg, nil
}

// Kinds are the provider kinds of the registry, in registration order.
func (r *Registry) Kinds() []string {
	kinds := make([]string, 0, len(r.regs))
	for _, reg := range r.regs {
		kinds = append(kinds, reg.Kind)
	}
	return kinds
}

// Connect builds a client for the connection's provider. A connection whose
// endpoint is not allowed gets no client, so nothing is ever sent to it.
func (r *Registry) Connect(ctx context.Context, cfg Config) (Client, Registration, error) {
	reg, err := r.Lookup(cfg.Connection)
	if err != nil {
		return nil, Registration{}, err
	}
	if err := r.checkEndpoint(reg, cfg.Connection.Spec.Provider); err != nil {
		return nil, reg, Permanent(fmt.Errorf("connection %s/%s: %w", cfg.Connection.Namespace, cfg.Connection.Name, err))
	}
	c, err := reg.New(ctx, cfg)
	if err != nil {
		return nil, reg, fmt.Errorf("connect to %s provider: %w", reg.Kind, err)
	}
	return c, reg, nil
}

// checkEndpoint returns an error wrapping endpoint.ErrNotAllowed when the
// allowlist restricts hosts and one of the provider's endpoints is not among
// them, or cannot be read.
func (r *Registry) checkEndpoint(reg Registration, spec accessv1alpha1.ProviderSpec) error {
	if !r.hosts.Restricts() {
		return nil
	}
	var eps []endpoint.Endpoint
	if reg.Endpoint != nil {
		ep, err := reg.Endpoint(spec)
		if err != nil {
			return fmt.Errorf("%w: %w", endpoint.ErrNotAllowed, err)
		}
		eps = append(eps, ep)
	}
	if reg.MoreEndpoints != nil {
		more, err := reg.MoreEndpoints(spec)
		if err != nil {
			return fmt.Errorf("%w: %w", endpoint.ErrNotAllowed, err)
		}
		eps = append(eps, more...)
	}
	for _, ep := range eps {
		if err := r.hosts.Check(ep); err != nil {
			return err
		}
	}
	return nil
}
