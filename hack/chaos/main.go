// Command chaos is `make chaos` (and `make chaos-short`, part of `make test`):
// the fault suite of issue 16. It starts a local control plane
// (internal/localcluster) and slapd, PostgreSQL and the scimmy SCIM server,
// runs two operator replicas as separate processes with --leader-elect behind
// TCP forwarders on the webhook and audit receiver addresses (as a Service
// would balance them), drives a mixed workload of elevations on the four
// providers, and injects faults: kill -9 of a random replica, kill -9 of the
// leader while expiries are due, downstream outages across expiries, a hung
// slapd (SIGSTOP) across an expiry, a kube-apiserver restart, an etcd restart
// and a graceful rollout (the hang and etcd in the full form only). An
// independent checker reads the RoleBindings, SubjectAccessReviews and each
// server's members fresh every 250 ms, with clients of its own, and asserts
// the invariants of docs/reliability.md; any violation makes the program exit
// non-zero.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// The lease timings the replicas run with: short, so that a failover fits in
// a short run; the bound of invariant 1 is derived from them. A standby
// retries every retry period stretched by up to 1.2× (client-go's jitter),
// so it takes a crashed leader's lease up to lease + 2.2 × retry after the
// last renewal: 500 ms keeps that within lease + 1.1 s.
const (
	leaseDuration = 4 * time.Second
	renewDeadline = 3 * time.Second
	retryPeriod   = 500 * time.Millisecond
)

// accessBound is how long past its end (expiresAt, an early revoke or a
// deletion) access may still be seen while an operator is up: a failover
// (one lease) plus 2 s for the revoke, its verification and the checker's
// own poll.
const accessBound = leaseDuration + 2*time.Second

// restoreBound is how long past a downstream server's restore access that had
// to end while it was down may still be seen: the operator's cap on retry
// backoff (5 s, internal/controller) plus 2 s for the revoke, its
// verification and the checker's poll.
const restoreBound = 5*time.Second + 2*time.Second

// The fault scenarios, in the order a run injects them; -only picks some.
const (
	phaseSweep     = "sweep"
	phaseFailover  = "failover"
	phaseOutage    = "outage"
	phaseHang      = "hang"
	phaseAPIServer = "apiserver"
	phaseEtcd      = "etcd"
	phaseBacklog   = "backlog"
	phaseRollout   = "rollout"
)

var phases = []string{phaseSweep, phaseFailover, phaseOutage, phaseHang, phaseAPIServer, phaseEtcd, phaseBacklog, phaseRollout}

// fullOnly are the scenarios of the full form only.
var fullOnly = map[string]bool{phaseHang: true, phaseEtcd: true, phaseBacklog: true}

// config is what the flags set.
type config struct {
	short    bool
	duration time.Duration
	seed     uint64
	kills    int
	logDir   string
	// only are the scenarios -only picked; nil: every one of the form.
	only map[string]bool
}

// runs says whether the run injects the scenario: the short form has
// neither the hang nor the etcd restart.
func (c config) runs(phase string) bool {
	if c.short && fullOnly[phase] {
		return false
	}
	return c.only == nil || c.only[phase]
}

// parseOnly reads -only, a comma-separated list of scenarios.
func parseOnly(raw string) (map[string]bool, error) {
	if raw == "" {
		return nil, nil
	}
	out := map[string]bool{}
	for _, name := range strings.Split(raw, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(phases, name) {
			return nil, fmt.Errorf("-only: unknown scenario %q (want some of %s)", name, strings.Join(phases, ","))
		}
		out[name] = true
	}
	return out, nil
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	short := fs.Bool("short", false, "The short form (a few minutes): one sweep of 10 kills, one failover, one rollout.")
	duration := fs.Duration("duration", 0, "How long the random-kill sweep runs; 0 means 60s with -short and 5m without.")
	seed := fs.Uint64("seed", 0, "Seed of the workload and fault schedule; 0 picks one from the clock (printed, to reproduce a run).")
	logDir := fs.String("log-dir", "bin/chaos", "Directory for the operator replicas' logs.")
	only := fs.String("only", "", "Run only these scenarios, comma-separated, in the usual order: "+strings.Join(phases, ",")+
		" (hang and etcd are in the full form only); empty runs them all.")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	picked, err := parseOnly(*only)
	if err != nil {
		return config{}, err
	}
	cfg := config{short: *short, duration: *duration, seed: *seed, logDir: *logDir, kills: 10, only: picked}
	if cfg.duration == 0 {
		cfg.duration = 60 * time.Second
		if !cfg.short {
			cfg.duration = 5 * time.Minute
		}
	}
	if !cfg.short {
		// About one kill every 6 s over the sweep.
		cfg.kills = max(10, int(cfg.duration/(6*time.Second)))
	}
	if cfg.seed == 0 {
		cfg.seed = uint64(time.Now().UnixNano())
	}
	return cfg, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	ctrllog.SetLogger(logr.Discard())
	// The checker's watch retries on its own while the apiserver or etcd is
	// down (a fault of the run); its errors would only clutter the report.
	klog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	step("seed %d (rerun with -seed %d)", cfg.seed, cfg.seed)
	rng := rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15)) //nolint:gosec // a reproducible fault schedule, not a secret
	res, err := run(ctx, cfg, rng)
	if res != nil {
		err = errors.Join(err, res.print(os.Stdout))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	if len(res.violations) > 0 {
		fmt.Fprintf(os.Stderr, "chaos: %d invariant violations\n", len(res.violations))
		os.Exit(1)
	}
}

func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s >> %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}
