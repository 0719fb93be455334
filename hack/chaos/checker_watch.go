package main

import (
	"context"
	"fmt"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// watchRequests times the requests by a watch of their own: every change is
// observed when the apiserver delivers it, so when a request was first seen
// terminal, or Revoked and verified, is known to within the delivery rather
// than to within one of the checker's passes (each reads every binding, asks
// about every subject and reads every server's members; in a loaded full run
// a pass took a median 340 ms and up to seconds). The lags of the failovers,
// outages and restarts are measured from those times. Every invariant is
// still decided by the passes from their own fresh reads: the watch only
// times, and an earlier end only makes invariant 1 stricter.
func (c *checker) watchRequests(ctx context.Context) error {
	ca, err := cache.New(c.e.cfg, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{namespace: {}}})
	if err != nil {
		return fmt.Errorf("watch of the requests: %w", err)
	}
	inf, err := ca.GetInformer(ctx, &accessv1alpha1.ElevationRequest{})
	if err != nil {
		return fmt.Errorf("watch of the requests: %w", err)
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.observeDelivered(obj) },
		UpdateFunc: func(_, obj any) { c.observeDelivered(obj) },
	}); err != nil {
		return fmt.Errorf("watch of the requests: %w", err)
	}
	go func() { _ = ca.Start(ctx) }()
	if !ca.WaitForCacheSync(ctx) {
		return fmt.Errorf("watch of the requests did not sync")
	}
	return nil
}

// observeDelivered observes one request the watch delivered, at its delivery.
func (c *checker) observeDelivered(obj any) {
	if er, ok := obj.(*accessv1alpha1.ElevationRequest); ok {
		c.observe(map[string]*accessv1alpha1.ElevationRequest{er.Name: er}, time.Now())
	}
}
