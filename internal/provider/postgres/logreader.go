package postgres

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elevator-dev/elevator/internal/provider"
)

// readPlan is the files to read, in order, and where to start in each.
type readPlan struct {
	segments []position
	// gap says what the plan cannot read: the cursor's file is gone or was
	// truncated.
	gap string
	// checkStart is set when no file older than the first segment is left:
	// if its first line is after the window began, older files were removed.
	checkStart bool
}

// planRead picks the files to read: with a cursor, the rest of its file and
// every file after it; without one, every file modified since from.
func planRead(files []logFile, cur position, from time.Time) readPlan {
	if cur.file == "" {
		return planFrom(files, from)
	}
	for i, f := range files {
		if f.name != cur.file {
			continue
		}
		p := readPlan{segments: []position{cur}}
		if f.size < cur.offset {
			p.gap = fmt.Sprintf("log file %s is shorter (%d bytes) than where the last read stopped (byte %d): it was truncated or replaced, and what it held after that is lost", f.name, f.size, cur.offset)
			p.segments[0].offset = 0
		}
		for _, next := range files[i+1:] {
			p.segments = append(p.segments, position{file: next.name})
		}
		return p
	}
	// The cursor's file is gone. PostgreSQL's file names hold the time they
	// were opened, so the files after it are the ones whose names sort after it.
	p := readPlan{gap: fmt.Sprintf("log file %s was removed before it was read to its end (read up to byte %d): what it held after that is lost", cur.file, cur.offset)}
	for _, f := range files {
		if f.name > cur.file {
			p.segments = append(p.segments, position{file: f.name})
		}
	}
	return p
}

// planFrom plans the first read of a window: the files modified since from.
// A file last modified before from holds nothing of the window, so the
// newest such file is where reading starts, at its end: the cursor is then
// set even when nothing new was logged. When there is none, the oldest file
// is read from its start, and checked to begin before from.
func planFrom(files []logFile, from time.Time) readPlan {
	// pg_ls_logdir's times are whole seconds.
	since := from.Truncate(time.Second)
	last := -1
	for i, f := range files {
		if f.modified.Before(since) {
			last = i
		}
	}
	if last < 0 {
		p := readPlan{checkStart: !from.IsZero()}
		for _, f := range files {
			p.segments = append(p.segments, position{file: f.name})
		}
		return p
	}
	p := readPlan{segments: []position{{file: files[last].name, offset: files[last].size}}}
	for _, f := range files[last+1:] {
		p.segments = append(p.segments, position{file: f.name})
	}
	return p
}

// logReader reads lines from the log files of a plan and keeps the subject's
// actions in the window.
type logReader struct {
	conn              *pgx.Conn
	src               logSource
	subject, database string
	from, until       time.Time
	limit             int
	budget            int64

	actions []provider.Action
	pos     position
	// last is the time of the last line read.
	last time.Time
	// stopped is set when the page is full or the budget spent.
	stopped    bool
	checkStart bool
	gaps       []string
	unreadable int
	tooLong    int
	err        error
}

func newLogReader(conn *pgx.Conn, src logSource, q provider.ActivityQuery, cur position, database string) *logReader {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultActivityLimit
	}
	return &logReader{
		conn: conn, src: src, database: database,
		subject: activitySubject(q.Entitlement),
		from:    q.From, until: q.Until,
		limit:  min(limit, maxActivityLimit),
		budget: readBudget,
		pos:    cur,
	}
}

// read reads the plan's files in order until the end, a full page, the
// budget, or an error.
func (r *logReader) read(ctx context.Context, p readPlan) {
	if p.gap != "" {
		r.gaps = append(r.gaps, p.gap)
	}
	for i, seg := range p.segments {
		r.pos = seg
		r.checkStart = i == 0 && p.checkStart
		r.readFile(ctx)
		if r.err != nil || r.stopped {
			return
		}
	}
}

// readFile reads r.pos's file from r.pos on, chunk by chunk.
func (r *logReader) readFile(ctx context.Context) {
	for {
		if r.budget <= 0 {
			r.stopped = true
			return
		}
		want := min(int64(readChunk), r.budget)
		data, ok := r.readAt(ctx, r.pos, want)
		if !ok || len(data) == 0 {
			return
		}
		n := r.lines(data)
		if r.stopped || r.err != nil {
			return
		}
		if n == 0 && (int64(len(data)) < want || !r.longLine(ctx)) {
			return // the end of the file: its last line is not written yet
		}
	}
}

// readAt reads up to n bytes of pos's file at pos's offset. ok is false when
// the file is gone (noted as a gap) or on error (in r.err).
func (r *logReader) readAt(ctx context.Context, pos position, n int64) ([]byte, bool) {
	var data []byte
	err := r.conn.QueryRow(ctx, `SELECT pg_read_binary_file($1, $2, $3, true)`,
		path.Join(r.src.dir, pos.file), pos.offset, n).Scan(&data)
	if err != nil {
		r.err = fmt.Errorf("read log file %s at byte %d: %w", pos.file, pos.offset, err)
		return nil, false
	}
	if data == nil {
		r.gaps = append(r.gaps, fmt.Sprintf("log file %s was removed while it was read (at byte %d): what it held after that is lost", pos.file, pos.offset))
		return nil, false
	}
	r.budget -= int64(len(data))
	return data, true
}

