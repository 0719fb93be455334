package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// dist is a latency distribution.
type dist struct {
	count          int
	p50, p99, maxv time.Duration
}

func distOf(values []time.Duration) dist {
	if len(values) == 0 {
		return dist{}
	}
	slices.Sort(values)
	return dist{count: len(values), p50: percentile(values, 0.50), p99: percentile(values, 0.99), maxv: values[len(values)-1]}
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(rank, 0)]
}

func (d dist) String() string {
	if d.count == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s / %s / %s", ms(d.p50), ms(d.p99), ms(d.maxv))
}

func ms(d time.Duration) string {
	if d.Abs() >= 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// result is one run's figures.
type result struct {
	n, created, approved        int
	createErrs, approveErrs     int
	errors                      []string
	duration                    time.Duration
	creationWindow, runTime     time.Duration
	peakActive, peakBindings    int
	approveCall                 dist
	approvalToAccess            dist
	approvalToActive            dist
	expiryToGone                dist
	expiryToVerified            dist
	expiryToRevokedSeen         dist
	overrun, shortfall          dist
	overran                     int
	neverGranted, notExpired    int
	neverRevoked, neverVerified int
	bindingsLeft                int
	rss                         int64
	cpu                         time.Duration
	machineBusy, load           float64
	reads, writes               float64
	byMethod                    map[string]float64
	controller                  map[string]float64
	breakdown                   map[string]float64
	operatorArgs                []string
	operatorEnv                 []string
	pattern                     string
	// targets is -targets: the targets of every request.
	targets int
	// sink is the -sink mode, and sinkPosts the notification posts it got.
	sink      string
	sinkPosts int64
	// activityWrites is -activity; acted and actErrs count the subjects
	// whose writes were done or failed; actionToStatus is writes done →
	// status.activity counting them.
	activityWrites, acted, actErrs int
	actionToStatus                 dist
	// backlog is set by -pattern backlog.
	backlog *backlog
	// drainRevoked and drainGone are restart → last held request Revoked
	// seen, and its binding deleted.
	drainRevoked, drainGone time.Duration
}

// overrunOf is how long access outlived its window: from expiresAt to the
// bench's own sight of the binding deleted, or 0 when it was gone before.
func overrunOf(expiresAt, gone time.Time) time.Duration {
	return max(gone.Sub(expiresAt), 0)
}

// shortfallOf is how much of the requested duration the subject did not get:
// the duration less the time the bench saw the binding exist. Both ends are
// the bench's watch, so its delivery delay cancels out; negative would mean
// access longer than asked for.
func shortfallOf(requested time.Duration, seen, gone time.Time) time.Duration {
	return requested - gone.Sub(seen)
}

// summarize turns the timeline into latencies and counts.
func summarize(t *timeline, d *driver, n int, end time.Time) *result {
	t.mu.Lock()
	defer t.mu.Unlock()
	res := &result{n: n, created: int(d.created.Load()), approved: int(d.approved.Load()),
		createErrs: int(d.createErrs.Load()), approveErrs: int(d.approveErr.Load()), errors: d.firstErrs,
		duration: d.duration, peakActive: t.peakActive, peakBindings: t.peakBindings}
	var s samples
	for _, r := range t.records {
		if r.created.IsZero() {
			continue
		}
		if !s.addGrant(r) {
			res.neverGranted++
			continue
		}
		s.addExpiry(r, res, d.duration, end)
	}
	res.approveCall, res.approvalToAccess = distOf(s.approveCall), distOf(s.toAccess)
	res.approvalToActive = distOf(s.toActive)
	res.expiryToGone, res.expiryToVerified, res.expiryToRevokedSeen = distOf(s.toGone), distOf(s.toVerified), distOf(s.toSeen)
	res.overrun, res.shortfall = distOf(s.overrun), distOf(s.shortfall)
	res.actionToStatus = distOf(activitySamples(t, res))
	return res
}

// samples are the per-request latencies summarize collects.
type samples struct {
	approveCall, toAccess, toActive []time.Duration
	toGone, toVerified, toSeen      []time.Duration
	overrun, shortfall              []time.Duration
}

// addGrant records the approval and grant latencies of one request, and
// reports whether its access was ever seen.
func (s *samples) addGrant(r *record) bool {
	if !r.approveDone.IsZero() {
		s.approveCall = append(s.approveCall, r.approveDone.Sub(r.approveSent))
	}
	if r.bindingSeen.IsZero() {
		return false
	}
	if !r.approveDone.IsZero() {
		s.toAccess = append(s.toAccess, r.bindingSeen.Sub(r.approveDone))
	}
	if !r.approveDone.IsZero() && !r.activeSeen.IsZero() {
		s.toActive = append(s.toActive, r.activeSeen.Sub(r.approveDone))
	}
	return true
}

// addExpiry records how one granted request's access ended. Access whose
// expiresAt lies after end and that still exists is not counted as unrevoked:
// it is still within its window. Access already removed counts whatever its
// expiresAt, since the operator's expiry lead removes it before.
func (s *samples) addExpiry(r *record, res *result, requested time.Duration, end time.Time) {
	if !r.expiresAt.IsZero() && r.expiresAt.After(end) && r.bindingGone.IsZero() {
		res.notExpired++
		return
	}
	if r.bindingGone.IsZero() || r.phase != accessv1alpha1.PhaseRevoked {
		res.neverRevoked++
	}
	if r.verifiedAt.IsZero() {
		res.neverVerified++
	}
	if r.expiresAt.IsZero() {
		return
	}
	if !r.bindingGone.IsZero() {
		s.toGone = append(s.toGone, r.bindingGone.Sub(r.expiresAt))
		s.overrun = append(s.overrun, overrunOf(r.expiresAt, r.bindingGone))
		s.shortfall = append(s.shortfall, shortfallOf(requested, r.bindingSeen, r.bindingGone))
		if r.bindingGone.After(r.expiresAt) {
			res.overran++
		}
	}
	if !r.verifiedAt.IsZero() {
		s.toVerified = append(s.toVerified, r.verifiedAt.Sub(r.expiresAt))
	}
	if !r.revokedSeen.IsZero() {
		s.toSeen = append(s.toSeen, r.revokedSeen.Sub(r.expiresAt))
	}
}

// setCounters fills in the operator's CPU and API requests during the run, and
// the apiserver's requests by resource with the bench's own creates and
// approvals taken out.
func (r *result) setCounters(before, after counters, d *driver) {
	r.cpu = after.cpu - before.cpu
	if total := after.total - before.total; total > 0 {
		r.machineBusy = float64(after.busy-before.busy) / float64(total)
	}
	r.byMethod = map[string]float64{}
	r.controller = map[string]float64{}
	for method, v := range after.operator {
		delta := v - before.operator[method]
		if strings.Contains(method, "_") {
			r.controller[method] = delta
			continue
		}
		r.byMethod[method] = delta
		if method == "GET" {
			r.reads += delta
		} else {
			r.writes += delta
		}
	}
	r.breakdown = map[string]float64{}
	for key, v := range after.apiserver {
		if delta := v - before.apiserver[key]; delta > 0 {
			r.breakdown[key] = delta
		}
	}
	r.breakdown["POST elevationrequests"] -= float64(d.created.Load() + d.createErrs.Load())
	r.breakdown["PATCH elevationrequests"] -= float64(d.approved.Load() + d.approveErr.Load())
}

func (r *result) perLifecycle(v float64) float64 {
	if r.created == 0 {
		return 0
	}
	return v / float64(r.created)
}

// perTarget is v per target granted and revoked: per lifecycle divided by
// -targets, the figure to hold against a single-target run's per lifecycle.
func (r *result) perTarget(v float64) float64 {
	return r.perLifecycle(v) / float64(max(r.targets, 1))
}

// rows are the table's lines, label and value.
func (r *result) rows() [][2]string {
	mib := float64(r.rss) / (1 << 20)
	rows := [][2]string{
		{"N (created / approved), pattern", fmt.Sprintf("%d (%d / %d), %s", r.n, r.created, r.approved, r.pattern)},
		{"targets per request (-targets); targets granted in the run", fmt.Sprintf("%d; %d", max(r.targets, 1), r.created*max(r.targets, 1))},
		{"request duration, creation window, run time", fmt.Sprintf("%s, %s, %s", r.duration, ms(r.creationWindow), ms(r.runTime))},
		{"peak concurrently Active (bindings present)", fmt.Sprintf("%d (%d)", r.peakActive, r.peakBindings)},
		{"approve PATCH through the webhook p50 / p99 / max", r.approveCall.String()},
		{"approval → access (every target's binding exists) p50 / p99 / max", r.approvalToAccess.String()},
		{"approval → phase Active seen by a watch p50 / p99 / max", r.approvalToActive.String()},
		{"expiresAt → access gone (the last binding deleted) p50 / p99 / max", r.expiryToGone.String()},
		{"overrun: access after expiresAt, max(0, binding deleted − expiresAt) p50 / p99 / max", r.overrun.String()},
		{"  requests whose access outlived expiresAt", fmt.Sprintf("%d of %d", r.overran, r.overrun.count)},
		{"shortfall: spec.duration − time the binding existed p50 / p99 / max", r.shortfall.String()},
		{"expiresAt → revocation.verifiedAt p50 / p99 / max (both stored to the second)", r.expiryToVerified.String()},
		{"expiresAt → Revoked seen by a watch p50 / p99 / max", r.expiryToRevokedSeen.String()},
		{"never granted / still in their window at the end", fmt.Sprintf("%d / %d", r.neverGranted, r.notExpired)},
		{"expired but never revoked / never verified", fmt.Sprintf("%d / %d", r.neverRevoked, r.neverVerified)},
		{"bindings left at the end (fresh LIST)", fmt.Sprint(r.bindingsLeft)},
		{"notification sink (-sink), posts it received", fmt.Sprintf("%s, %d", r.sinkOrNone(), r.sinkPosts)},
		{"activity: writes per subject; subjects that acted / failed to; audit events the operator received (per second of the run)", r.activityRow()},
		{"activity: subject's writes done → status.activity counts them p50 / p99 / max", r.actionToStatus.String()},
		{"backlog: requests Active at the kill; restart → ready / last Revoked seen / last binding deleted", r.backlogRow()},
		{"operator peak RSS (VmHWM)", fmt.Sprintf("%.1f MiB", mib)},
		{"operator CPU during the run", fmt.Sprintf("%.1f s", r.cpu.Seconds())},
		{"operator API requests per lifecycle: reads / writes", fmt.Sprintf("%.1f / %.1f", r.perLifecycle(r.reads), r.perLifecycle(r.writes))},
		{"  writes that store something / SubjectAccessReviews (a POST that stores nothing)", r.writeKinds()},
		{"operator API requests per target: reads / writes (writes that store something)", r.targetCost()},
		{"  by method", r.methods()},
		{"operator reconciles per lifecycle; mean reconcile time; mean wait in the work queue", r.reconciles()},
		{"Events dropped because the recorder's queue was full", fmt.Sprint(r.controller["elevator_events_dropped_total"])},
		{"machine: CPU busy, mean 1-min load (2 cores)", fmt.Sprintf("%.0f%%, %.1f", 100*r.machineBusy, r.load)},
	}
	if r.createErrs+r.approveErrs > 0 {
		rows = append(rows, [2]string{"failed creates / approvals", fmt.Sprintf("%d / %d: %s", r.createErrs, r.approveErrs, strings.Join(r.errors, "; "))})
	}
	return rows
}

// writeKinds splits the operator's writes into those that store an object and
// the SubjectAccessReviews, which only ask the authorizer. The operator (its
// webhook included) is the only client that creates SubjectAccessReviews in a
// bench run, so the apiserver's count is the operator's.
func (r *result) writeKinds() string {
	sars := r.breakdown["POST subjectaccessreviews"]
	return fmt.Sprintf("%.1f / %.1f", r.perLifecycle(r.writes-sars), r.perLifecycle(sars))
}

// targetCost is the operator's reads and writes per target, and the writes
// that store something per target.
func (r *result) targetCost() string {
	sars := r.breakdown["POST subjectaccessreviews"]
	return fmt.Sprintf("%.1f / %.1f (%.1f)", r.perTarget(r.reads), r.perTarget(r.writes), r.perTarget(r.writes-sars))
}

func (r *result) methods() string {
	var parts []string
	for _, m := range sortedKeys(r.byMethod) {
		parts = append(parts, fmt.Sprintf("%s %.2f", m, r.perLifecycle(r.byMethod[m])))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func printResult(out io.Writer, r *result) error {
	w := &strings.Builder{}
	args := "defaults"
	if len(r.operatorArgs) > 0 {
		args = strings.Join(r.operatorArgs, " ")
	}
	if len(r.operatorEnv) > 0 {
		args += "; environment: " + strings.Join(r.operatorEnv, " ")
	}
	fmt.Fprintf(w, "\n### N = %d, %s (operator flags: %s)\n\n| | |\n|---|---|\n", r.n, r.pattern, args)
	for _, row := range r.rows() {
		fmt.Fprintf(w, "| %s | %s |\n", row[0], row[1])
	}
	fmt.Fprintf(w, "\nAPI requests per lifecycle and per target at the apiserver, by verb and resource (all clients, less the bench's own creates and approvals; LIST and WATCH left out), and the apiserver's mean time to serve one (all clients):\n\n| verb resource | per lifecycle | per target | mean apiserver latency |\n|---|---|---|---|\n")
	for _, key := range sortedKeys(r.breakdown) {
		if strings.Contains(key, ":") || strings.HasPrefix(key, "LIST ") || strings.HasPrefix(key, "WATCH ") || r.perLifecycle(r.breakdown[key]) < 0.05 {
			continue
		}
		latency := "n/a"
		if count := r.breakdown["count:"+key]; count > 0 {
			latency = ms(time.Duration(r.breakdown["sum:"+key] / count * float64(time.Second)))
		}
		fmt.Fprintf(w, "| %s | %.2f | %.2f | %s |\n", key, r.perLifecycle(r.breakdown[key]), r.perTarget(r.breakdown[key]), latency)
	}
	_, err := io.WriteString(out, w.String())
	return err
}

// printSummary prints one table with a column per N.
func printSummary(out io.Writer, results []*result) error {
	w := &strings.Builder{}
	fmt.Fprintf(w, "\n### Summary\n\n| |")
	for _, r := range results {
		fmt.Fprintf(w, " N = %d |", r.n)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(results)))
	for i, row := range results[0].rows() {
		fmt.Fprintf(w, "| %s |", row[0])
		for _, r := range results {
			if rows := r.rows(); i < len(rows) {
				fmt.Fprintf(w, " %s |", rows[i][1])
			}
		}
		fmt.Fprintln(w)
	}
	_, err := io.WriteString(out, w.String())
	return err
}

func (r *result) reconciles() string {
	mean := func(metric string) string {
		count := r.controller[metric+"_count"]
		if count == 0 {
			return "n/a"
		}
		return ms(time.Duration(r.controller[metric+"_sum"] / count * float64(time.Second)))
	}
	return fmt.Sprintf("%.1f; %s; %s", r.perLifecycle(r.controller["controller_runtime_reconcile_time_seconds_count"]),
		mean("controller_runtime_reconcile_time_seconds"), mean("workqueue_queue_duration_seconds"))
}

func (r *result) sinkOrNone() string {
	if r.sink == "" {
		return sinkNone
	}
	return r.sink
}

func (r *result) backlogRow() string {
	b := r.backlog
	if b == nil {
		return "-"
	}
	if r.drainRevoked == 0 {
		return fmt.Sprintf("%d; ready after %s; not all revoked", len(b.held), ms(b.ready.Sub(b.restarted)))
	}
	return fmt.Sprintf("%d; %s / %s / %s", len(b.held), ms(b.ready.Sub(b.restarted)), ms(r.drainRevoked), ms(r.drainGone))
}

// activitySamples is, per request whose subject acted, the time from its
// writes being done to a watch seeing status.activity count them.
func activitySamples(t *timeline, res *result) []time.Duration {
	var out []time.Duration
	for _, r := range t.records {
		switch {
		case r.actErr != "":
			res.actErrs++
		case !r.actedAt.IsZero():
			res.acted++
			if !r.activitySeen.IsZero() {
				out = append(out, max(r.activitySeen.Sub(r.actedAt), 0))
			}
		}
	}
	return out
}

func (r *result) activityRow() string {
	if r.activityWrites == 0 {
		return "off"
	}
	received := r.controller["elevator_audit_events_received_total"]
	perSecond := 0.0
	if r.runTime > 0 {
		perSecond = received / r.runTime.Seconds()
	}
	return fmt.Sprintf("%d; %d / %d; %.0f (%.0f/s)", r.activityWrites, r.acted, r.actErrs, received, perSecond)
}
