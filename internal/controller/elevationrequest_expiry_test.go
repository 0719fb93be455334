package controller

import (
	"testing"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

var grantedAtNoon = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// activeFor is an Active request granted at noon for window.
func activeFor(window time.Duration) *accessv1alpha1.ElevationRequest {
	er := &accessv1alpha1.ElevationRequest{}
	er.Status.Phase = accessv1alpha1.PhaseActive
	er.Status.GrantedAt = timePtr(grantedAtNoon)
	er.Status.ExpiresAt = accessv1alpha1.NewMilliTime(grantedAtNoon.Add(window))
	return er
}

func TestExpiryScheduling(t *testing.T) {
	const lead = 800 * time.Millisecond
	cases := []struct {
		name     string
		window   time.Duration
		lead     time.Duration
		now      time.Duration // after grantedAt
		wantLead time.Duration
		wantDue  bool
		wantWait time.Duration
	}{
		{"long before the lead", 30 * time.Minute, lead, time.Minute, lead, false, 29*time.Minute - lead},
		{"just before the lead", time.Minute, lead, time.Minute - lead - time.Millisecond, lead, false, time.Millisecond},
		{"at the start of the lead", time.Minute, lead, time.Minute - lead, lead, true, time.Nanosecond},
		{"inside the lead", time.Minute, lead, time.Minute - 100*time.Millisecond, lead, true, time.Nanosecond},
		{"past the expiry", time.Minute, lead, 2 * time.Minute, lead, true, time.Nanosecond},
		{"no lead: due at expiresAt only", time.Minute, 0, time.Minute - time.Millisecond, 0, false, time.Millisecond},
		{"no lead: due at expiresAt", time.Minute, 0, time.Minute, 0, true, time.Nanosecond},
		{"a window shorter than ten leads keeps nine tenths", 2 * time.Second, lead, 1700 * time.Millisecond, 200 * time.Millisecond, false, 100 * time.Millisecond},
		{"a one-second window, granted late in its second, is due at once", time.Second, lead, 950 * time.Millisecond, 100 * time.Millisecond, true, time.Nanosecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			er := activeFor(c.window)
			now := grantedAtNoon.Add(c.now)
			if got := expiryLead(er, c.lead); got != c.wantLead {
				t.Errorf("expiryLead = %v, want %v", got, c.wantLead)
			}
			if got := expiryDue(er, now, c.lead); got != c.wantDue {
				t.Errorf("expiryDue = %v, want %v", got, c.wantDue)
			}
			if got := untilExpiryLook(er, now, c.lead); got != c.wantWait {
				t.Errorf("untilExpiryLook = %v, want %v", got, c.wantWait)
			}
		})
	}
}

func TestExpiryWithoutExpiresAtIsDueAtOnce(t *testing.T) {
	er := &accessv1alpha1.ElevationRequest{}
	if !expiryDue(er, grantedAtNoon, time.Second) || untilExpiryLook(er, grantedAtNoon, time.Second) != time.Nanosecond {
		t.Error("a request with no expiresAt must be revoked at once, as before the lead")
	}
}

// A revocation started inside the lead that failed is not overdue until the
// expiry itself has passed: the access is still within its window.
func TestFailedRevocationInsideTheLeadIsOverdueOnlyAfterExpiresAt(t *testing.T) {
	er := activeFor(time.Minute)
	er.Status.Phase = accessv1alpha1.PhaseRevoking
	er.Status.Revocation = &accessv1alpha1.Revocation{Reason: accessv1alpha1.RevocationExpired, Attempts: 1}
	if isOverdue(er, grantedAtNoon.Add(time.Minute-300*time.Millisecond)) {
		t.Error("overdue inside the lead, before expiresAt")
	}
	if !isOverdue(er, grantedAtNoon.Add(time.Minute)) {
		t.Error("not overdue at expiresAt after a failed attempt")
	}
}

// The revocation starts at the end of the window asked for, never after it:
// within a millisecond when the lead fits in a tenth of the window; when it
// does not (a window under ten leads), the cap makes it start early, by at
// most a hundredth of the window and a tenth of the second grantedAt is cut to.
func TestExpiryOfStartsTheRevocationAtTheWindowsEnd(t *testing.T) {
	for _, d := range []time.Duration{time.Second, 5 * time.Second, 90 * time.Second, time.Hour} {
		for _, lead := range []time.Duration{0, 300 * time.Millisecond, time.Second, 3 * time.Second} {
			for frac := time.Duration(0); frac < time.Second; frac += 50*time.Millisecond + 7*time.Microsecond {
				start := grantedAtNoon.Add(frac)
				er := &accessv1alpha1.ElevationRequest{}
				er.Status.GrantedAt = timePtr(start.Truncate(time.Second))
				er.Status.ExpiresAt = accessv1alpha1.NewMilliTime(expiryOf(start, d, lead))
				revokeAt := er.Status.ExpiresAt.Add(-expiryLead(er, lead))
				end := start.Add(d)
				if revokeAt.After(end) {
					t.Fatalf("d=%s lead=%s start=+%s: revocation starts at +%s, after the window's end +%s",
						d, lead, frac, revokeAt.Sub(grantedAtNoon), end.Sub(grantedAtNoon))
				}
				lost, allowed := end.Sub(revokeAt), time.Millisecond
				if lead > d/maxLeadShare {
					allowed = d/100 + 100*time.Millisecond
				}
				if lost > allowed {
					t.Fatalf("d=%s lead=%s start=+%s: %s of the window lost, want at most %s", d, lead, frac, lost, allowed)
				}
			}
		}
	}
}
