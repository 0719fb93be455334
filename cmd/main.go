// Command elevator is the Elevator manager: the ElevationRequest and
// SaaSConnection controllers and the admission webhooks.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/controller"
	"github.com/elevator-dev/elevator/internal/metrics"
	"github.com/elevator-dev/elevator/internal/policy"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/endpoint"
	"github.com/elevator-dev/elevator/internal/provider/kubernetes"
	"github.com/elevator-dev/elevator/internal/provider/ldap"
	"github.com/elevator-dev/elevator/internal/provider/postgres"
	"github.com/elevator-dev/elevator/internal/provider/scim"
	"github.com/elevator-dev/elevator/internal/records"
	webhookv1alpha1 "github.com/elevator-dev/elevator/internal/webhook/v1alpha1"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(accessv1alpha1.AddToScheme(scheme))
}

type options struct {
	metricsAddr string
	probeAddr   string
	leaderElect bool
	// leaderElection holds the lease timings and namespace of --leader-elect.
	leaderElection  leaderElection
	maxDuration     time.Duration
	expiryLead      time.Duration
	expiryRate      float64
	webhookCertPath string
	webhookHost     string
	webhookPort     int
	enableWebhooks  bool
	workers         int
	qps             float64
	burst           int
	pprofAddr       string
	// grantableClusterRoles is --grantable-cluster-roles, parsed.
	grantableClusterRoles policy.GrantableClusterRoles
	endpointHosts         string
	// recordsKeySecret is NAMESPACE/NAME of the record-signing key's Secret;
	// empty means records.DefaultKeySecretName in the operator's own namespace.
	recordsKeySecret string
	maxOpenRequests  int
	audit            auditOptions
	// activityInterval is how often an open window's activity source is read.
	activityInterval time.Duration
	// allowInsecureNotificationURLs permits http:// notification sinks.
	allowInsecureNotificationURLs bool
}

func parseFlags() (options, zap.Options, error) {
	var o options
	var grantable string
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "Address the metrics endpoint binds to; 0 disables it.")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the health probes bind to.")
	flag.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader, so only one replica acts at a time.")
	o.leaderElection.bindFlags(flag.CommandLine)
	flag.DurationVar(&o.maxDuration, "max-duration", 8*time.Hour, "Global cap on any elevation's duration; 0 means none.")
	flag.DurationVar(&o.expiryLead, "expiry-lead", controller.DefaultExpiryLead,
		"How long before expiresAt an expiring elevation's revocation starts, so that access is gone by expiresAt; at most a tenth of the window. 0 starts it at expiresAt.")
	flag.Float64Var(&o.expiryRate, "expiry-rate", controller.DefaultExpiryRate,
		"Revocations per second the operator counts on starting when many elevations expire close together: each gets its own slot of 1/rate, the latest free one at or before expiresAt minus --expiry-lead, within the same cap. 0 turns this off.")
	flag.StringVar(&o.webhookCertPath, "webhook-cert-path", "", "Directory with the webhook serving certificate (tls.crt, tls.key).")
	flag.StringVar(&o.webhookHost, "webhook-host", "", "Address the webhook server binds to; empty means every interface.")
	flag.IntVar(&o.webhookPort, "webhook-port", 9443, "Port the webhook server listens on.")
	flag.BoolVar(&o.enableWebhooks, "enable-webhooks", true, "Serve the admission webhooks.")
	flag.IntVar(&o.workers, "workers", 16, "Concurrent ElevationRequest reconciles.")
	// The client keeps a token bucket per resource type and per client (the
	// cached client's writes, the uncached reader's fresh reads). A revocation
	// makes two status writes and two fresh RoleBinding reads, so at 100 a
	// second a backlog of expiries drained at 50 a second, bound by the bucket
	// and not by the API server (docs/performance.md). The API server's
	// priority and fairness is what protects it from one client; the workers
	// bound how many requests are in flight.
	flag.Float64Var(&o.qps, "kube-api-qps", 500, "Queries per second to the API server, per resource type.")
	flag.IntVar(&o.burst, "kube-api-burst", 1000, "Burst of queries to the API server, per resource type.")
	flag.StringVar(&o.pprofAddr, "pprof-bind-address", "", "Address to serve pprof profiles on, e.g. 127.0.0.1:6060; empty disables it.")
	flag.StringVar(&grantable, "grantable-cluster-roles", policy.DefaultGrantableClusterRoles,
		"Comma-separated ClusterRoles a kubernetes role may ever bind; the webhook and the controller refuse any other. Keep it within what config/rbac/bind_role.yaml lets the operator bind.")
	flag.StringVar(&o.endpointHosts, endpoint.FlagName, "",
		"Comma-separated host names, IP addresses or *.suffix patterns that connections may point at (SCIM and LDAP URL hosts, PostgreSQL hosts); "+
			"a connection elsewhere is never contacted. Empty allows any host.")
	flag.StringVar(&o.recordsKeySecret, "records-key-secret", "",
		"NAMESPACE/NAME of the Secret with the key that signs approval, denial and revocation records; created if missing. "+
			"Empty means "+records.DefaultKeySecretName+" in the namespace of the operator's ServiceAccount ("+records.DefaultKeyNamespace+" when it runs as another user).")
	flag.DurationVar(&o.activityInterval, "activity-interval", controller.DefaultActivityInterval,
		"How often the audit log of an elevated subject's target is read while its window is open; the audit webhook receiver wakes the request sooner.")
	flag.BoolVar(&o.allowInsecureNotificationURLs, "allow-insecure-notification-urls", false,
		"Permit http:// notification sink URLs, which send every notification and any token unencrypted (for local development).")
	flag.IntVar(&o.maxOpenRequests, "max-open-requests-per-subject", webhookv1alpha1.DefaultMaxOpenRequests,
		"Most open (not yet ended) requests one subject may have on one connection; checked by the webhook on create. 0 means no cap.")
	o.audit.bindFlags(flag.CommandLine)
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	var err error
	o.grantableClusterRoles, err = policy.ParseGrantableClusterRoles(grantable)
	if err == nil {
		err = o.leaderElection.validate()
	}
	if err == nil && o.expiryLead < 0 {
		err = fmt.Errorf("--expiry-lead must not be negative, got %s", o.expiryLead)
	}
	if err == nil && o.expiryRate < 0 {
		err = fmt.Errorf("--expiry-rate must not be negative, got %g", o.expiryRate)
	}
	if err == nil {
		err = o.audit.validate()
	}
	return o, zapOpts, err
}

