package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func expiringAt(name string, at time.Time) *accessv1alpha1.ElevationRequest {
	er := activeFor(time.Minute)
	er.Namespace, er.Name = "ns", name
	er.Status.ExpiresAt = timePtr(at)
	return er
}

func TestExpiryCalendarSpreadsRequestsSharingAnExpiry(t *testing.T) {
	c := newExpiryCalendar(40)
	noon := grantedAtNoon.Add(time.Minute)
	a, b, d := expiringAt("a", noon), expiringAt("b", noon), expiringAt("d", noon)
	other := expiringAt("other", noon.Add(time.Second))
	want := []struct {
		er   *accessv1alpha1.ElevationRequest
		lead time.Duration
	}{{a, 0}, {b, 25 * time.Millisecond}, {other, 0}, {d, 50 * time.Millisecond}, {a, 0}, {b, 25 * time.Millisecond}}
	for i, w := range want {
		if got := c.lead(w.er); got != w.lead {
			t.Errorf("step %d, %s: lead %v, want %v", i, w.er.Name, got, w.lead)
		}
	}
	c.forget(types.NamespacedName{Namespace: "ns", Name: "a"})
	if got := c.lead(d); got != 25*time.Millisecond {
		t.Errorf("once a is gone, d moves up: lead %v, want 25ms", got)
	}
	d.Status.ExpiresAt = timePtr(noon.Add(time.Second))
	if got := c.lead(d); got != 25*time.Millisecond {
		t.Errorf("d moved to other's expiry, behind it: lead %v, want 25ms", got)
	}
	if got := c.lead(b); got != 0 {
		t.Errorf("b is alone at its expiry now: lead %v, want 0", got)
	}
}

func TestExpiryCalendarOffAddsNothing(t *testing.T) {
	var none *expiryCalendar
	noon := grantedAtNoon.Add(time.Minute)
	off := newExpiryCalendar(0)
	for _, name := range []string{"a", "b", "c"} {
		if none.lead(expiringAt(name, noon)) != 0 || off.lead(expiringAt(name, noon)) != 0 {
			t.Fatalf("%s: a calendar that is off or absent must add no lead", name)
		}
	}
	none.forget(types.NamespacedName{Name: "a"})
}

// The spread lead stays within the cap of a tenth of the window.
func TestLeadForIsCappedByTheWindow(t *testing.T) {
	r := &ElevationRequestReconciler{ExpiryLead: time.Second, expiries: newExpiryCalendar(1)}
	noon := grantedAtNoon.Add(time.Minute)
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		r.leadFor(expiringAt(name, noon))
	}
	er := expiringAt("g", noon)
	if got := r.leadFor(er); got != 7*time.Second {
		t.Fatalf("leadFor = %v, want 1s + 6 places at 1/s", got)
	}
	if got := expiryLead(er, r.leadFor(er)); got != 6*time.Second {
		t.Errorf("expiryLead = %v, want the cap of a tenth of the 60s window", got)
	}
}
