package metrics

import (
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
