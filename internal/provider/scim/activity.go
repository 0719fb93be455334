package scim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/elevator-dev/elevator/internal/provider"
)

// How the SCIM provider reads what a subject did while elevated.
//
// SCIM itself has no audit API: a connection without
// spec.provider.scim.activity answers Activity with provider.Unavailable.
// With activity.oktaSystemLog it reads the Okta System Log:
//
//	GET {url}/api/v1/logs?since=&until=&filter=actor.alternateId eq "<login>"&limit=&sortOrder=ASCENDING
//
// a bounded request (since and until both set), whose events Okta returns in
// order of published, following the Link rel="next" pages within one call.
//
// The cursor is the position of the last event consumed: its published time
// and the uuids consumed at that very millisecond. An `after` token from a
// next link is not kept across calls: it belongs to one query, whose until is
// fixed, while the window's end moves on with every call; and a bounded
// query's last page has no next link at all, so there would be nothing to
// resume from. A position in published time, with the uuids already seen at
// it, is valid for any later query and never skips or repeats an event that
// shares a millisecond with another.
//
// Okta may still add an event up to the delivery delay after it happened
// ("not all events for the specified time range may be present — events may
// be delayed"). Each call therefore reads only up to its horizon, now minus
// the delay (or the window's end, when that is earlier): an event newer than
// that is left for a later call, so the cursor never moves past a moment the
// log may still fill in. Through is the read's start time when the page
// reaches the horizon: everything published up to Through minus the delay has
// been returned, which is what CollectUntil (revokedAt plus ActivityDelay)
// relies on.

const (
	// defaultActivityLimit is the page size when the query sets none.
	defaultActivityLimit = 100
	// maxLogPages bounds the System Log pages one call reads.
	maxLogPages = 10
	// maxCursorSeen bounds the uuids the cursor keeps for one millisecond, so
	// that it fits status.activity.cursor (1024 bytes). More events than that
	// in one millisecond would make the oldest be returned again (a duplicate,
	// which the ID de-duplicates), never lost.
	maxCursorSeen = 12
	// maxCursorUUID is the longest uuid the cursor keeps as it is; a longer
	// one (Okta's are 36 characters) is kept as its SHA-256.
	maxCursorUUID = 64
)

var _ provider.ActivitySource = (*Client)(nil)

// Activity reads the subject's actions in the window from the connection's
// activity source, or says there is none.
func (c *Client) Activity(ctx context.Context, q provider.ActivityQuery) (provider.ActivityPage, error) {
	if c.log == nil {
		return provider.ActivityPage{}, provider.Unavailable(
			"SCIM has no audit API and connection %s sets no spec.provider.scim.activity source", c.connection)
	}
	return c.log.activity(ctx, q)
}

// ActivityDelay is the System Log's delivery delay; zero without a source.
func (c *Client) ActivityDelay() time.Duration {
	if c.log == nil {
		return 0
	}
	return c.log.delay
}

// ActivitySourceName names the log read; "" without a source.
func (c *Client) ActivitySourceName() string {
	if c.log == nil {
		return ""
	}
	return OktaSourceName
}

// subjectLogin is the subject's login in the target: the SCIM userName stored
// at the grant, or the request's subject for a grant made before targets were
// stored.
func subjectLogin(e provider.Entitlement) string {
	if e.Target != nil && e.Target.Subject != nil && e.Target.Subject.Name != "" {
		return e.Target.Subject.Name
	}
	return e.Subject
}

// logCursor is the position of the last event consumed.
type logCursor struct {
	At   time.Time `json:"at"`
	Seen []string  `json:"seen,omitempty"`
}

func decodeCursor(raw string) (logCursor, error) {
	var c logCursor
	if raw == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil || c.At.IsZero() {
		return logCursor{}, provider.Permanentf("status.activity.cursor %q is not a cursor of the Okta System Log source", truncate(raw, 80))
	}
	c.At = c.At.UTC()
	return c, nil
}

func (c logCursor) encode() string {
	raw, _ := json.Marshal(c) // a time and strings always encode
	return string(raw)
}

