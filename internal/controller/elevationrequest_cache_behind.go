package controller

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// read gets the request from the cache, or from the API server while the
// cache is known to be behind for it. After the kube-apiserver restarts, an
// informer's watch resumes only after client-go's backoff (up to 30 s; the
// fault suite measured 30 s), and until then the cache holds a version older
// than the operator's own last write: a reconcile on it cannot grant
// (ensureFresh refuses, and marks the request), and an Active request the
// cache still shows Approved would reach its expiry unseen. So a marked
// request is read fresh and the step acts on what is stored; once the cache
// holds the same version again, it is used again.
func (r *ElevationRequestReconciler) read(ctx context.Context, key types.NamespacedName) (*accessv1alpha1.ElevationRequest, error) {
	er := &accessv1alpha1.ElevationRequest{}
	if err := r.Client.Get(ctx, key, er); err != nil {
		return nil, err
	}
	if !r.behind.has(key) {
		return er, nil
	}
	fresh := &accessv1alpha1.ElevationRequest{}
	if err := r.APIReader.Get(ctx, key, fresh); err != nil {
		return nil, fmt.Errorf("read %s from the API server, the cache being behind for it: %w", key, err)
	}
	if fresh.ResourceVersion == er.ResourceVersion {
		r.behind.forget(key)
	}
	return fresh, nil
}

// cacheBehind is the set of requests whose cached version was found older
// than the stored one (ensureFresh), in memory only.
type cacheBehind struct {
	mu   sync.Mutex
	keys map[types.NamespacedName]struct{}
}

func newCacheBehind() *cacheBehind {
	return &cacheBehind{keys: map[types.NamespacedName]struct{}{}}
}

func (c *cacheBehind) mark(key types.NamespacedName) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys[key] = struct{}{}
}

func (c *cacheBehind) has(key types.NamespacedName) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.keys[key]
	return ok
}

func (c *cacheBehind) forget(key types.NamespacedName) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, key)
}
