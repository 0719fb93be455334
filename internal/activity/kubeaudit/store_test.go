package kubeaudit

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/elevator-dev/elevator/internal/provider"
)

// storeStart is when the test stores start; windows begin after it unless a
// test wants a gap.
var storeStart = windowFrom.Add(-time.Hour)

func newTestStore(capacity int) (*Store, *clocktesting.FakeClock) {
	c := clocktesting.NewFakeClock(storeStart)
	return NewStore(capacity, c), c
}

// numbered is n events of user in payments inside the window, ids prefix-0...
func numbered(prefix, user string, n int) []Event {
	evs := make([]Event, n)
	for i := range evs {
		evs[i] = event(func(e *Event) {
			e.AuditID = fmt.Sprintf("%s-%d", prefix, i)
			e.User = user
			e.Name = fmt.Sprintf("cfg-%d", i)
			e.At = inWindow.Add(time.Duration(i) * time.Second)
		})
	}
	return evs
}

func query(cursor string, limit int) provider.ActivityQuery {
	return provider.ActivityQuery{From: windowFrom, Until: windowUntil, Cursor: cursor, Limit: limit}
}

func ids(page provider.ActivityPage) []string {
	out := make([]string, len(page.Actions))
	for i, a := range page.Actions {
		out[i] = a.ID
	}
	return out
}

func TestStoreDeduplicatesByAuditIDAndKeepsOnlyCompletedStages(t *testing.T) {
	s, _ := newTestStore(10)
	first := event(nil)
	started := event(func(e *Event) { e.AuditID, e.Stage = "id-2", "ResponseStarted" })
	if kept, _ := s.Add([]Event{first, started}); kept != 1 {
		t.Errorf("kept %d, want 1: ResponseStarted is not kept", kept)
	}
	if kept, _ := s.Add([]Event{first}); kept != 0 {
		t.Errorf("a retried batch kept %d events again, want 0", kept)
	}
	page := s.Read(paymentsOps, query("", 10))
	if got := ids(page); len(got) != 1 || got[0] != "id-1" {
		t.Errorf("read %v, want [id-1]", got)
	}
}

func TestStoreCursorResumesExactlyAcrossPages(t *testing.T) {
	s, c := newTestStore(100)
	s.Add(numbered("a", "alice", 5))
	s.Add(numbered("m", "mallory", 3))

	p1 := s.Read(paymentsOps, query("", 2))
	if got := strings.Join(ids(p1), ","); got != "a-0,a-1" || !p1.More {
		t.Fatalf("page 1: %s More=%v, want a-0,a-1 and More", got, p1.More)
	}
	p2 := s.Read(paymentsOps, query(p1.Cursor, 2))
	p3 := s.Read(paymentsOps, query(p2.Cursor, 2))
	if got := strings.Join(ids(p2), ",") + "|" + strings.Join(ids(p3), ","); got != "a-2,a-3|a-4" || p3.More {
		t.Fatalf("pages 2 and 3: %s More=%v, want a-2,a-3|a-4 and no More", got, p3.More)
	}
	if !p3.Through.Equal(c.Now()) {
		t.Errorf("the last page's Through = %s, want now (%s): everything received was returned", p3.Through, c.Now())
	}
	if again := s.Read(paymentsOps, query(p3.Cursor, 2)); len(again.Actions) != 0 || again.Cursor != p3.Cursor {
		t.Errorf("reading at the end returned %v, cursor %q; want nothing, the same cursor", ids(again), again.Cursor)
	}
	c.Step(time.Second)
	s.Add([]Event{event(func(e *Event) { e.AuditID = "late" })})
	if late := s.Read(paymentsOps, query(p3.Cursor, 2)); strings.Join(ids(late), ",") != "late" {
		t.Errorf("an event delivered after the last read: got %v, want [late]", ids(late))
	}
	for _, p := range []provider.ActivityPage{p1, p2, p3} {
		if p.Gap != "" || p.Dropped != 0 {
			t.Errorf("a page of a store that lost nothing: Gap %q Dropped %d", p.Gap, p.Dropped)
		}
	}
}

func TestStoreThroughOfAFullPageIsTheLastReturnedArrival(t *testing.T) {
	s, c := newTestStore(100)
	s.Add(numbered("a", "alice", 1))
	arrived := c.Now()
	c.Step(time.Minute)
	s.Add(numbered("b", "alice", 1))
	c.Step(time.Minute)
	p := s.Read(paymentsOps, query("", 1))
	if !p.More || !p.Through.Equal(arrived) {
		t.Errorf("Through = %s More = %v, want %s (when a-0 arrived) and More", p.Through, p.More, arrived)
	}
}

