package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// table is the printed result: one key and value a row, keys padded to one
// width.
type table struct{ rows [][2]string }

func (t *table) add(key, format string, args ...any) {
	t.rows = append(t.rows, [2]string{key, fmt.Sprintf(format, args...)})
}

func (t *table) String() string {
	width := 0
	for _, r := range t.rows {
		width = max(width, len([]rune(r[0])))
	}
	b := &strings.Builder{}
	for _, r := range t.rows {
		fmt.Fprintf(b, "%s%s  %s\n", r[0], strings.Repeat(" ", width-len([]rune(r[0]))), r[1])
	}
	return b.String()
}

// result is what a run measured.
type result struct {
	cfg    config
	total  time.Duration
	driven time.Duration
	f      *faults
	w      *workload
	c      *checker
	// violations is set by print from the checker, for main's exit code.
	violations []string
}

// lifecycles counts, by scenario, the requests created and those that ended
// (terminal, or deleted once their revocation was verified).
func (r *result) lifecycles() (created, ended map[string]int) {
	created, ended = map[string]int{}, map[string]int{}
	tracked := r.w.snapshot()
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	for name, t := range tracked {
		s := r.c.requests[name]
		if s == nil {
			continue // its create failed
		}
		created[t.scenario]++
		if !s.terminalAt.IsZero() || t.deleted {
			ended[t.scenario]++
		}
	}
	return created, ended
}

func (r *result) print(out io.Writer) error {
	r.c.mu.Lock()
	r.violations = slices.Clone(r.c.violations)
	ticks, readErrors, late := r.c.ticks, r.c.readErrors, r.c.lateApprovals
	r.c.mu.Unlock()
	tw := &table{}
	mode := "full"
	if r.cfg.short {
		mode = "short"
	}
	tw.add("chaos ("+mode+")", "seed %d", r.cfg.seed)
	tw.add("run time (driven / total)", "%s / %s", r.driven.Round(time.Second), r.total.Round(time.Second))
	tw.add("lease / renew / retry", "%s / %s / %s (bound of invariant 1: %s past the end)", leaseDuration, renewDeadline, retryPeriod, accessBound)
	r.printFaults(tw)
	r.printLifecycles(tw)
	r.printFailover(tw)
	tw.add("checker passes (every "+checkInterval.String()+")", "%d (%d failed reads)", ticks, readErrors)
	r.w.mu.Lock()
	tw.add("creates / approvals that failed every attempt", "%d / %d", r.w.createErrors, r.w.approveErrors)
	firstErrors := slices.Clone(r.w.firstErrors)
	r.w.mu.Unlock()
	tw.add("approvals admitted after the pending timeout (expired, not a violation)", "%d", late)
	tw.add("invariant violations", "%d", len(r.violations))
	b := &strings.Builder{}
	b.WriteString(tw.String())
	for _, e := range firstErrors {
		fmt.Fprintln(b, "  workload error:", e)
	}
	for _, v := range r.violations {
		fmt.Fprintln(b, "  VIOLATION", v)
	}
	if _, err := io.WriteString(out, b.String()); err != nil {
		return fmt.Errorf("print the result: %w", err)
	}
	return nil
}

func (r *result) printFaults(tw *table) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	total := 0
	for _, kind := range []string{faultKill, faultFailover, faultRollout} {
		tw.add("faults: "+kind, "%d", r.f.counts[kind])
		total += r.f.counts[kind]
	}
	tw.add("faults: total", "%d", total)
}

func (r *result) printLifecycles(tw *table) {
	created, ended := r.lifecycles()
	var names []string
	sumC, sumE := 0, 0
	for s := range created {
		names = append(names, s)
	}
	sort.Strings(names)
	var parts []string
	for _, s := range names {
		parts = append(parts, fmt.Sprintf("%s %d/%d", s, ended[s], created[s]))
		sumC, sumE = sumC+created[s], sumE+ended[s]
	}
	tw.add("lifecycles ended / created", "%d / %d (%s)", sumE, sumC, strings.Join(parts, ", "))
}

func (r *result) printFailover(tw *table) {
	r.f.mu.Lock()
	lags := slices.Clone(r.f.failoverLags)
	r.f.mu.Unlock()
	if len(lags) == 0 {
		tw.add("expiry → verified revocation across failover", "not measured")
		return
	}
	slices.Sort(lags)
	verdict := "within"
	if lags[len(lags)-1] > leaseDuration+time.Second {
		verdict = "OVER"
	}
	tw.add("expiry → verified revocation across failover", "min %s, median %s, max %s over %d requests in %d failovers (%s the goal of lease + 1 s = %s)",
		lags[0].Round(10*time.Millisecond), lags[len(lags)/2].Round(10*time.Millisecond), lags[len(lags)-1].Round(10*time.Millisecond),
		len(lags), len(lags)/failoverBatch, verdict, leaseDuration+time.Second)
}
