package v1alpha1

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ConnectionReader reads SaaSConnections.
type ConnectionReader = client.Reader

// CacheFirst reads from Cache and asks API only when Cache has no such object,
// so a connection created a moment ago (applied in the same file as the request,
// say) is seen, and every other read costs the API server nothing. The
// controller checks the policy again, from its own read, before it grants.
type CacheFirst struct {
	Cache client.Reader
	API   client.Reader
}

// Get implements client.Reader.
func (r CacheFirst) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := r.Cache.Get(ctx, key, obj, opts...)
	if apierrors.IsNotFound(err) {
		return r.API.Get(ctx, key, obj, opts...)
	}
	return err
}

// List implements client.Reader.
func (r CacheFirst) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return r.Cache.List(ctx, list, opts...)
}
