package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

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

func (r *result) print(out io.Writer) {
	r.c.mu.Lock()
	r.violations = slices.Clone(r.c.violations)
	ticks, readErrors := r.c.ticks, r.c.readErrors
	r.c.mu.Unlock()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	mode := "full"
	if r.cfg.short {
		mode = "short"
	}
	fmt.Fprintf(tw, "chaos (%s), seed %d\t\n", mode, r.cfg.seed)
	fmt.Fprintf(tw, "run time (driven / total)\t%s / %s\n", r.driven.Round(time.Second), r.total.Round(time.Second))
	fmt.Fprintf(tw, "lease / renew / retry\t%s / %s / %s (bound of invariant 1: %s past the end)\n", leaseDuration, renewDeadline, retryPeriod, accessBound)
	r.printFaults(tw)
	r.printLifecycles(tw)
	r.printFailover(tw)
	fmt.Fprintf(tw, "checker passes (every %s)\t%d (%d failed reads)\n", checkInterval, ticks, readErrors)
	r.w.mu.Lock()
	fmt.Fprintf(tw, "creates / approvals that failed every attempt\t%d / %d\n", r.w.createErrors, r.w.approveErrors)
	firstErrors := slices.Clone(r.w.firstErrors)
	r.w.mu.Unlock()
	fmt.Fprintf(tw, "invariant violations\t%d\n", len(r.violations))
	_ = tw.Flush()
	for _, e := range firstErrors {
		fmt.Fprintln(out, "  workload error:", e)
	}
	for _, v := range r.violations {
		fmt.Fprintln(out, "  VIOLATION", v)
	}
}

func (r *result) printFaults(tw io.Writer) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	total := 0
	for _, kind := range []string{faultKill, faultFailover, faultRollout} {
		fmt.Fprintf(tw, "faults: %s\t%d\n", kind, r.f.counts[kind])
		total += r.f.counts[kind]
	}
	fmt.Fprintf(tw, "faults: total\t%d\n", total)
}

func (r *result) printLifecycles(tw io.Writer) {
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
	fmt.Fprintf(tw, "lifecycles ended / created\t%d / %d (%s)\n", sumE, sumC, strings.Join(parts, ", "))
}

func (r *result) printFailover(tw io.Writer) {
	r.f.mu.Lock()
	lags := slices.Clone(r.f.failoverLags)
	r.f.mu.Unlock()
	if len(lags) == 0 {
		fmt.Fprintf(tw, "expiry → verified revocation across failover\tnot measured\n")
		return
	}
	slices.Sort(lags)
	verdict := "within"
	if lags[len(lags)-1] > leaseDuration+time.Second {
		verdict = "OVER"
	}
	fmt.Fprintf(tw, "expiry → verified revocation across failover\tmin %s, median %s, max %s over %d requests (%s the goal of lease + 1 s = %s)\n",
		lags[0].Round(10*time.Millisecond), lags[len(lags)/2].Round(10*time.Millisecond), lags[len(lags)-1].Round(10*time.Millisecond),
		len(lags), verdict, leaseDuration+time.Second)
}
