package controller

import (
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/elevator-dev/elevator/internal/audit"
	"github.com/elevator-dev/elevator/internal/metrics"
	"github.com/elevator-dev/elevator/internal/policy"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/endpoint"
	"github.com/elevator-dev/elevator/internal/recorder"
	"github.com/elevator-dev/elevator/internal/records"
)

// Options configure the operator's controllers.
type Options struct {
	Providers *provider.Registry
	// Metrics tracks the requests' phases; nil means a new tracker.
	Metrics *metrics.Tracker
	// MaxDuration is the global cap on a grant; 0 means none.
	MaxDuration time.Duration
	// ExpiryLead is --expiry-lead: how long before expiresAt an expiring
	// request's revocation starts; 0 means at expiresAt.
	ExpiryLead time.Duration
	// ExpiryRate is --expiry-rate: the revocations per second counted on when
	// requests share an expiry; 0 turns spreading them off.
	ExpiryRate float64
	// GrantableClusterRoles is --grantable-cluster-roles; nil allows none.
	GrantableClusterRoles policy.GrantableClusterRoles
	// Workers is the number of concurrent ElevationRequest reconciles; 0 means
	// controller-runtime's default.
	Workers int
	// HealthTimeout bounds one connection health check; 0 means the default.
	HealthTimeout time.Duration
	// AllowedEndpointHosts restricts the hosts connections may point at (the
	// --allowed-endpoint-hosts flag); the zero Allowlist allows any host.
	AllowedEndpointHosts endpoint.Allowlist
	// Records verifies the signature of the records the webhook writes; with
	// nil, no record is trusted, requested-by included, so nothing is granted:
	// a role that needs no approval needs a signed requester who is its subject.
	Records *records.Signer
	// ActivityInterval is --activity-interval: how often an open window's
	// activity source is read; 0 means DefaultActivityInterval.
	ActivityInterval time.Duration
	// ActivityWakeups names subjects with new actions in a push source (the
	// audit webhook receiver); nil when there is none.
	ActivityWakeups <-chan string
	// AllowInsecureNotificationURLs is --allow-insecure-notification-urls:
	// it permits http:// sink URLs.
	AllowInsecureNotificationURLs bool
}

// Setup registers the ElevationRequest, activity, notification and
// SaaSConnection reconcilers, and the
// Event recorder they write through, with the manager: the one wiring that the
// operator and the test suites share.
func Setup(mgr ctrl.Manager, o Options) error {
	events, err := recorder.ForManager(mgr, "elevator")
	if err != nil {
		return err
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewTracker()
	}
	o.Providers = o.Providers.WithAllowedHosts(o.AllowedEndpointHosts)
	if err := (&ElevationRequestReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Providers:               o.Providers,
		Recorder:                events,
		Clock:                   clock.RealClock{},
		Audit:                   audit.New(ctrl.Log),
		Metrics:                 o.Metrics,
		MaxDuration:             o.MaxDuration,
		ExpiryLead:              o.ExpiryLead,
		ExpiryRate:              o.ExpiryRate,
		GrantableClusterRoles:   o.GrantableClusterRoles,
		MaxConcurrentReconciles: o.Workers,
		Records:                 o.Records,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&ActivityReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Providers: o.Providers,
		Recorder:  events,
		Clock:     clock.RealClock{},
		Audit:     audit.New(ctrl.Log),
		Interval:  o.ActivityInterval,
		Wakeups:   o.ActivityWakeups,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&NotificationReconciler{
		Client:        mgr.GetClient(),
		APIReader:     mgr.GetAPIReader(),
		Recorder:      events,
		Clock:         clock.RealClock{},
		AllowedHosts:  o.AllowedEndpointHosts,
		AllowInsecure: o.AllowInsecureNotificationURLs,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&SaaSConnectionReconciler{
		Client:        mgr.GetClient(),
		APIReader:     mgr.GetAPIReader(),
		Providers:     o.Providers,
		HealthTimeout: o.HealthTimeout,
	}).SetupWithManager(mgr)
}
