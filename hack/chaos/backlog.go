package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

const faultBacklog = "both replicas down across expiry (backlog)"

const (
	// backlogBatch is how many requests on the cluster target expire while
	// no replica runs; each server gets a batch of outageBatch besides.
	backlogBatch = 100
	// backlogAfter is how long after the batch's last expiry both replicas
	// are started again.
	backlogAfter = 2 * time.Second
	// backlogKillBefore is when, before the batch's first expiry, both
	// replicas are killed: before the 1 s --expiry-lead and the expiry
	// calendar's extra lead (up to a tenth of the 20 s window) start any of
	// its removals.
	backlogKillBefore = 4 * time.Second
)

// backlogResult is what one backlog measured.
type backlogResult struct {
	requests int
	down     time.Duration
	// drain is start of the replicas → the checker's first read of each
	// request of the batch Revoked and verified; expiry is expiresAt → that.
	drain  []time.Duration
	expiry []time.Duration
	// early counts requests of the batch verified before the restart: a
	// replica still ran, so there was no backlog.
	early int
	// notGranted counts requests of the batch never granted (their approval
	// came after the pending timeout); they are not in the backlog.
	notGranted int
}

// backlog grants a batch on every target that expires together, kills both
// replicas with SIGKILL just before the first expiry, starts them again
// after the last, and measures the drain of the due revocations: the operator
// down across expiry with a backlog (issue 16), scaled to the suite. The
// checker's bound of invariant 1 counts from when a leader leads again.
func (f *faults) backlog(ctx context.Context) {
	f.waitBothUp(ctx)
	var names []string
	for i := range backlogBatch {
		names = append(names, f.w.launch(ctx, scenarioBacklog, targetKubernetes, fmt.Sprintf("dev-%d", i%subjects), 20*time.Second))
	}
	subs := outageSubjects()
	for kind := range f.c.servers {
		for i := range outageBatch {
			names = append(names, f.w.launch(ctx, scenarioBacklog, kind, subs[i], 20*time.Second))
		}
	}
	// A burst of creates on loaded cores may see an approval come after the
	// connection's pending timeout (the request then expires unapproved, no
	// violation): the backlog is what was granted.
	names, notGranted, first, last, err := f.granted(ctx, names)
	if err == nil && len(names) == 0 {
		err = fmt.Errorf("none of the %d requests was granted", notGranted)
	}
	if err != nil {
		f.fail(fmt.Errorf("backlog: %w", err))
		return
	}
	sleep(ctx, time.Until(first.Add(-backlogKillBefore)))
	step("backlog: kill -9 both replicas %s before %d requests expire from %s to %s", backlogKillBefore, len(names), first.Format("15:04:05.000"), last.Format("15:04:05.000"))
	downAt := time.Now()
	for i := range replicaCount {
		if err := f.rs.kill(i, false); err != nil {
			f.fail(err)
		}
	}
	f.count(faultBacklog)
	sleep(ctx, time.Until(last.Add(backlogAfter)))
	res := backlogResult{requests: len(names), notGranted: notGranted}
	res.early = f.c.countVerified(names)
	upAt := time.Now()
	res.down = upAt.Sub(downAt)
	step("backlog: starting both replicas after %s down", res.down.Round(100*time.Millisecond))
	for i := range replicaCount {
		f.restartAfter(ctx, i, 0)
	}
	res.drain = f.collectRestoreLags(ctx, "backlog", names, upAt)
	res.expiry, _ = f.c.lags(names)
	f.restarts.Wait()
	f.mu.Lock()
	f.backlogs = append(f.backlogs, res)
	f.mu.Unlock()
}

// expiryRange waits until every named request is Active and returns the
// earliest and the latest expiresAt.
func (f *faults) expiryRange(ctx context.Context, names []string) (first, last time.Time, err error) {
	for _, name := range names {
		at, err := f.activeUntil(ctx, name, time.Minute)
		if err != nil {
			return first, last, err
		}
		first, last = earliest(first, at), latest(last, at)
	}
	return first, last, nil
}

// granted waits up to 30 s for each named request to become Active and
// returns those that did, how many did not, and the earliest and latest
// expiresAt of those that did.
func (f *faults) granted(ctx context.Context, names []string) (out []string, notGranted int, first, last time.Time, err error) {
	for _, name := range names {
		at, err := f.activeUntil(ctx, name, 30*time.Second)
		if errors.Is(err, errNotActive) {
			notGranted++
			continue
		}
		if err != nil {
			return nil, 0, first, last, err
		}
		out = append(out, name)
		first, last = earliest(first, at), latest(last, at)
	}
	return out, notGranted, first, last, nil
}

// earliest and latest fold at into a range; a zero time is no bound yet.
func earliest(first, at time.Time) time.Time {
	if first.IsZero() || at.Before(first) {
		return at
	}
	return first
}

func latest(last, at time.Time) time.Time {
	if at.After(last) {
		return at
	}
	return last
}
