package kubernetes

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// Kind is the field of spec.provider this provider answers to.
const Kind = "kubernetes"

// Registration returns the kubernetes provider. writer creates and deletes
// bindings and SubjectAccessReviews, and reads ClusterRoles (from its cache when
// it is the manager's client); reader must read from the API server, not a cache,
// because Check is the proof of revocation.
//
// It reads no credentials Secret and has no endpoint or transport of its own:
// it talks to the cluster the operator runs in, as the operator. WithAuditStore
// gives its clients an activity source.
func Registration(writer client.Client, reader client.Reader, opts ...Option) provider.Registration {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return provider.Registration{
		Kind:       Kind,
		Configured: func(spec accessv1alpha1.ProviderSpec) bool { return spec.Kubernetes != nil },
		Shared:     false,
		New: func(_ context.Context, cfg provider.Config) (provider.Client, error) {
			return &Client{writer: writer, reader: reader, conn: cfg.Connection, audit: o.store, activityDelay: o.delay}, nil
		},
	}
}
