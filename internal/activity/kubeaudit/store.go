package kubeaudit

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/elevator-dev/elevator/internal/provider"
)

// DefaultCapacity is the default number of events a Store keeps.
const DefaultCapacity = 50000

// defaultLimit is the page size when a query names none.
const defaultLimit = 100

// silenceGrace is how long a receiver may go without its first post before
// Read says so: longer than any batch wait of the apiserver, so that a read
// just after the operator started is not marked Partial for it.
const silenceGrace = 2 * time.Minute

// Store keeps the last Capacity completed audit events the receiver got, in
// the order they arrived, and answers the kubernetes provider's activity
// queries from them. It is safe for concurrent use.
//
// Memory stays bounded under any rate: the events (each with bounded fields),
// the index by user and the de-duplication set hold only the events kept; the
// record of what was dropped is bounded per user and in the number of users
// (the users beyond that share one record, charged to every query).
//
// Every event gets the next sequence number, so a cursor "<start>:<seq>" (the
// store's start in Unix nanoseconds and the last sequence number read)
// resumes exactly, and a cursor of an earlier store (the operator restarted)
// is recognised as a gap.
type Store struct {
	clock    clock.PassiveClock
	start    time.Time
	capacity int

	mu sync.Mutex
	// ring holds the kept events, oldest at head.
	ring []*record
	head int
	size int
	seq  uint64
	// posted is when the apiserver last posted; zero until it first does.
	posted time.Time
	// ids de-duplicates by audit ID: the apiserver retries a batch it thinks
	// failed.
	ids map[string]struct{}
	// byUser lists each user's kept events, oldest first: under the acting
	// identity and, when it impersonated, the impersonator.
	byUser map[string][]*record
	drops  dropBook
	wake   wakeups
}

type record struct {
	seq      uint64
	received time.Time
	ev       Event
}

// NewStore makes a store of capacity events (DefaultCapacity when not
// positive) whose clock is c (the real one when nil).
func NewStore(capacity int, c clock.PassiveClock) *Store {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	if c == nil {
		c = clock.RealClock{}
	}
	return &Store{
		clock:    c,
		start:    c.Now(),
		capacity: capacity,
		ring:     make([]*record, capacity),
		ids:      map[string]struct{}{},
		byUser:   map[string][]*record{},
		drops:    newDropBook(),
		wake:     newWakeups(),
	}
}

// Started is when the store started: nothing before it was received.
func (s *Store) Started() time.Time { return s.start }

// Add is called with each post of the apiserver: it keeps the completed events among evs (stage ResponseComplete or Panic;
// the other stages of a request say nothing more) that it does not hold yet,
// dropping the oldest events when it is full. It returns how many it kept,
// and how many older events it dropped to make room.
func (s *Store) Add(evs []Event) (kept, evicted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.posted = now
	for _, ev := range evs {
		if !completed(ev) {
			continue
		}
		if _, dup := s.ids[ev.AuditID]; dup {
			continue
		}
		if s.size == s.capacity {
			s.evictOldest()
			evicted++
		}
		s.seq++
		rec := &record{seq: s.seq, received: now, ev: ev}
		s.ring[(s.head+s.size)%s.capacity] = rec
		s.size++
		s.ids[ev.AuditID] = struct{}{}
		for _, user := range actors(ev) {
			s.byUser[user] = append(s.byUser[user], rec)
			s.wake.notify(user)
		}
		kept++
	}
	return kept, evicted
}

// dropFirst removes rec from the front of a user's list. The slot is cleared,
// so the backing array does not keep the event alive until the next append
// that outgrows it moves the list to a new one.
func dropFirst(list []*record, rec *record) []*record {
	if len(list) == 0 || list[0] != rec {
		return list
	}
	list[0] = nil
	return list[1:]
}

func completed(ev Event) bool {
	return ev.Stage == "ResponseComplete" || ev.Stage == "Panic"
}

// evictOldest drops the oldest event and books it against its users. Events
// leave in the order they came, so it is the first of each of its users'.
func (s *Store) evictOldest() {
	rec := s.ring[s.head]
	s.ring[s.head] = nil
	s.head = (s.head + 1) % s.capacity
	s.size--
	delete(s.ids, rec.ev.AuditID)
	for _, user := range actors(rec.ev) {
		list := dropFirst(s.byUser[user], rec)
		if len(list) == 0 {
			delete(s.byUser, user)
		} else {
			s.byUser[user] = list
		}
		s.drops.book(user, rec)
	}
}

