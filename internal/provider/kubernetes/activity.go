package kubernetes

import (
	"context"
	"time"

	"github.com/elevator-dev/elevator/internal/activity/kubeaudit"
	"github.com/elevator-dev/elevator/internal/provider"
)

// ActivitySourceName names the log this provider's Activity reads.
const ActivitySourceName = "kube-apiserver audit webhook"

// DefaultActivityDelay is the kube-apiserver's default
// --audit-webhook-batch-max-wait (30s) and a margin for the post itself.
const DefaultActivityDelay = 40 * time.Second

var _ provider.ActivitySource = (*Client)(nil)

// Option configures the provider at Registration.
type Option func(*options)

type options struct {
	store *kubeaudit.Store
	delay time.Duration
}

// WithAuditStore makes Activity read the events the operator's audit receiver
// keeps in store; delay is how long after an action the apiserver may still
// post it (its batch's maximum wait plus a margin; DefaultActivityDelay when
// not positive).
func WithAuditStore(store *kubeaudit.Store, delay time.Duration) Option {
	return func(o *options) {
		o.store = store
		o.delay = delay
	}
}

// Activity returns what the subject did in the cluster during the window, as
// the kube-apiserver's audit webhook posted it to the operator's receiver:
// requests by the subject (or by someone impersonating it) in the role's
// namespaces, or anywhere for a cluster-wide role. An action the authorizer
// allowed through anything but the grant's own bindings is NotViaElevation.
// Without a receiver, the source is Unavailable.
func (c *Client) Activity(_ context.Context, q provider.ActivityQuery) (provider.ActivityPage, error) {
	if c.audit == nil {
		return provider.ActivityPage{}, provider.Unavailable("the operator runs no audit receiver: start it with --audit-receiver-bind-address, " +
			"and point the kube-apiserver's audit webhook at it (docs/activity.md)")
	}
	role, err := roleSpec(q.Entitlement)
	if err != nil {
		return provider.ActivityPage{}, err
	}
	scope := kubeaudit.Scope{
		Subject:     q.Entitlement.Subject,
		Namespaces:  role.Namespaces,
		ClusterWide: role.ClusterWide,
		Bindings:    bindingRefs(grantedBindings(q.Entitlement, role)),
	}
	return c.audit.Read(scope, q), nil
}

// ActivityDelay is how long after an action the apiserver may still post it.
func (c *Client) ActivityDelay() time.Duration {
	if c.activityDelay <= 0 {
		return DefaultActivityDelay
	}
	return c.activityDelay
}

// ActivitySourceName names the audit log read.
func (c *Client) ActivitySourceName() string { return ActivitySourceName }
