package main

import (
	ctrl "sigs.k8s.io/controller-runtime"

	webhookv1alpha1 "github.com/elevator-dev/elevator/internal/webhook/v1alpha1"
)

// setupWebhooks registers the admission webhooks when they are enabled. They are
// off only for running the operator against a cluster that has no webhook
// configuration pointing at it: then nobody signs records, and the controller
// acts on none (see warnWebhooksOff).
func setupWebhooks(mgr ctrl.Manager, o options, trusted trust) error {
	if !o.enableWebhooks {
		return nil
	}
	opts := webhookv1alpha1.Options{
		MaxDuration: o.maxDuration, GrantableClusterRoles: o.grantableClusterRoles,
		Signer: trusted.signer, OperatorUser: trusted.operatorUser, MaxOpenRequests: o.maxOpenRequests,
	}
	if err := webhookv1alpha1.SetupElevationRequestWebhookWithManager(mgr, opts); err != nil {
		return err
	}
	return webhookv1alpha1.SetupSaaSConnectionWebhookWithManager(mgr, opts)
}