// Read returns the scope's actions in the query's window after its cursor,
// oldest first, at most q.Limit of them (q.Entitlement is not read: the scope
// says whose actions they are).
//
// The page's Through is the arrival time up to which the store has returned
// everything it received: now when the page holds all there is. Dropped
// counts the subject's events in the window that arrived after the cursor
// but were dropped before they were read, in any namespace (the record of
// drops keeps no namespace); where drops are merged (under heavy load) it may
// count some the caller had already read: an over-count, never fewer.
// Gap is set when the window began before the store started, or the cursor
// is an earlier store's (what that process received was lost with it), and
// when the apiserver has posted nothing in the store's first silenceGrace or
// since: a receiver nobody posts to must not look like a subject who did
// nothing.
func (s *Store) Read(scope Scope, q provider.ActivityQuery) provider.ActivityPage {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	after, gap := s.resume(q)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.posted.IsZero() && s.clock.Since(s.start) > silenceGrace {
		gap = joinGaps(gap, fmt.Sprintf("the kube-apiserver has posted nothing to the operator's audit receiver since it started at %s: "+
			"is its audit webhook configured (docs/activity.md)?", formatTime(s.start)))
	}
	page := provider.ActivityPage{Gap: gap}
	list := s.byUser[scope.Subject]
	i := sort.Search(len(list), func(i int) bool { return list[i].seq > after })
	last := after
	for ; i < len(list); i++ {
		rec := list[i]
		a, ok := Match(rec.ev, scope, q.From, q.Until)
		if !ok {
			continue
		}
		if len(page.Actions) == limit {
			page.More = true
			break
		}
		page.Actions = append(page.Actions, a)
		last = rec.seq
		page.Through = rec.received
	}
	if !page.More {
		last = s.seq
		page.Through = s.clock.Now()
	}
	page.Dropped = s.drops.count(scope.Subject, after, q.From, q.Until)
	page.Cursor = s.cursor(last)
	return page
}

// resume is the sequence number to read after, and the gap to report.
func (s *Store) resume(q provider.ActivityQuery) (uint64, string) {
	var gaps []string
	var after uint64
	if q.Cursor != "" {
		start, seq, ok := parseCursor(q.Cursor)
		switch {
		case !ok:
			gaps = append(gaps, fmt.Sprintf("the activity cursor %q was not written by this receiver; events it had read may be returned again, and events received before %s may be missing", truncate(q.Cursor, 64), formatTime(s.start)))
		case start != s.start.UnixNano():
			gaps = append(gaps, fmt.Sprintf("the operator's audit receiver restarted at %s: the events an earlier process received and not yet recorded, and any the apiserver posted while none was listening, are missing", formatTime(s.start)))
		default:
			after = seq
		}
	}
	if len(gaps) == 0 && q.From.Before(s.start) {
		gaps = append(gaps, fmt.Sprintf("the window began at %s, before the operator's audit receiver started at %s: actions before then are missing", formatTime(q.From), formatTime(s.start)))
	}
	return after, strings.Join(gaps, "; ")
}

func joinGaps(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func (s *Store) cursor(seq uint64) string {
	return strconv.FormatInt(s.start.UnixNano(), 10) + ":" + strconv.FormatUint(seq, 10)
}

func parseCursor(c string) (start int64, seq uint64, ok bool) {
	a, b, found := strings.Cut(c, ":")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	seq, err = strconv.ParseUint(b, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return start, seq, true
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Wakeups returns a channel of user names that have new events, for a
// controller that wants to read their activity promptly rather than at its
// next poll. It is coalesced: a user is sent once however many events arrive
// until the name has been taken from the channel; the pending names are
// bounded (beyond maxPendingWakeups distinct users the rest are not
// announced, and the poll finds them). Sending never blocks the receiver.
// There is one channel per store, for one consumer; it is closed when ctx
// ends. A user's name comes for events under any identity the store files it
// by (the acting user and, when it impersonated, the impersonator).
func (s *Store) Wakeups(ctx context.Context) <-chan string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.wake.started {
		s.wake.started = true
		go s.forwardWakeups(ctx)
	}
	return s.wake.out
}

func (s *Store) forwardWakeups(ctx context.Context) {
	defer close(s.wake.out)
	for {
		user, ok := s.nextWakeup()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.wake.signal:
				continue
			}
		}
		select {
		case s.wake.out <- user:
		case <-ctx.Done():
			return
		}
	}
}

// nextWakeup takes the longest-pending user; from then on, a new event of
// that user announces it again.
func (s *Store) nextWakeup() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.wake.order) == 0 {
		return "", false
	}
	user := s.wake.order[0]
	s.wake.order = s.wake.order[1:]
	delete(s.wake.pending, user)
	return user, true
}

// Len is the number of events kept.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}
