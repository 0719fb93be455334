package controller

import (
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// DefaultExpiryRate is the operator's --expiry-rate: the revocations per
// second the operator counts on finishing when many requests expire in the
// same second (docs/performance.md measured about 47 per second on 2 loaded
// cores).
const DefaultExpiryRate = 40.0

// expiryCalendar spreads the revocations of requests that share an expiry.
// expiresAt is stored to the second, so every request granted in the same
// second expires at the same instant: after a burst of grants, hundreds of
// removals fall due at once, and the queue drains them at the rate the API
// server allows. A fixed lead cannot cover such a clump. The calendar keeps,
// for each expiry, the Active requests in the order they were first seen, and
// gives the k-th one k/rate of extra lead: each starts just early enough that
// the whole clump is removed by the expiry, and the queue gets them at the
// rate it can take instead of all at once.
type expiryCalendar struct {
	// rate is the revocations per second counted on; 0 or less turns the
	// calendar off.
	rate float64

	mu       sync.Mutex
	byExpiry map[time.Time][]types.NamespacedName
	expiryOf map[types.NamespacedName]time.Time
}

func newExpiryCalendar(rate float64) *expiryCalendar {
	return &expiryCalendar{rate: rate, byExpiry: map[time.Time][]types.NamespacedName{}, expiryOf: map[types.NamespacedName]time.Time{}}
}

// lead is the extra lead of an Active request: its place among the requests
// sharing its expiresAt, divided by the rate. It enters the request in the
// calendar on first sight, and moves it if its expiry changed.
func (c *expiryCalendar) lead(er *accessv1alpha1.ElevationRequest) time.Duration {
	if c == nil || c.rate <= 0 || er.Status.ExpiresAt == nil {
		return 0
	}
	key := types.NamespacedName{Namespace: er.Namespace, Name: er.Name}
	at := er.Status.ExpiresAt.UTC()
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.expiryOf[key]; ok && !prev.Equal(at) {
		c.removeLocked(key)
	}
	if _, ok := c.expiryOf[key]; !ok {
		c.expiryOf[key] = at
		c.byExpiry[at] = append(c.byExpiry[at], key)
	}
	place := slices.Index(c.byExpiry[at], key)
	return time.Duration(float64(place) / c.rate * float64(time.Second))
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
	at, ok := c.expiryOf[key]
	if !ok {
		return
	}
	delete(c.expiryOf, key)
	rest := slices.DeleteFunc(c.byExpiry[at], func(k types.NamespacedName) bool { return k == key })
	if len(rest) == 0 {
		delete(c.byExpiry, at)
		return
	}
	c.byExpiry[at] = rest
}