// lines handles each complete line of data, read at r.pos, advancing r.pos
// past it; it returns the bytes consumed.
func (r *logReader) lines(data []byte) int {
	consumed := 0
	for !r.stopped {
		nl := bytes.IndexByte(data[consumed:], '\n')
		if nl < 0 {
			break
		}
		r.line(data[consumed : consumed+nl])
		consumed += nl + 1
		r.pos.offset += int64(nl + 1)
	}
	return consumed
}

// longLine handles a line longer than a chunk: it reads it whole when it is
// at most maxLineBytes long, else skips it. It reports false when the line
// has no end yet.
func (r *logReader) longLine(ctx context.Context) bool {
	data, ok := r.readAt(ctx, r.pos, maxLineBytes)
	if !ok {
		return false
	}
	if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
		r.lines(data[:nl+1])
		return true
	}
	if len(data) < maxLineBytes {
		return false
	}
	return r.skipLine(ctx, data)
}

// skipLine skips the line at r.pos, of which data is the first
// maxLineBytes. It is counted as a gap when it may be one of the subject's
// in the window: its head says who and when.
func (r *logReader) skipLine(ctx context.Context, data []byte) bool {
	matters := r.mayMatter(data)
	skip := position{file: r.pos.file, offset: r.pos.offset + int64(len(data))}
	for {
		more, ok := r.readAt(ctx, skip, readChunk)
		if !ok || len(more) == 0 {
			return false
		}
		skip.offset += int64(len(more))
		nl := bytes.IndexByte(more, '\n')
		if nl < 0 && r.budget > 0 {
			continue
		}
		if matters {
			r.tooLong++
		}
		if nl < 0 {
			// Go on next time from here, inside the line: its rest will not
			// read as jsonlog, and is counted so.
			r.pos.offset = skip.offset
			r.stopped = true
			return false
		}
		r.pos.offset = skip.offset - int64(len(more)) + int64(nl+1)
		return true
	}
}

// mayMatter reports whether a line too long to decode may be the subject's,
// in the window, by the fields jsonlog writes first (timestamp, user).
func (r *logReader) mayMatter(prefix []byte) bool {
	l, ok := lineHead(prefix)
	if !ok {
		return true
	}
	t, err := parseLogTime(l.Timestamp, r.src.loc)
	if err != nil {
		return true
	}
	return l.User == r.subject && !t.Before(r.from.Truncate(time.Millisecond)) && (r.until.IsZero() || !t.After(r.until))
}

// line handles one jsonlog line.
func (r *logReader) line(raw []byte) {
	at := r.pos
	l, err := parseLogLine(raw)
	if err != nil {
		r.unreadable++
		return
	}
	t, err := parseLogTime(l.Timestamp, r.src.loc)
	if err != nil {
		r.unreadable++
		return
	}
	r.last = t
	if r.checkStart {
		r.checkStart = false
		if t.After(r.from) {
			r.gaps = append(r.gaps, fmt.Sprintf("the oldest log file, %s, begins at %s, after the window began: older files were removed", at.file, t.UTC().Format(time.RFC3339)))
		}
	}
	// The log's times are whole milliseconds, cut down: a line of From's own
	// millisecond may be from after it.
	if l.User != r.subject || t.Before(r.from.Truncate(time.Millisecond)) || (!r.until.IsZero() && t.After(r.until)) {
		return
	}
	a, ok := toAction(l)
	if !ok {
		return
	}
	a.At, a.ID = t, l.SessionID+":"+strconv.FormatInt(l.LineNum, 10)
	a.Object = truncateText(r.inDatabase(a.Object, l.Database))
	a.Action = truncateText(a.Action)
	r.actions = append(r.actions, a)
	r.stopped = len(r.actions) >= r.limit
}

// toAction is the Action of an audited or a refused statement.
func toAction(l logLine) (provider.Action, bool) {
	if rec, ok := parseAudit(l.Message); ok {
		return rec.action(), true
	}
	if l.Severity == "ERROR" && l.StateCode == deniedCode {
		return deniedAction(l), true
	}
	return provider.Action{}, false
}

// inDatabase notes the database of an object in another database than the
// connection's. Roles belong to no database.
func (r *logReader) inDatabase(object, database string) string {
	if object == "" || database == "" || database == r.database || strings.HasPrefix(object, "ROLE ") {
		return object
	}
	return object + " in database " + database
}

// page is what was read.
func (r *logReader) page() provider.ActivityPage {
	p := provider.ActivityPage{Actions: r.actions, Cursor: r.pos.String(), More: r.stopped, Through: r.src.now}
	switch {
	case !r.stopped:
	case r.last.IsZero(): // stopped before reading a line: nothing new is known
		p.Through = r.from
	case r.last.Before(r.src.now):
		p.Through = r.last
	}
	gaps := r.gaps
	if r.src.gap != "" {
		gaps = append([]string{r.src.gap}, gaps...)
	}
	if r.tooLong > 0 {
		gaps = append(gaps, fmt.Sprintf("%d log lines of the subject in the window were longer than %d bytes and skipped", r.tooLong, maxLineBytes))
	}
	if r.unreadable > 0 {
		gaps = append(gaps, fmt.Sprintf("%d log lines could not be read as jsonlog", r.unreadable))
	}
	p.Gap = strings.Join(gaps, "; ")
	return p
}
