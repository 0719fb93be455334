package main

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/elevator-dev/elevator/internal/identity"
	"github.com/elevator-dev/elevator/internal/records"
)

// trust is what the operator knows about itself at start-up: its own user name
// (so the webhook can tell its writes from everyone else's) and the signer of
// the records.
type trust struct {
	operatorUser string
	signer       *records.Signer
}

// loadTrust asks the API server who the operator is (SelfSubjectReview) and
// loads, or creates, the record-signing key in its Secret. It reads with a
// client of its own: the manager's cache has not started yet.
func loadTrust(ctx context.Context, cfg *rest.Config, o options) (trust, error) {
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return trust{}, fmt.Errorf("client for start-up checks: %w", err)
	}
	self, err := identity.Self(ctx, c)
	if err != nil {
		return trust{}, fmt.Errorf("find the operator's own identity: %w", err)
	}
	where, err := records.KeySecret(o.recordsKeySecret, self.Username)
	if err != nil {
		return trust{}, err
	}
	key, err := records.EnsureKey(ctx, c, where)
	if err != nil {
		return trust{operatorUser: self.Username}, err
	}
	signer, err := records.NewSigner(key)
	if err != nil {
		return trust{operatorUser: self.Username}, fmt.Errorf("secret %s: %w", where, err)
	}
	return trust{operatorUser: self.Username, signer: signer}, nil
}

// warnWebhooksOff says, as loudly as a log can, what running without the
// admission webhooks means: nobody signs records, so none is acted on.
func warnWebhooksOff(log logr.Logger) {
	log.Error(nil, "ADMISSION WEBHOOKS ARE OFF (--enable-webhooks=false): approval, denial and revocation records typed into "+
		"elevator.dev/ annotations are NOT accepted, because only the webhook signs records. Nothing will be approved or granted, "+
		"not even roles with requiredApprovals: 0 (they need a signed requester who is their subject), and access ends only at expiry or when the request is deleted. "+
		"Run with the webhooks on (ENABLE_WEBHOOKS=true for make run) to approve requests.")
}
