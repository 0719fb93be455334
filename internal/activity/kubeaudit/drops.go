package kubeaudit

import (
	"time"
)

// Bounds of the record of dropped events.
const (
	// maxDropUsers is how many users get a record of their own; the drops of
	// any further user are booked to everyone.
	maxDropUsers = 4096
	// maxDropRanges bounds one user's record: the two oldest ranges merge
	// when a new one would exceed it.
	maxDropRanges = 64
	// dropRangeSpan is how many drops one range takes before a new one
	// starts: the precision of Dropped at a cursor inside a range.
	dropRangeSpan = 16
)

// dropRange is a run of one user's dropped events.
type dropRange struct {
	firstSeq, lastSeq uint64
	firstAt, lastAt   time.Time
	n                 int64
}

// dropBook records, per user, which events were dropped: their sequence
// numbers (to tell those a reader had already read from those it had not)
// and times (to tell those inside a window).
type dropBook struct {
	users map[string][]dropRange
	// others holds the drops of users beyond maxDropUsers.
	others []dropRange
}

func newDropBook() dropBook { return dropBook{users: map[string][]dropRange{}} }

func (b *dropBook) book(user string, rec *record) {
	ranges, ok := b.users[user]
	if !ok && len(b.users) >= maxDropUsers {
		b.others = addDrop(b.others, rec)
		return
	}
	b.users[user] = addDrop(ranges, rec)
}

func addDrop(ranges []dropRange, rec *record) []dropRange {
	at := rec.ev.At
	if n := len(ranges); n > 0 && ranges[n-1].n < dropRangeSpan {
		r := &ranges[n-1]
		r.lastSeq, r.n = rec.seq, r.n+1
		r.firstAt, r.lastAt = minTime(r.firstAt, at), maxTime(r.lastAt, at)
		return ranges
	}
	if len(ranges) == maxDropRanges {
		ranges[1] = merge(ranges[0], ranges[1])
		ranges = append(ranges[:0], ranges[1:]...)
	}
	return append(ranges, dropRange{firstSeq: rec.seq, lastSeq: rec.seq, firstAt: at, lastAt: at, n: 1})
}

func merge(a, b dropRange) dropRange {
	return dropRange{
		firstSeq: a.firstSeq, lastSeq: b.lastSeq,
		firstAt: minTime(a.firstAt, b.firstAt), lastAt: maxTime(a.lastAt, b.lastAt),
		n: a.n + b.n,
	}
}

// count is how many of the user's events after sequence number after, with
// times that may lie in [from, until], were dropped. A range that straddles
// the cursor or the window counts whole: an over-count, never an under-count.
func (b *dropBook) count(user string, after uint64, from, until time.Time) int64 {
	var n int64
	for _, ranges := range [][]dropRange{b.users[user], b.others} {
		for _, r := range ranges {
			if r.lastSeq <= after || r.lastAt.Before(from) || (!until.IsZero() && r.firstAt.After(until)) {
				continue
			}
			n += r.n
		}
	}
	return n
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// maxPendingWakeups bounds the user names waiting to be announced.
const maxPendingWakeups = 4096

// wakeups coalesces announcements of users with new events: notify marks a
// user pending (under the store's lock, never blocking), and one goroutine
// hands the pending names to the consumer one at a time.
type wakeups struct {
	pending map[string]struct{}
	order   []string
	signal  chan struct{}
	out     chan string
	started bool
}

func newWakeups() wakeups {
	return wakeups{pending: map[string]struct{}{}, signal: make(chan struct{}, 1), out: make(chan string)}
}

// notify is called with the store's lock held.
func (w *wakeups) notify(user string) {
	if !w.started {
		return
	}
	if _, ok := w.pending[user]; ok || len(w.pending) >= maxPendingWakeups {
		return
	}
	w.pending[user] = struct{}{}
	w.order = append(w.order, user)
	select {
	case w.signal <- struct{}{}:
	default:
	}
}
