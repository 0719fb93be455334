package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// expiringAt is an Active request granted at noon that expires at at.
func expiringAt(name string, at time.Time) *accessv1alpha1.ElevationRequest {
	er := activeFor(time.Minute)
	er.Namespace, er.Name = "ns", name
	er.Status.ExpiresAt = accessv1alpha1.NewMilliTime(at)
	return er
}

type leadStep struct {
	er   *accessv1alpha1.ElevationRequest
	lead time.Duration
}

func checkLeads(t *testing.T, c *expiryCalendar, base time.Duration, steps []leadStep) {
	t.Helper()
	for i, s := range steps {
		if got := c.lead(s.er, base); got != s.lead {
			t.Errorf("step %d, %s: lead %v, want %v", i, s.er.Name, got, s.lead)
		}
	}
}

// At 40 a second the slots are 25 ms long; the base lead of 1 s puts the
// latest start of a request expiring at noon+1m on a slot's start.
func TestExpiryCalendarGivesEachRequestTheLatestFreeSlot(t *testing.T) {
	c := newExpiryCalendar(40)
	expiry := grantedAtNoon.Add(time.Minute)
	a, b, d := expiringAt("a", expiry), expiringAt("b", expiry), expiringAt("d", expiry)
	near := expiringAt("near", expiry.Add(10*time.Millisecond))
	far := expiringAt("far", expiry.Add(time.Second))
	checkLeads(t, c, time.Second, []leadStep{
		{a, 0}, {b, 25 * time.Millisecond}, {far, 0}, {d, 50 * time.Millisecond},
		// near's own slot is a's; the ones before are b's and d's: it starts
		// in the next free one, 85 ms before its latest start.
		{near, 85 * time.Millisecond},
		// Looking again never moves anyone.
		{a, 0}, {b, 25 * time.Millisecond}, {near, 85 * time.Millisecond},
	})
	c.forget(types.NamespacedName{Namespace: "ns", Name: "a"})
	late := expiringAt("late", expiry)
	checkLeads(t, c, time.Second, []leadStep{{late, 0}, {b, 25 * time.Millisecond}, {d, 50 * time.Millisecond}})
}

func TestExpiryCalendarRebooksAChangedExpiry(t *testing.T) {
	c := newExpiryCalendar(40)
	expiry := grantedAtNoon.Add(time.Minute)
	a, b := expiringAt("a", expiry), expiringAt("b", expiry)
	checkLeads(t, c, time.Second, []leadStep{{a, 0}, {b, 25 * time.Millisecond}})
	a.Status.ExpiresAt = accessv1alpha1.NewMilliTime(expiry.Add(time.Minute))
	checkLeads(t, c, time.Second, []leadStep{{a, 0}})
	if got := c.lead(expiringAt("c", expiry), time.Second); got != 0 {
		t.Errorf("a's old slot is free again: c's lead %v, want 0", got)
	}
}

func TestExpiryCalendarOffAddsNothing(t *testing.T) {
	var none *expiryCalendar
	expiry := grantedAtNoon.Add(time.Minute)
	off := newExpiryCalendar(0)
	for _, name := range []string{"a", "b", "c"} {
		if none.lead(expiringAt(name, expiry), time.Second) != 0 || off.lead(expiringAt(name, expiry), time.Second) != 0 {
			t.Fatalf("%s: a calendar that is off or absent must add no lead", name)
		}
	}
	none.forget(types.NamespacedName{Name: "a"})
}

// The calendar books no slot before the cap of a tenth of the window: once
// the slots back to it are taken, the rest share the earliest.
func TestLeadForIsCappedByTheWindow(t *testing.T) {
	r := &ElevationRequestReconciler{ExpiryLead: time.Second, expiries: newExpiryCalendar(1)}
	expiry := grantedAtNoon.Add(time.Minute)
	want := []time.Duration{1, 2, 3, 4, 5, 6, 6, 6}
	for i, w := range want {
		er := expiringAt(string(rune('a'+i)), expiry)
		if got := r.leadFor(er); got != w*time.Second {
			t.Errorf("request %d: leadFor = %v, want %v", i, got, w*time.Second)
		}
		if got := expiryLead(er, r.leadFor(er)); got > 6*time.Second {
			t.Errorf("request %d: expiryLead = %v, over the cap of a tenth of the 60s window", i, got)
		}
	}
}
