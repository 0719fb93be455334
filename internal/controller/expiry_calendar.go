package controller

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// DefaultExpiryRate is the operator's --expiry-rate: the revocations per
// second the operator counts on starting when many requests expire close
// together. With the removal ahead of its record an expiry is one DELETE at
// its slot; a burst of 1000 was removed with no overrun at 100 and at 200 a
// second on 2 idle cores (docs/performance.md), so 100 keeps half of that in
// reserve. A shared entitlement's or a multi-target request's expiry takes
// the whole revocation at its slot, which is slower.
const DefaultExpiryRate = 100.0

// expiryCalendar spreads the starts of revocations over time so that no more
// than rate of them start in any second. A burst of grants becomes a burst of
// expiries: hundreds of removals due within a second or two, which the queue
// drains at the rate the API server allows, so a fixed lead covers the first
// of them and not the rest. The calendar cuts time into slots 1/rate long and
// gives each Active request, when first seen, the latest free slot that
// starts no later than its expiresAt minus the lead, and no earlier than the
// cap of a tenth of its window: its removal starts there. A request keeps its
// slot until it is no longer Active, and one seen later never moves one seen
// earlier, so the expiry look the grant scheduled stays right. When every
// slot back to the cap is taken, the request shares the cap's slot.
type expiryCalendar struct {
	// rate is the revocation starts per second counted on; 0 or less turns
	// the calendar off.
	rate float64

	mu       sync.Mutex
	bookings map[types.NamespacedName]booking
	taken    map[int64]int // requests booked per slot
}

// booking is a request's slot, for the expiry it was booked for.
type booking struct {
	expiresAt time.Time
	slot      int64
}

func newExpiryCalendar(rate float64) *expiryCalendar {
	return &expiryCalendar{rate: rate, bookings: map[types.NamespacedName]booking{}, taken: map[int64]int{}}
}

// lead is the lead an Active request gets beyond base (--expiry-lead): from
// expiresAt − base back to the start of its slot. It books the slot on first
// sight, and again if the request's expiry changed.
func (c *expiryCalendar) lead(er *accessv1alpha1.ElevationRequest, base time.Duration) time.Duration {
	if c == nil || c.rate <= 0 || er.Status.ExpiresAt == nil || er.Status.GrantedAt == nil {
		return 0
	}
	key := types.NamespacedName{Namespace: er.Namespace, Name: er.Name}
	at := er.Status.ExpiresAt.Time
	latest := at.Add(-min(base, capLead(er)))
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.bookings[key]
	if ok && !b.expiresAt.Equal(at) {
		c.removeLocked(key)
		ok = false
	}
	if !ok {
		b = booking{expiresAt: at, slot: c.freeSlotLocked(latest, at.Add(-capLead(er)))}
		c.bookings[key] = b
		c.taken[b.slot]++
	}
	return max(latest.Sub(c.slotStart(b.slot)), 0)
}

// freeSlotLocked is the latest free slot starting at or before latest and not
// before earliest; the first slot starting at or after earliest when all are
// taken (or the slot of latest, if none does).
func (c *expiryCalendar) freeSlotLocked(latest, earliest time.Time) int64 {
	last := c.slotAt(latest)
	first := c.slotAt(earliest)
	if c.slotStart(first).Before(earliest) {
		first++
	}
	first = min(first, last)
	for slot := last; slot >= first; slot-- {
		if c.taken[slot] == 0 {
			return slot
		}
	}
	return first
}

// slotAt is the slot that holds t.
func (c *expiryCalendar) slotAt(t time.Time) int64 {
	ns, size := t.UnixNano(), int64(c.slotSize())
	slot := ns / size
	if ns%size < 0 {
		slot--
	}
	return slot
}

func (c *expiryCalendar) slotStart(slot int64) time.Time {
	return time.Unix(0, slot*int64(c.slotSize()))
}

// slotSize is how long a slot is: 1/rate.
func (c *expiryCalendar) slotSize() time.Duration {
	return max(time.Duration(float64(time.Second)/c.rate), time.Nanosecond)
}

// forget takes a request out of the calendar once it is no longer Active.
func (c *expiryCalendar) forget(key types.NamespacedName) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(key)
}

func (c *expiryCalendar) removeLocked(key types.NamespacedName) {
	b, ok := c.bookings[key]
	if !ok {
		return
	}
	delete(c.bookings, key)
	if c.taken[b.slot]--; c.taken[b.slot] <= 0 {
		delete(c.taken, b.slot)
	}
}
