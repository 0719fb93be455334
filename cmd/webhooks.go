package main

import (
	ctrl "sigs.k8s.io/controller-runtime"

	webhookv1alpha1 "github.com/elevator-dev/elevator/internal/webhook/v1alpha1"
)

// setupWebhooks registers the admission webhooks when they are enabled. They are
// off only for running the operator against a cluster that has no webhook
// configuration pointing at it (an unsafe set-up: approvals are then unchecked).
func setupWebhooks(mgr ctrl.Manager, o options) error {
	if !o.enableWebhooks {
		ctrl.Log.WithName("setup").Info("admission webhooks disabled: approvals and policy are not enforced at the door")
		return nil
	}
	opts := webhookv1alpha1.Options{MaxDuration: o.maxDuration, GrantableClusterRoles: o.grantableClusterRoles}
	if err := webhookv1alpha1.SetupElevationRequestWebhookWithManager(mgr, opts); err != nil {
		return err
	}
	return webhookv1alpha1.SetupSaaSConnectionWebhookWithManager(mgr, opts)
}
