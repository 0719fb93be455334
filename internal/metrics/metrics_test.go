package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestTrackerCountsEachRequestInOnePhase(t *testing.T) {
	tr := NewTracker()
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	tr.Observe(a, accessv1alpha1.PhaseActive, false)
	tr.Observe(b, accessv1alpha1.PhaseActive, false)
	tr.Observe(a, accessv1alpha1.PhaseRevoking, true)

	if got := testutil.ToFloat64(elevations.WithLabelValues("Active")); got != 1 {
		t.Errorf("Active = %v, want 1", got)
	}
	if got := testutil.ToFloat64(elevations.WithLabelValues("Revoking")); got != 1 {
		t.Errorf("Revoking = %v, want 1", got)
	}
	if tr.Overdue() != 1 || testutil.ToFloat64(overdue) != 1 {
		t.Errorf("overdue = %d / %v, want 1", tr.Overdue(), testutil.ToFloat64(overdue))
	}

	tr.Forget(a)
	tr.Observe(b, accessv1alpha1.PhaseRevoked, false)
	if got := testutil.ToFloat64(elevations.WithLabelValues("Revoking")); got != 0 {
		t.Errorf("a forgotten request is no longer counted: Revoking = %v", got)
	}
	if tr.Overdue() != 0 || testutil.ToFloat64(overdue) != 0 {
		t.Errorf("overdue after the request is gone = %d", tr.Overdue())
	}
}

func histogramOf(t *testing.T, h prometheus.Histogram) (count uint64, sum float64) {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatalf("read histogram: %v", err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

func TestExpiryToVerifiedKeepsEarlyRemovalsOutOfTheLag(t *testing.T) {
	lagCount, lagSum := histogramOf(t, expiryToVerified)
	earlyCount, earlySum := histogramOf(t, verifiedBeforeExpiry)

	ExpiryToVerified(-0.3) // verified 300 ms before expiresAt
	ExpiryToVerified(0.2)  // 200 ms after

	gotLagCount, gotLagSum := histogramOf(t, expiryToVerified)
	if gotLagCount-lagCount != 2 || gotLagSum-lagSum < 0.199 || gotLagSum-lagSum > 0.201 {
		t.Errorf("lag: %d more samples summing to %v, want 2 summing to 0.2 (the early one as 0)", gotLagCount-lagCount, gotLagSum-lagSum)
	}
	gotEarlyCount, gotEarlySum := histogramOf(t, verifiedBeforeExpiry)
	if gotEarlyCount-earlyCount != 1 || gotEarlySum-earlySum < 0.299 || gotEarlySum-earlySum > 0.301 {
		t.Errorf("before expiry: %d more samples summing to %v, want 1 of 0.3", gotEarlyCount-earlyCount, gotEarlySum-earlySum)
	}
}

// A counter vector serves nothing before its first increment; InitProviders
// must make every provider-labelled series exist, at 0, so that alerts on
// rate() see the first failure.
func TestInitProvidersServesEveryProviderSeriesAtZero(t *testing.T) {
	vecs := map[string]*prometheus.CounterVec{"revocation failures": revocationFailures, "residual access": residualAccess,
		"activity actions": activityActions, "activity access changes": activityAccessChanges}
	// One series per reason, per inside_window value, per category, and one.
	want := map[string]int{"revocation failures": 3, "residual access": 2, "activity actions": 4, "activity access changes": 1}
	before := map[string]int{}
	for name, vec := range vecs {
		before[name] = testutil.CollectAndCount(vec)
	}
	InitProviders("alpha-kind")
	for name, vec := range vecs {
		if got := testutil.CollectAndCount(vec) - before[name]; got != want[name] {
			t.Errorf("%s: InitProviders added %d series, want %d", name, got, want[name])
		}
	}
	// Reading a series that exists does not add one: these are the new ones.
	for _, c := range []struct {
		vec    *prometheus.CounterVec
		labels []string
	}{
		{revocationFailures, []string{"alpha-kind", accessv1alpha1.ReasonRevokeFailed}},
		{revocationFailures, []string{"alpha-kind", accessv1alpha1.ReasonStillPresent}},
		{residualAccess, []string{"alpha-kind", "true"}},
		{activityActions, []string{"alpha-kind", string(accessv1alpha1.ActivityAccess)}},
		{activityAccessChanges, []string{"alpha-kind"}},
	} {
		if got := testutil.ToFloat64(c.vec.WithLabelValues(c.labels...)); got != 0 {
			t.Errorf("%v = %v, want 0", c.labels, got)
		}
	}
	for name, vec := range vecs {
		if got := testutil.CollectAndCount(vec) - before[name]; got != want[name] {
			t.Errorf("%s: %d new series after reading them, want %d (a label value InitProviders does not create)", name, got, want[name])
		}
	}
}

// The phase-labelled series exist from the start (package init): every phase
// of elevator_elevations and every unfinished phase of the missed-next-look
// counter. The names in the comparison are read back, not created.
func TestPhaseSeriesExistFromTheStart(t *testing.T) {
	if err := testutil.CollectAndCompare(missedNextLook, strings.NewReader(`
# HELP elevator_missed_next_look_total Reconciles of an unfinished request whose lifecycle step scheduled no next look, by phase; the operator looked again after a safety delay. Any value above 0 is a bug.
# TYPE elevator_missed_next_look_total counter
elevator_missed_next_look_total{phase="Active"} 0
elevator_missed_next_look_total{phase="Approved"} 0
elevator_missed_next_look_total{phase="Pending"} 0
elevator_missed_next_look_total{phase="Revoking"} 0
`)); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(elevations); n < 8 {
		t.Errorf("elevations series = %d, want at least one per phase (8)", n)
	}
}
