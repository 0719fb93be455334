// Command bench is `make bench`: it measures how fast Elevator starts and ends
// access and how far one operator replica scales. For each size N it starts a
// local control plane (internal/localcluster, the same one `make run` and the
// end-to-end suite use), runs the operator binary as a separate process with its
// own ServiceAccount and webhooks, and drives N elevations with the kubernetes
// provider through the API, each asking for the roles of -targets
// connections: each request is created by a requester, approved through the
// admission webhook by a second identity that holds the RBAC verb approve,
// granted, left to expire and revoked. Informers on the requests and on
// the RoleBindings time every step; the operator's /proc entries and its
// client-go metrics give its memory, CPU and API requests. One table is printed
// per N. See docs/performance.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// config is what the flags set.
type config struct {
	sizes        []int
	rate         float64
	duration     time.Duration
	minDuration  time.Duration
	approvers    int
	operatorArgs []string
	// operatorEnv is -operator-env: NAME=value pairs for the operator's
	// process only (GOMEMLIMIT, say), not for the control plane or the bench.
	operatorEnv []string
	grace       time.Duration
	logDir      string
	pattern     string
	sink        string
	activity    int
	// targets is -targets: how many targets each request asks for.
	targets int
}

// The load shapes -pattern chooses between.
const (
	// patternPaced creates requests at -rate and approves each as soon as it is Pending.
	patternPaced = "paced"
	// patternBurst creates all N as fast as the creators can, waits until all
	// are Pending, then approves them all at once.
	patternBurst = "burst"
)

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	sizes := fs.String("n", "100,1000,10000", "Comma-separated numbers of elevations, one run each.")
	rate := fs.Float64("rate", 25, "Requests created per second: N requests are spread over N/rate seconds.")
	duration := fs.Duration("duration", 0, "spec.duration of every request; 0 means the creation window plus -min-duration, so that all N are active at once at the peak.")
	minDuration := fs.Duration("min-duration", 30*time.Second, "With -duration 0: how long the last request created stays active.")
	approvers := fs.Int("approvers", 8, "Concurrent approvers (each approval is one PATCH through the admission webhook).")
	opArgs := fs.String("operator-args", "", "Extra flags for the operator, space-separated, e.g. \"--workers=16 --kube-api-qps=200\".")
	opEnv := fs.String("operator-env", "", "Environment variables for the operator's process only, NAME=value, space-separated, e.g. \"GOMEMLIMIT=224MiB\" (the Deployment's).")
	grace := fs.Duration("grace", 5*time.Minute, "How long after the last expiry a run waits for revocations before it gives up and reports what is left.")
	logDir := fs.String("log-dir", "bin/bench", "Directory for the operator logs, one per N.")
	activity := fs.Int("activity", 0, "Writes each subject makes while elevated (ConfigMaps, through the audited apiserver); the run reports how long until status.activity counts them, and the audit events the operator received. 0 is off.")
	sink := fs.String("sink", sinkNone, "Notification sink of the connection: none, slow (answers after 5s) or dead (never answers), to show a sink does not slow the lifecycle.")
	targets := fs.Int("targets", 1, fmt.Sprintf("Targets per request (1 to %d): each request asks for the role of that many kubernetes connections (spec.targets), each binding in a namespace of its own; the report adds the cost per target.", accessv1alpha1.MaxTargets))
	pattern := fs.String("pattern", patternPaced, "Load shape: paced (created at -rate, each approved once Pending), burst (all N created first, then all approved at once once every one is Pending; -rate is not used) or backlog (as burst, then the operator is killed once all are Active and restarted after they all expired: the drain of a backlog).")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	cfg := config{rate: *rate, duration: *duration, minDuration: *minDuration, approvers: *approvers,
		operatorArgs: strings.Fields(*opArgs), operatorEnv: strings.Fields(*opEnv), grace: *grace, logDir: *logDir, pattern: *pattern, sink: *sink, activity: *activity, targets: *targets}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return config{}, fmt.Errorf("-n: %q is not a positive number", s)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	for _, kv := range cfg.operatorEnv {
		if name, _, ok := strings.Cut(kv, "="); !ok || name == "" {
			return config{}, fmt.Errorf("-operator-env: %q is not NAME=value", kv)
		}
	}
	if cfg.rate <= 0 || cfg.approvers <= 0 {
		return config{}, fmt.Errorf("-rate and -approvers must be positive")
	}
	if cfg.targets < 1 || cfg.targets > accessv1alpha1.MaxTargets {
		return config{}, fmt.Errorf("-targets: %d is not between 1 and %d (spec.targets' limit)", cfg.targets, accessv1alpha1.MaxTargets)
	}
	if cfg.sink != sinkNone && cfg.sink != sinkSlow && cfg.sink != sinkDead {
		return config{}, fmt.Errorf("-sink: %q is none of %s, %s, %s", cfg.sink, sinkNone, sinkSlow, sinkDead)
	}
	if cfg.sink != sinkNone {
		cfg.operatorArgs = append(cfg.operatorArgs, "--allow-insecure-notification-urls")
	}
	if cfg.pattern != patternPaced && cfg.pattern != patternBurst && cfg.pattern != patternBacklog {
		return config{}, fmt.Errorf("-pattern: %q is none of %s, %s, %s", cfg.pattern, patternPaced, patternBurst, patternBacklog)
	}
	return cfg, nil
}

// creationWindow is how long the creation of n requests is planned to take: n
// at -rate when paced; none in a burst, where it is as fast as the API allows.
func (c config) creationWindow(n int) time.Duration {
	if c.pattern == patternBurst || c.pattern == patternBacklog {
		return 0
	}
	return time.Duration(float64(n) / c.rate * float64(time.Second))
}

// requestDuration is the spec.duration of the run's requests: long enough that
// the first request created is still active when the last one is granted.
func (c config) requestDuration(n int) time.Duration {
	if c.duration > 0 {
		return c.duration
	}
	return (c.creationWindow(n) + c.minDuration).Round(time.Second)
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	// The bench's informers log nothing worth reading; the operator's log is kept per run.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var results []*result
	for _, n := range cfg.sizes {
		res, err := runOne(ctx, cfg, n)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: N=%d: %v\n", n, err)
			os.Exit(1)
		}
		if err := printResult(os.Stdout, res); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		results = append(results, res)
	}
	if len(results) > 1 {
		if err := printSummary(os.Stdout, results); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	for _, r := range results {
		if r.neverRevoked > 0 || r.neverVerified > 0 {
			os.Exit(1)
		}
	}
}

func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s >> %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
