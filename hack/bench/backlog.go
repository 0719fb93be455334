package main

import (
	"context"
	"fmt"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// patternBacklog approves all N at once as burst does, kills the operator
// (SIGKILL) once all are Active, waits until every one has expired while it
// is down, and restarts it: the drain of a backlog of due revocations.
const patternBacklog = "backlog"

// backlog is what -pattern backlog measured.
type backlog struct {
	// held are the requests Active when the operator was killed.
	held               []string
	killed, restarted  time.Time
	ready, lastExpired time.Time
}

// downAcrossExpiry waits until every created request is Active, kills the
// operator, waits until all have expired, and restarts it.
func (d *driver) downAcrossExpiry(ctx context.Context, e *env, cfg config) (*backlog, error) {
	b := &backlog{}
	if err := d.waitAllActive(ctx); err != nil {
		return nil, err
	}
	b.held, b.lastExpired = d.t.activeNames()
	if err := e.operator.Kill(); err != nil {
		return nil, err
	}
	b.killed = time.Now()
	step("N=%d, backlog: killed the operator with %d requests Active; restarting it after the last expiry, %s", d.n, len(b.held), b.lastExpired.Format("15:04:05"))
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Until(b.lastExpired.Add(time.Second))):
	}
	b.restarted = time.Now()
	if err := e.startOperator(ctx, cfg, fmt.Sprintf("elevator-n%d-restarted.log", d.n)); err != nil {
		return nil, err
	}
	b.ready = time.Now()
	return b, nil
}

func (d *driver) waitAllActive(ctx context.Context) error {
	<-d.allCreated
	for {
		if _, _, active := d.t.progress(); int64(active) >= d.created.Load() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not all %d requests became Active: %w", d.created.Load(), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// activeNames lists the Active requests and their latest expiresAt.
func (t *timeline) activeNames() ([]string, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var names []string
	var last time.Time
	for name, r := range t.records {
		if r.phase == accessv1alpha1.PhaseActive {
			names = append(names, name)
			if r.expiresAt.After(last) {
				last = r.expiresAt
			}
		}
	}
	return names, last
}

// drain is how long after the restart the last held request was seen
// Revoked, and its binding deleted; zero when one never was.
func (b *backlog) drain(t *timeline) (revoked, gone time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lastRevoked, lastGone time.Time
	for _, name := range b.held {
		r := t.records[name]
		if r.revokedSeen.IsZero() || r.bindingGone.IsZero() {
			return 0, 0
		}
		lastRevoked = maxTime(lastRevoked, r.revokedSeen)
		lastGone = maxTime(lastGone, r.bindingGone)
	}
	return lastRevoked.Sub(b.restarted), lastGone.Sub(b.restarted)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// setBacklog records what -pattern backlog measured.
func (r *result) setBacklog(held *backlog, t *timeline) {
	r.backlog = held
	if held != nil {
		r.drainRevoked, r.drainGone = held.drain(t)
	}
}
