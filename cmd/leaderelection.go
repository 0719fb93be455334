package main

import (
	"flag"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// leaderElection is the lease timing of --leader-elect. With the defaults a
// crashed leader's lease runs out within 15 s and a standby takes over at the
// next retry, so expiries due meanwhile are revoked at most about
// lease duration + retry period late (docs/reliability.md measures it).
type leaderElection struct {
	leaseDuration time.Duration
	renewDeadline time.Duration
	retryPeriod   time.Duration
	// namespace holds the Lease; empty means the namespace the operator runs
	// in (in a cluster), which is where config/rbac lets it write Leases.
	namespace string
}

func (l *leaderElection) bindFlags(fs *flag.FlagSet) {
	fs.DurationVar(&l.leaseDuration, "leader-elect-lease-duration", 15*time.Second,
		"How long a standby replica waits after the leader's last renewal before it takes the lease over: the bound on how long a crashed leader leaves work undone.")
	fs.DurationVar(&l.renewDeadline, "leader-elect-renew-deadline", 10*time.Second,
		"How long the leader keeps retrying to renew its lease before it gives up leading (and exits); less than the lease duration.")
	fs.DurationVar(&l.retryPeriod, "leader-elect-retry-period", 2*time.Second,
		"How often replicas try to acquire or renew the lease.")
	fs.StringVar(&l.namespace, "leader-elect-namespace", "",
		"Namespace of the leader-election Lease; empty means the namespace the operator runs in (required when it runs outside a cluster).")
}

// validate checks the order client-go's leader election requires
// (lease > renew deadline > retry period × 1.2), so a bad setting fails at
// start-up with the flag names instead of deep inside the manager.
func (l *leaderElection) validate() error {
	if l.retryPeriod <= 0 {
		return fmt.Errorf("--leader-elect-retry-period must be positive, got %s", l.retryPeriod)
	}
	if l.renewDeadline <= time.Duration(1.2*float64(l.retryPeriod)) {
		return fmt.Errorf("--leader-elect-renew-deadline (%s) must be more than 1.2 × --leader-elect-retry-period (%s)", l.renewDeadline, l.retryPeriod)
	}
	if l.leaseDuration <= l.renewDeadline {
		return fmt.Errorf("--leader-elect-lease-duration (%s) must be more than --leader-elect-renew-deadline (%s)", l.leaseDuration, l.renewDeadline)
	}
	return nil
}

// apply sets the lease timings and namespace on the manager's options.
func (l *leaderElection) apply(o *ctrl.Options) {
	o.LeaseDuration = &l.leaseDuration
	o.RenewDeadline = &l.renewDeadline
	o.RetryPeriod = &l.retryPeriod
	o.LeaderElectionNamespace = l.namespace
	// A replica stopped with SIGTERM (a rollout) hands the lease over at once
	// instead of leaving the standby to wait out the lease. Safe because main
	// exits as soon as the manager returns.
	o.LeaderElectionReleaseOnCancel = true
}
