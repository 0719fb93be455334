package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
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
	rs     *replicas
	// violations is set by print from the checker, for main's exit code.
	violations []string
}

// lifecycles counts, by scenario, the requests created and those that ended
// (terminal, or deleted once their revocation was verified).
func (r *result) lifecycles() (created, ended map[string]int) {
	created, ended, _ = r.lifecyclesBy(func(t tracked) string { return t.scenario })
	return created, ended
}

// lifecyclesBy counts created and ended requests by a key of each.
func (r *result) lifecyclesBy(key func(tracked) string) (created, ended map[string]int, keys []string) {
	created, ended = map[string]int{}, map[string]int{}
	tracked := r.w.snapshot()
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	for name, t := range tracked {
		s := r.c.requests[name]
		if s == nil {
			continue // its create failed
		}
		k := key(t)
		if created[k] == 0 {
			keys = append(keys, k)
		}
		created[k]++
		if !s.terminalAt.IsZero() || t.deleted {
			ended[k]++
		}
	}
	sort.Strings(keys)
	return created, ended, keys
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
	r.printOutages(tw)
	apiLags := snapshot(&r.f.mu, &r.f.apiLags)
	tw.add("kube-apiserver restart: restore → verified", "%s", lagSummary(apiLags))
	if !r.cfg.short {
		r.printEtcd(tw)
		r.printHangs(tw)
		r.printBacklogs(tw)
	}
	r.rs.mu.Lock()
	tw.add("replicas that exited on their own (started again) / starts that failed and were retried", "%d / %d", r.rs.selfExits, r.rs.failedRestarts)
	r.rs.mu.Unlock()
	r.printRefusals(tw)
	tw.add("checker passes (every "+checkInterval.String()+")", "%d (%d failed reads); a pass took %s", ticks, readErrors, durationSummary(snapshot(&r.c.mu, &r.c.passes), "passes"))
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
	kinds := []string{faultKill, faultFailover, faultOutage, faultAPIServer, faultRollout}
	if !r.cfg.short {
		kinds = []string{faultKill, faultFailover, faultOutage, faultHang, faultAPIServer, faultEtcd, faultBacklog, faultRollout}
	}
	for _, kind := range kinds {
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
	lags := snapshot(&r.f.mu, &r.f.failoverLags)
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

func (r *result) printOutages(tw *table) {
	created, ended, keys := r.lifecyclesBy(func(t tracked) string { return t.target })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d/%d", k, ended[k], created[k]))
	}
	tw.add("lifecycles by target (ended / created)", "%s", strings.Join(parts, ", "))
	r.c.mu.Lock()
	reads := make([]string, 0, len(r.c.downReads))
	for kind, n := range r.c.downReads {
		reads = append(reads, fmt.Sprintf("%s %d", kind, n))
	}
	r.c.mu.Unlock()
	sort.Strings(reads)
	tw.add("checker reads of a server that failed (it was down)", "%s", strings.Join(reads, ", "))
	outages := snapshot(&r.f.mu, &r.f.outages)
	if len(outages) == 0 {
		tw.add("downstream outages", "none")
	}
	for _, o := range outages {
		readd := "no other path on this server"
		if o.readd != "" {
			readd = fmt.Sprintf("re-added by another path (%s) while down: residual access recorded %v", o.readd, o.readdCaught)
		}
		state := "Revoking, RevocationVerified=False, Warning Event: every request"
		if len(o.downFindings) > 0 {
			state = "NOT as expected: " + strings.Join(o.downFindings, "; ")
		}
		tw.add("outage: "+o.kind, "down %s; while down: %s; overdue metric %g; restore → verified %s; %s",
			o.down.Round(100*time.Millisecond), state, o.overdue, lagSummary(o.lags), readd)
	}
}

// snapshot copies a slice the fault scenarios append to, under their lock.
func snapshot[T any](mu *sync.Mutex, s *[]T) []T {
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(*s)
}

func lagSummary(lags []time.Duration) string {
	return durationSummary(lags, "requests")
}

// durationSummary is the min, median and max of ds, over how many of what.
func durationSummary(ds []time.Duration, of string) string {
	if len(ds) == 0 {
		return "not measured"
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return fmt.Sprintf("min %s, median %s, max %s over %d %s",
		ds[0].Round(10*time.Millisecond), ds[len(ds)/2].Round(10*time.Millisecond), ds[len(ds)-1].Round(10*time.Millisecond), len(ds), of)
}

func (r *result) printEtcd(tw *table) {
	etcds := snapshot(&r.f.mu, &r.f.etcds)
	if len(etcds) == 0 {
		tw.add("etcd restart", "not measured")
	}
	for _, e := range etcds {
		tw.add("etcd restart: SIGTERM → apiserver serving", "%s (etcd exited after %s, healthy again after %s; healthy → apiserver serving %s); serving → verified %s",
			e.at.serving.Sub(e.at.signalled).Round(100*time.Millisecond), e.at.exited.Sub(e.at.signalled).Round(100*time.Millisecond),
			e.at.healthy.Sub(e.at.signalled).Round(100*time.Millisecond), e.at.serving.Sub(e.at.healthy).Round(100*time.Millisecond), lagSummary(e.lags))
	}
}

func (r *result) printHangs(tw *table) {
	hangs := snapshot(&r.f.mu, &r.f.hangs)
	if len(hangs) == 0 {
		tw.add("hung server", "not measured")
	}
	for _, h := range hangs {
		state := "Revoking, RevocationVerified=False, Warning Event: every request"
		if len(h.downFindings) > 0 {
			state = "NOT as expected: " + strings.Join(h.downFindings, "; ")
		}
		verdict := "within"
		if len(h.lags) == 0 || slices.Max(h.lags) > hangRestoreBound {
			verdict = "OVER"
		}
		tw.add("hung server: "+h.kind, "hung %s; while hung: %s; overdue metric %g; SIGCONT → verified %s (%s the bound of timeout %s + retry cap + 2 s = %s)",
			h.hung.Round(100*time.Millisecond), state, h.overdue, lagSummary(h.lags), verdict, ldapTimeout, hangRestoreBound)
		tw.add("hung server: cluster batch expiring during the hang", "expiry → verified %s; %d of %d verified before SIGCONT",
			lagSummary(h.others), h.othersInHang, hangOthers)
		tw.add("hung server: every cluster request whose window ended during the hang", "end → verified %s", lagSummary(h.elsewhere))
	}
}

func (r *result) printBacklogs(tw *table) {
	backlogs := snapshot(&r.f.mu, &r.f.backlogs)
	if len(backlogs) == 0 {
		tw.add("backlog", "not measured")
	}
	for _, b := range backlogs {
		tw.add("backlog: both replicas down across expiry", "%d requests (%d more never granted: approved after the pending timeout); down %s; %d verified before the restart (want 0); restart → verified %s; expiry → verified %s",
			b.requests, b.notGranted, b.down.Round(100*time.Millisecond), b.early, lagSummary(b.drain), lagSummary(b.expiry))
	}
}

// printRefusals reports the replicas' log lines in which the apiserver
// refused the operator's ServiceAccount, with the first one: read them
// against config/rbac (a kube-apiserver just restarted refuses for a moment
// too, while its RBAC caches fill).
func (r *result) printRefusals(tw *table) {
	lines, err := r.rs.refusedByRBAC()
	switch {
	case err != nil:
		tw.add("requests of the operator refused by RBAC (replicas' logs)", "not read: %v", err)
	case len(lines) == 0:
		tw.add("requests of the operator refused by RBAC (replicas' logs)", "0")
	default:
		tw.add("requests of the operator refused by RBAC (replicas' logs)", "%d; the first: %.240s", len(lines), lines[0])
	}
}
