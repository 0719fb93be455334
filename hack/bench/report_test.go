package main

import (
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

var epoch = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return epoch.Add(time.Duration(ms) * time.Millisecond) }

func TestOverrunOf(t *testing.T) {
	cases := []struct {
		name      string
		goneAfter int // ms after expiresAt; negative is before
		want      time.Duration
	}{
		{"gone before the expiry", -300, 0},
		{"gone at the expiry", 0, 0},
		{"gone after the expiry", 745, 745 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := overrunOf(at(0), at(c.goneAfter)); got != c.want {
				t.Errorf("overrunOf = %v, want %v", got, c.want)
			}
		})
	}
}

func TestShortfallOf(t *testing.T) {
	cases := []struct {
		name       string
		seen, gone int
		want       time.Duration
	}{
		{"ended early", 0, 59_200, 800 * time.Millisecond},
		{"exactly the duration", 100, 60_100, 0},
		{"longer than asked", 0, 60_250, -250 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := shortfallOf(time.Minute, at(c.seen), at(c.gone)); got != c.want {
				t.Errorf("shortfallOf = %v, want %v", got, c.want)
			}
		})
	}
}

func TestDistOfNearestRank(t *testing.T) {
	values := make([]time.Duration, 0, 200)
	for i := 200; i >= 1; i-- { // unsorted on purpose
		values = append(values, time.Duration(i)*time.Millisecond)
	}
	d := distOf(values)
	if d.count != 200 || d.p50 != 100*time.Millisecond || d.p99 != 198*time.Millisecond || d.maxv != 200*time.Millisecond {
		t.Errorf("distOf = %+v, want count 200, p50 100ms, p99 198ms, max 200ms", d)
	}
	if got := distOf(nil).String(); got != "n/a" {
		t.Errorf("empty dist = %q, want n/a", got)
	}
}

// A run of three expired requests: one removed early, one late, one never.
func TestSummarizeCountsOverrunAndShortfall(t *testing.T) {
	tl := newTimeline(3, 0, 1)
	revoked := func(gone int) *record {
		return &record{created: at(-1000), approveSent: at(-900), approveDone: at(-890), bindingSeen: at(-60_000 + 300),
			expiresAt: at(0), bindingGone: at(gone), verifiedAt: at(0), phase: accessv1alpha1.PhaseRevoked}
	}
	tl.records["early"] = revoked(-200)
	tl.records["late"] = revoked(400)
	tl.records["never"] = &record{created: at(-1000), bindingSeen: at(-59_000), expiresAt: at(0), phase: accessv1alpha1.PhaseActive}
	d := &driver{duration: time.Minute}
	d.created.Store(3)

	res := summarize(tl, d, 3, at(10_000))

	if res.overran != 1 || res.overrun.count != 2 {
		t.Errorf("overran %d of %d, want 1 of 2 (the unrevoked one has no end to measure)", res.overran, res.overrun.count)
	}
	if res.overrun.p50 != 0 || res.overrun.maxv != 400*time.Millisecond {
		t.Errorf("overrun = %+v, want p50 0 and max 400ms", res.overrun)
	}
	// Seen 59.7 s before the expiry: early existed 59.5 s, late 60.1 s.
	if res.shortfall.p50 != -100*time.Millisecond || res.shortfall.maxv != 500*time.Millisecond {
		t.Errorf("shortfall = %+v, want p50 -100ms and max 500ms", res.shortfall)
	}
	if res.neverRevoked != 1 {
		t.Errorf("neverRevoked = %d, want 1", res.neverRevoked)
	}
}

// A run that ends before the expiresAt of requests: one already removed (the
// operator's lead) is measured, one still present is left out as within its
// window.
func TestSummarizeMeasuresAccessRemovedBeforeARunsEnd(t *testing.T) {
	tl := newTimeline(2, 0, 1)
	tl.records["removed"] = &record{created: at(-61_000), bindingSeen: at(-60_000), expiresAt: at(500), bindingGone: at(-300),
		verifiedAt: at(0), phase: accessv1alpha1.PhaseRevoked}
	tl.records["open"] = &record{created: at(-61_000), bindingSeen: at(-50_000), expiresAt: at(10_000), phase: accessv1alpha1.PhaseActive}
	d := &driver{duration: time.Minute}
	d.created.Store(2)

	res := summarize(tl, d, 2, at(0))

	if res.notExpired != 1 || res.neverRevoked != 0 {
		t.Errorf("notExpired / neverRevoked = %d / %d, want 1 / 0", res.notExpired, res.neverRevoked)
	}
	if res.overrun.count != 1 || res.overrun.maxv != 0 || res.shortfall.maxv != 300*time.Millisecond {
		t.Errorf("overrun %+v, shortfall %+v: want the removed request measured, no overrun, 300ms short", res.overrun, res.shortfall)
	}
}

// With -targets 3, a request has its access once all three bindings exist,
// and none left once all three are deleted.
func TestTimelineTimesTheLastOfARequestsBindings(t *testing.T) {
	tl := newTimeline(1, 0, 3)
	binding := func(ns string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: ns,
			Labels: map[string]string{accessv1alpha1.LabelRequestName: "bench-00000"}}}
	}
	seen := func() (time.Time, time.Time) {
		tl.mu.Lock()
		defer tl.mu.Unlock()
		r := tl.records["bench-00000"]
		return r.bindingSeen, r.bindingGone
	}
	for i, ns := range targetNamespaces(3) {
		tl.onBinding(binding(ns), true)
		if got, _ := seen(); got.IsZero() != (i < 2) {
			t.Fatalf("after %d of 3 bindings, bindingSeen = %v", i+1, got)
		}
	}
	for i, ns := range targetNamespaces(3) {
		tl.onBinding(binding(ns), false)
		if _, got := seen(); got.IsZero() != (i < 2) {
			t.Fatalf("after %d of 3 deletions, bindingGone = %v", i+1, got)
		}
	}
	if _, bindings, _ := tl.progress(); bindings != 0 {
		t.Errorf("%d bindings counted after all were deleted", bindings)
	}
}

// The cost per target is the cost per lifecycle shared by the targets.
func TestTargetCostDividesByTargets(t *testing.T) {
	r := &result{created: 100, targets: 4, reads: 1600, writes: 4400,
		breakdown: map[string]float64{"POST subjectaccessreviews": 400}}
	if got, want := r.targetCost(), "4.0 / 11.0 (10.0)"; got != want {
		t.Errorf("targetCost = %q, want %q", got, want)
	}
	single := &result{created: 400, targets: 1, reads: 1600, writes: 4400,
		breakdown: map[string]float64{"POST subjectaccessreviews": 400}}
	if got, want := single.targetCost(), "4.0 / 11.0 (10.0)"; got != want {
		t.Errorf("single-target targetCost = %q, want %q (per lifecycle)", got, want)
	}
}

func TestActivityTotalSumsTheTargets(t *testing.T) {
	counts := func(n int64) *accessv1alpha1.Activity {
		return &accessv1alpha1.Activity{Counts: accessv1alpha1.ActivityCounts{Total: n}}
	}
	single := &accessv1alpha1.ElevationRequestStatus{}
	single.Activity = counts(5)
	if got := activityTotal(single); got != 5 {
		t.Errorf("single-target total = %d, want 5", got)
	}
	multi := &accessv1alpha1.ElevationRequestStatus{Targets: make([]accessv1alpha1.TargetStatus, 3)}
	multi.Targets[0].Activity = counts(5)
	multi.Targets[2].Activity = counts(2)
	if got := activityTotal(multi); got != 7 {
		t.Errorf("multi-target total = %d, want 7", got)
	}
}