func TestStoreBoundedDropsOldestAndReportsTheSubjectsDrops(t *testing.T) {
	s, _ := newTestStore(4)
	s.Add(numbered("a", "alice", 3))
	_, evicted := s.Add(numbered("m", "mallory", 3))
	if evicted != 2 || s.Len() != 4 {
		t.Fatalf("evicted %d, kept %d; want 2 evicted, 4 kept", evicted, s.Len())
	}
	p := s.Read(paymentsOps, query("", 10))
	if got := strings.Join(ids(p), ","); got != "a-2" || p.Dropped != 2 {
		t.Errorf("read %s Dropped %d; want a-2 and 2 dropped", got, p.Dropped)
	}
	if next := s.Read(paymentsOps, query(p.Cursor, 10)); next.Dropped != 0 {
		t.Errorf("the next page reports the same drops again: Dropped %d", next.Dropped)
	}
	mallory := paymentsOps
	mallory.Subject = "mallory"
	if mp := s.Read(mallory, query("", 10)); mp.Dropped != 0 || len(mp.Actions) != 3 {
		t.Errorf("mallory lost nothing: Dropped %d, %d actions", mp.Dropped, len(mp.Actions))
	}
}

func TestStoreDropsAlreadyReadAreNotDrops(t *testing.T) {
	s, _ := newTestStore(3)
	s.Add(numbered("a", "alice", 3))
	p := s.Read(paymentsOps, query("", 10))
	s.Add(numbered("m", "mallory", 3))
	if next := s.Read(paymentsOps, query(p.Cursor, 10)); next.Dropped != 0 {
		t.Errorf("alice's events were read before they were dropped, yet Dropped = %d", next.Dropped)
	}
}

func TestStoreDropsOutsideTheWindowAreNotCounted(t *testing.T) {
	s, _ := newTestStore(2)
	early := numbered("e", "alice", 2)
	for i := range early {
		early[i].At = windowFrom.Add(-time.Minute)
	}
	s.Add(early)
	s.Add(numbered("m", "mallory", 2))
	if p := s.Read(paymentsOps, query("", 10)); p.Dropped != 0 {
		t.Errorf("alice's dropped events before the window count: Dropped %d", p.Dropped)
	}
}