func main() {
	o, zapOpts, err := parseFlags()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	if err != nil {
		log.Error(err, "parse flags")
		os.Exit(2)
	}

	cfg := ctrl.GetConfigOrDie()
	cfg.QPS, cfg.Burst = float32(o.qps), o.burst
	disableHTTP2 := func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }
	mgrOpts := ctrl.Options{
		Scheme: scheme,
		// Nothing reads managedFields; keeping them out of the cache saves
		// memory at scale (measured by make bench).
		Cache:                  cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
		Metrics:                metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress: o.probeAddr,
		PprofBindAddress:       o.pprofAddr,
		LeaderElection:         o.leaderElect,
		LeaderElectionID:       "elevator.access.elevator.dev",
		WebhookServer:          webhook.NewServer(webhook.Options{Host: o.webhookHost, Port: o.webhookPort, CertDir: o.webhookCertPath, TLSOpts: []func(*tls.Config){disableHTTP2}}),
	}
	o.leaderElection.apply(&mgrOpts)
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		log.Error(err, "create manager")
		os.Exit(1)
	}
	trusted, err := loadTrust(context.Background(), cfg, o)
	if err != nil {
		if o.enableWebhooks {
			log.Error(err, "load the record-signing key")
			os.Exit(1)
		}
		log.Error(err, "load the record-signing key: no record will be trusted")
	}
	if !o.enableWebhooks {
		warnWebhooksOff(log)
	}
	if err := setup(mgr, o, trusted); err != nil {
		log.Error(err, "set up controllers")
		os.Exit(1)
	}
	log.Info("starting manager", "maxDuration", o.maxDuration.String(), "expiryLead", o.expiryLead.String(), "expiryRate", o.expiryRate, "grantableClusterRoles", o.grantableClusterRoles.String(), "webhooks", o.enableWebhooks, "allowedEndpointHosts", o.endpointHosts,
		"auditReceiver", o.audit.bindAddress)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "run manager")
		os.Exit(1)
	}
}

func setup(mgr ctrl.Manager, o options, trusted trust) error {
	hosts, err := endpoint.ParseAllowlist(o.endpointHosts)
	if err != nil {
		return err
	}
	auditStore, err := setupAuditReceiver(mgr, o)
	if err != nil {
		return err
	}
	if err := controller.Setup(mgr, controller.Options{
		Providers: Providers(mgr, kubernetesOptions(auditStore, o)...), MaxDuration: o.maxDuration, ExpiryLead: o.expiryLead, ExpiryRate: o.expiryRate, Workers: o.workers, Records: trusted.signer,
		GrantableClusterRoles: o.grantableClusterRoles, AllowedEndpointHosts: hosts, ActivityInterval: o.activityInterval,
		AllowInsecureNotificationURLs: o.allowInsecureNotificationURLs, ActivityWakeups: activityWakeups(auditStore),
	}); err != nil {
		return err
	}
	if err := setupWebhooks(mgr, o, trusted); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("readyz", healthz.Ping)
}

// Providers is every provider this operator can talk to; kubeOpts configure
// the kubernetes provider (its activity source).
func Providers(mgr ctrl.Manager, kubeOpts ...kubernetes.Option) *provider.Registry {
	reg := provider.NewRegistry(
		kubernetes.Registration(mgr.GetClient(), mgr.GetAPIReader(), kubeOpts...),
		scim.Registration(),
		ldap.Registration(),
		postgres.Registration(),
	)
	// Served at 0 from the start, so that alerts see the first failure.
	metrics.InitProviders(reg.Kinds()...)
	return reg
}
