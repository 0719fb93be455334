package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// counters are the readings taken before and after the driven part of a run.
type counters struct {
	at        time.Time
	operator  map[string]float64
	apiserver map[string]float64
	cpu       time.Duration
	busy      int64
	total     int64
}

func readCounters(ctx context.Context, e *env) (counters, error) {
	c := counters{at: time.Now()}
	var err error
	if c.operator, err = operatorRequests(ctx, e.metrics); err != nil {
		return c, err
	}
	if c.apiserver, err = apiserverRequests(ctx, e); err != nil {
		return c, err
	}
	if c.cpu, err = processCPU(e.operator.PID()); err != nil {
		return c, err
	}
	c.busy, c.total = machineCPU()
	return c, nil
}

// runOne runs the benchmark for n elevations on a fresh control plane and
// operator, so that the operator's peak RSS and CPU belong to this run only.
func runOne(ctx context.Context, cfg config, n int) (res *result, err error) {
	e, stop, err := start(ctx, cfg, n)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, stop()) }()

	watchCtx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
	t := newTimeline(n, cfg.activity, cfg.targets)
	if err := watch(watchCtx, e, t); err != nil {
		return nil, err
	}
	before, err := readCounters(ctx, e)
	if err != nil {
		return nil, err
	}
	started := before.at

	d := &driver{e: e, t: t, n: n, duration: cfg.requestDuration(n), allCreated: make(chan struct{})}
	window := cfg.creationWindow(n)
	// A run ends when everything is revoked, or -grace after the last expiry
	// it saw; a backlog of grants may push expiries later, but never more than
	// one request duration past the planned end.
	planned := time.Now().Add(window + d.duration + cfg.grace)
	deadline := planned.Add(d.duration)
	step("N=%d, %s: creating %d requests over %s (duration %s each), approving them as %s; planned end %s, giving up at %s at the latest",
		n, cfg.pattern, n, window.Round(time.Second), d.duration, approver, planned.Format("15:04:05"), deadline.Format("15:04:05"))
	runCtx, cancelRun := context.WithDeadline(ctx, deadline)
	defer cancelRun()
	load := sampleLoad(runCtx)
	var wg sync.WaitGroup
	if err := d.startWorkers(runCtx, &wg, cfg); err != nil {
		return nil, err
	}
	d.createAll(runCtx, cfg.rate, cfg.pattern != patternPaced)
	created := time.Now()
	close(d.allCreated)
	held, err := d.backlogIfAsked(runCtx, e, cfg, &before)
	if err != nil {
		return nil, err
	}
	waitDone(runCtx, d, t, planned, cfg.grace)
	cancelRun()
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	after, err := readCounters(ctx, e)
	if err != nil {
		return nil, err
	}
	rss, err := peakRSS(e.operator.PID())
	if err != nil {
		return nil, err
	}
	left, err := bindingsLeft(ctx, e)
	if err != nil {
		return nil, err
	}
	res = summarize(t, d, n, after.at)
	res.creationWindow = created.Sub(started)
	res.runTime = after.at.Sub(before.at)
	res.rss, res.bindingsLeft, res.load = rss, left, <-load
	res.operatorArgs, res.operatorEnv, res.pattern, res.sink, res.activityWrites = cfg.operatorArgs, cfg.operatorEnv, cfg.pattern, cfg.sink, cfg.activity
	res.targets = cfg.targets
	res.setBacklog(held, t)
	if e.sink != nil {
		res.sinkPosts = e.sink.received.Load()
	}
	res.setCounters(before, after, d)
	return res, nil
}

// waitDone waits until every created request is terminal and no binding is
// left, or the run's deadline passes, reporting progress now and then.
func waitDone(ctx context.Context, d *driver, t *timeline, planned time.Time, grace time.Duration) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastReport := time.Now()
	for {
		terminal, bindings, active := t.progress()
		if int64(terminal) >= d.created.Load() && bindings == 0 {
			return
		}
		if now := time.Now(); now.After(planned) && now.After(t.lastExpiry().Add(grace)) {
			step("N=%d: %s after the last expiry, %d of %d requests are not terminal and %d bindings are left", d.n, grace, d.created.Load()-int64(terminal), d.created.Load(), bindings)
			return
		}
		if time.Since(lastReport) >= 15*time.Second {
			step("N=%d: %d created, %d approved, %d active, %d bindings, %d terminal (load %.1f)",
				d.n, d.created.Load(), d.approved.Load(), active, bindings, terminal, loadAverage())
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			step("N=%d: deadline reached with %d of %d requests not terminal and %d bindings left", d.n, d.created.Load()-int64(terminal), d.created.Load(), bindings)
			return
		case <-tick.C:
		}
	}
}

// sampleLoad averages the 1-minute load average over the run; the result is
// sent when ctx ends.
func sampleLoad(ctx context.Context) <-chan float64 {
	out := make(chan float64, 1)
	go func() {
		var sum float64
		var count int
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			sum += loadAverage()
			count++
			select {
			case <-ctx.Done():
				out <- sum / float64(count)
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// bindingsLeft lists, fresh from the API server, the bindings the operator made
// that still exist, in every target namespace.
func bindingsLeft(ctx context.Context, e *env) (int, error) {
	left := 0
	for _, ns := range targetNamespaces(e.targets) {
		var list rbacv1.RoleBindingList
		if err := e.admin.List(ctx, &list, client.InNamespace(ns), client.HasLabels{accessv1alpha1.LabelRequestName}); err != nil {
			return 0, fmt.Errorf("list the bindings left in %s: %w", ns, err)
		}
		left += len(list.Items)
	}
	return left, nil
}

// startWorkers starts the approvers and, with -activity, the subjects that
// act while elevated.
func (d *driver) startWorkers(ctx context.Context, wg *sync.WaitGroup, cfg config) error {
	wg.Add(1)
	go func() { defer wg.Done(); d.approveAll(ctx, cfg.approvers, d.approvalOrder(ctx, cfg.pattern)) }()
	if cfg.activity == 0 {
		return nil
	}
	a, err := newActor(d.e.adminCfg, d.t, cfg.activity)
	if err != nil {
		return err
	}
	wg.Add(1)
	go func() { defer wg.Done(); a.actAll(ctx, cfg.approvers) }()
	return nil
}

// backlogIfAsked runs -pattern backlog's kill and restart, and then starts
// the counters again (the restarted operator's start at zero: what follows
// is the drain's cost); nil for the other patterns.
func (d *driver) backlogIfAsked(ctx context.Context, e *env, cfg config, before *counters) (*backlog, error) {
	if cfg.pattern != patternBacklog {
		return nil, nil
	}
	held, err := d.downAcrossExpiry(ctx, e, cfg)
	if err != nil {
		return nil, err
	}
	if *before, err = readCounters(ctx, e); err != nil {
		return nil, err
	}
	return held, nil
}