func TestStoreMemoryStaysBounded(t *testing.T) {
	s, _ := newTestStore(50)
	for round := range 200 {
		s.Add(numbered(fmt.Sprintf("r%d", round), fmt.Sprintf("user-%d", round%7), 20))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	indexed := 0
	for _, list := range s.byUser {
		indexed += len(list)
	}
	if s.size != 50 || len(s.ids) != 50 || indexed != 50 {
		t.Errorf("kept %d, ids %d, indexed %d; want 50 each", s.size, len(s.ids), indexed)
	}
	for user, ranges := range s.drops.users {
		if len(ranges) > maxDropRanges {
			t.Errorf("%s has %d drop ranges, more than %d", user, len(ranges), maxDropRanges)
		}
	}
}

// A user who had many events and now has few does not keep the dropped events
// alive through the array of then.
func TestDropFirstReleasesEvents(t *testing.T) {
	list := make([]*record, 1000)
	for i := range list {
		list[i] = &record{seq: uint64(i + 1)}
	}
	backing := list
	for i := range 900 {
		list = dropFirst(list, backing[i])
	}
	if len(list) != 100 || list[0].seq != 901 {
		t.Fatalf("after dropping 900 of 1000: %d left, first %d", len(list), list[0].seq)
	}
	for i := range 900 {
		if backing[i] != nil {
			t.Fatalf("slot %d of the old array still holds a dropped event", i)
		}
	}
	if got := dropFirst(list, backing[0]); len(got) != 100 {
		t.Error("dropFirst removed an event that was not the first")
	}
}

func TestStoreReportsAGapForAWindowBeforeItStarted(t *testing.T) {
	s, _ := newTestStore(10)
	s.Add(nil)
	q := query("", 10)
	q.From = storeStart.Add(-time.Minute)
	p := s.Read(paymentsOps, q)
	if !strings.Contains(p.Gap, "before the operator's audit receiver started at "+storeStart.Format(time.RFC3339Nano)) {
		t.Errorf("Gap = %q, want it to say the window began before the receiver started", p.Gap)
	}
	if p2 := s.Read(paymentsOps, query(p.Cursor, 10)); p2.Gap != "" {
		t.Errorf("a window inside the store's life has Gap %q", p2.Gap)
	}
}

func TestStoreReportsAGapWhileTheAPIServerHasNeverPosted(t *testing.T) {
	s, c := newTestStore(10)
	if p := s.Read(paymentsOps, query("", 10)); p.Gap != "" {
		t.Errorf("just after the start, before the first batch could arrive: Gap %q, want none", p.Gap)
	}
	c.Step(silenceGrace + time.Second)
	if p := s.Read(paymentsOps, query("", 10)); !strings.Contains(p.Gap, "has posted nothing") {
		t.Errorf("no post long after the start: Gap %q, want it to say the apiserver has posted nothing", p.Gap)
	}
	s.Add([]Event{event(func(e *Event) { e.User = "someone-else" })})
	if p := s.Read(paymentsOps, query("", 10)); p.Gap != "" {
		t.Errorf("after a post (of another user's event): Gap %q, want none", p.Gap)
	}
}

func TestStoreReportsAGapForACursorOfAnEarlierProcess(t *testing.T) {
	before, _ := newTestStore(10)
	before.Add(numbered("a", "alice", 2))
	old := before.Read(paymentsOps, query("", 10)).Cursor

	restarted := NewStore(10, clocktesting.NewFakeClock(storeStart.Add(10*time.Minute)))
	restarted.Add([]Event{event(func(e *Event) { e.AuditID = "after-restart" })})
	p := restarted.Read(paymentsOps, query(old, 10))
	if !strings.Contains(p.Gap, "restarted") {
		t.Errorf("Gap = %q, want it to say the receiver restarted", p.Gap)
	}
	if strings.Join(ids(p), ",") != "after-restart" {
		t.Errorf("read %v after a restart, want [after-restart]: an old cursor's sequence number means nothing here", ids(p))
	}
	if p := restarted.Read(paymentsOps, query("not-a-cursor", 10)); p.Gap == "" || len(p.Actions) != 1 {
		t.Errorf("a cursor that does not parse: Gap %q and %d actions; want a gap and a read from the start", p.Gap, len(p.Actions))
	}
}

func TestStoreWakeupsAreCoalescedAndNeverBlock(t *testing.T) {
	s, _ := newTestStore(100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake := s.Wakeups(ctx)
	// Nobody takes from the channel: Add must not block.
	for i := range 10 {
		s.Add([]Event{event(func(e *Event) { e.AuditID = fmt.Sprintf("a%d", i) })})
	}
	s.Add([]Event{event(func(e *Event) { e.AuditID, e.User, e.ImpersonatedUser = "imp", "bob", "carol" })})
	got := map[string]int{}
	timeout := time.After(5 * time.Second)
	for len(got) < 3 {
		select {
		case user := <-wake:
			got[user]++
		case <-timeout:
			t.Fatalf("got wakeups %v, want alice, carol and bob", got)
		}
	}
	select {
	case user := <-wake:
		t.Errorf("an extra wakeup for %s: ten events of alice announce her once", user)
	case <-time.After(100 * time.Millisecond):
	}
	if got["alice"] != 1 || got["carol"] != 1 || got["bob"] != 1 {
		t.Errorf("wakeups %v, want each of alice, carol (impersonated) and bob (the impersonator) once", got)
	}
	cancel()
	select {
	case _, open := <-wake:
		if open {
			t.Error("a wakeup after the context ended")
		}
	case <-time.After(5 * time.Second):
		t.Error("the wakeup channel was not closed when the context ended")
	}
}

// Posts and reads race in the operator: run with -race.
func TestStoreIsSafeForConcurrentPostsAndReads(t *testing.T) {
	s, _ := newTestStore(100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			s.Add(numbered(fmt.Sprintf("p%d", i), "alice", 10))
		}
	}()
	cursor, seen := "", 0
	for {
		p := s.Read(paymentsOps, query(cursor, 7))
		cursor, seen = p.Cursor, seen+len(p.Actions)+int(p.Dropped)
		select {
		case <-done:
			p := s.Read(paymentsOps, query(cursor, 1000))
			seen += len(p.Actions) + int(p.Dropped)
			if seen < 500 {
				t.Errorf("read %d actions and drops of alice's 500 events", seen)
			}
			return
		default:
		}
	}
}
