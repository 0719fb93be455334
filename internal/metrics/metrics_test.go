package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
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
