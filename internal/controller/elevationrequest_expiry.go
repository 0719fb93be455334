package controller

import (
	"math"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// DefaultExpiryLead is the operator's --expiry-lead: how long before expiresAt
// the revocation of an expiring request starts, so that the removal lands
// before the expiry rather than starts there. It covers the wait in the work
// queue and the removal itself (one DELETE for the kubernetes provider) when
// many requests expire in the same second, measured in docs/performance.md.
const DefaultExpiryLead = time.Second

// maxLeadShare caps the lead at this share of the granted window, so that a
// request shorter than a few leads keeps most of its window: a 1-second
// request is revoked at most 100 ms early.
const maxLeadShare = 10

// expiryLead is how long before its expiresAt the request's revocation starts:
// lead, capped at a tenth of the window from grantedAt to expiresAt.
func expiryLead(er *accessv1alpha1.ElevationRequest, lead time.Duration) time.Duration {
	if lead <= 0 {
		return 0
	}
	return min(lead, capLead(er))
}

// capLead is the most lead a request may get: a tenth of its window from
// grantedAt to expiresAt, or no limit while either is unknown.
func capLead(er *accessv1alpha1.ElevationRequest) time.Duration {
	st := er.Status
	if st.GrantedAt == nil || st.ExpiresAt == nil {
		return math.MaxInt64
	}
	return st.ExpiresAt.Sub(st.GrantedAt.Time) / maxLeadShare
}

// expiryDue reports whether the request's expiry is to be acted on now: now is
// within the lead of expiresAt, or past it. A request with no expiresAt is due.
func expiryDue(er *accessv1alpha1.ElevationRequest, now time.Time, lead time.Duration) bool {
	if er.Status.ExpiresAt == nil {
		return true
	}
	return !now.Before(er.Status.ExpiresAt.Add(-expiryLead(er, lead)))
}

// untilExpiryLook is the RequeueAfter that brings the request back when its
// expiry is due. It is always positive: a RequeueAfter of 0 would ask for no
// requeue at all, and a very short window can be due by the time it is granted.
func untilExpiryLook(er *accessv1alpha1.ElevationRequest, now time.Time, lead time.Duration) time.Duration {
	if er.Status.ExpiresAt == nil {
		return time.Nanosecond
	}
	return max(er.Status.ExpiresAt.Add(-expiryLead(er, lead)).Sub(now), time.Nanosecond)
}

// leadFor is the request's whole lead before expiresAt: --expiry-lead, plus
// what its slot in the expiry calendar adds. expiryLead caps the sum at a
// tenth of the window.
func (r *ElevationRequestReconciler) leadFor(er *accessv1alpha1.ElevationRequest) time.Duration {
	return r.ExpiryLead + r.expiries.lead(er, r.ExpiryLead)
}

// expiryOf is the expiresAt of access granted at start for duration: start +
// duration + the lead (within its cap of a tenth of the duration). The
// revocation starts the lead before expiresAt (expiryLead), so at start +
// duration: the window is as long as asked for, and the lead is the time the
// removal has to land before expiresAt. It is kept to the millisecond, as
// status.expiresAt stores it.
func expiryOf(start time.Time, duration, lead time.Duration) time.Time {
	lead = min(max(lead, 0), duration/maxLeadShare)
	return start.Add(duration + lead).Truncate(time.Millisecond)
}