// cursorKey is how the cursor keeps an event's uuid: bounded in length.
func cursorKey(uuid string) string {
	if len(uuid) <= maxCursorUUID {
		return uuid
	}
	sum := sha256.Sum256([]byte(uuid))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (c logCursor) seen(uuid string) bool {
	key := cursorKey(uuid)
	for _, s := range c.Seen {
		if s == key {
			return true
		}
	}
	return false
}

// consume moves the cursor to an event, which is never before it.
func (c *logCursor) consume(at time.Time, uuid string) {
	key := cursorKey(uuid)
	if at.After(c.At) {
		c.At, c.Seen = at, []string{key}
		return
	}
	c.Seen = append(c.Seen, key)
	if len(c.Seen) > maxCursorSeen {
		c.Seen = c.Seen[len(c.Seen)-maxCursorSeen:]
	}
}

// logScan is one call's walk over the System Log's events.
type logScan struct {
	login   string
	since   time.Time
	horizon time.Time
	limit   int
	cursor  logCursor
	actions []provider.Action
	// done is set when the page is full or the horizon reached; more when an
	// action beyond the limit is waiting.
	done, more bool
	// unreadable counts events whose published time could not be read.
	unreadable int
	firstBad   string
}

// add walks one page of events in order.
func (s *logScan) add(events []LogEvent) {
	for _, ev := range events {
		if s.done {
			return
		}
		s.addOne(ev)
	}
}

func (s *logScan) addOne(ev LogEvent) {
	at, err := ev.PublishedAt()
	switch {
	case err != nil:
		if s.unreadable == 0 {
			s.firstBad = ev.UUID
		}
		s.unreadable++
		return
	case at.Before(s.since), at.Equal(s.cursor.At) && s.cursor.seen(ev.UUID):
		return
	case at.After(s.horizon):
		s.done = true
		return
	}
	// The server filtered on the actor; checking again here means a server
	// that ignores the filter still returns nobody else's actions.
	if ev.ActedBy(s.login) {
		if len(s.actions) == s.limit {
			s.done, s.more = true, true
			return
		}
		s.actions = append(s.actions, ev.Action(at))
	}
	s.cursor.consume(at, ev.UUID)
}

// page is the scan's result, read at readStart with the given delay.
func (s *logScan) page(readStart time.Time, delay time.Duration, previous string) provider.ActivityPage {
	p := provider.ActivityPage{Actions: s.actions, Cursor: previous, More: s.more, Through: readStart}
	if !s.cursor.At.IsZero() {
		p.Cursor = s.cursor.encode()
	}
	if s.more {
		// Everything up to the cursor is returned; the rest is waiting.
		reached := s.since
		if s.cursor.At.After(reached) {
			reached = s.cursor.At
		}
		if t := reached.Add(delay); t.Before(readStart) {
			p.Through = t
		}
	}
	if s.unreadable > 0 {
		p.Gap = fmt.Sprintf("the Okta System Log returned %d event(s) whose published time is not RFC 3339 (the first: uuid %q); they could not be placed in the window",
			s.unreadable, truncate(s.firstBad, 64))
	}
	return p
}

func (l *oktaLog) activity(ctx context.Context, q provider.ActivityQuery) (provider.ActivityPage, error) {
	login := subjectLogin(q.Entitlement)
	if login == "" {
		return provider.ActivityPage{}, provider.Permanentf("the entitlement names no subject whose actions to read")
	}
	cur, err := decodeCursor(q.Cursor)
	if err != nil {
		return provider.ActivityPage{}, err
	}
	readStart := l.now().UTC()
	s := &logScan{login: login, cursor: cur, limit: q.Limit, since: q.From.UTC().Truncate(time.Millisecond)}
	if s.limit <= 0 {
		s.limit = defaultActivityLimit
	}
	s.horizon = readStart.Add(-l.delay)
	if until := q.Until.UTC(); !until.IsZero() && until.Before(s.horizon) {
		s.horizon = until
	}
	if cur.At.After(s.since) {
		s.since = cur.At
	}
	if s.horizon.Before(s.since) {
		return s.page(readStart, l.delay, q.Cursor), nil
	}
	if err := l.scan(ctx, s); err != nil {
		return provider.ActivityPage{}, err
	}
	return s.page(readStart, l.delay, q.Cursor), nil
}

// scan reads the System Log from s.since to s.horizon, page by page, until the
// scan is done or the pages run out.
func (l *oktaLog) scan(ctx context.Context, s *logScan) error {
	token, err := l.readToken(ctx)
	if err != nil {
		return err
	}
	query := url.Values{
		"since": {oktaTime(s.since)},
		// until is one millisecond past the horizon, Okta's precision, so that
		// an event at the horizon is in whether Okta's until is inclusive or not.
		"until":     {oktaTime(s.horizon.Add(time.Millisecond))},
		"filter":    {actorFilter(s.login)},
		"limit":     {strconv.Itoa(min(s.limit+1, maxLogPageSize))},
		"sortOrder": {"ASCENDING"},
	}
	for pages := 0; !s.done; pages++ {
		if pages == maxLogPages {
			s.more = true
			return nil
		}
		events, next, err := l.get(ctx, token, query)
		if err != nil {
			return fmt.Errorf("read the subject's actions: %w", err)
		}
		s.add(events)
		if next == nil || len(events) == 0 {
			return nil
		}
		query = next
	}
	return nil
}

// oktaTime formats t as Okta's since and until take it: RFC 3339, UTC, in
// milliseconds.
func oktaTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
