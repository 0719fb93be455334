package postgres

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/elevator-dev/elevator/internal/provider"
)

// The activity source reads pgaudit's lines from the server's jsonlog files,
// through SQL only: pg_current_logfile('jsonlog') names the file being
// written, pg_ls_logdir() lists the others, and pg_read_binary_file reads
// them in bounded chunks. The cursor is "file:offset", the first byte not yet
// read, so the client keeps no state between calls.

const (
	activitySourceName = "pgaudit (PostgreSQL jsonlog)"
	// activityDelay covers the logging collector: a backend writes each line
	// to the collector's pipe as the statement runs, and the collector writes
	// it to the file at once. Two seconds is ample for a loaded server.
	activityDelay = 2 * time.Second
	// readChunk is how much one pg_read_binary_file call reads.
	readChunk = 256 << 10
	// readBudget bounds what one Activity call reads in all; the rest is the
	// next page's.
	readBudget = 8 << 20
	// maxLineBytes is the longest jsonlog line read. pgaudit logs the
	// statement, so a line can be as long as one; a longer line is skipped and
	// reported as a gap.
	maxLineBytes = 4 << 20
	// defaultActivityLimit and maxActivityLimit bound a page.
	defaultActivityLimit = 100
	maxActivityLimit     = 1000
)

var _ provider.ActivitySource = (*client)(nil)

// ActivitySourceName names the log read.
func (c *client) ActivitySourceName() string { return activitySourceName }

// ActivityDelay is how long after an action its line may still be unwritten.
func (c *client) ActivityDelay() time.Duration { return activityDelay }

// Activity reads the subject's audited statements, and its statements refused
// for want of a privilege, in [q.From, q.Until], after q.Cursor. It matches the
// log's user, the session's login: a statement run after SET ROLE to the
// granted role is logged under the login too. Statement text is never put
// into an Action.
func (c *client) Activity(ctx context.Context, q provider.ActivityQuery) (provider.ActivityPage, error) {
	cur, err := parseCursor(q.Cursor)
	if err != nil {
		return provider.ActivityPage{}, provider.Permanent(err)
	}
	at := c
	if t := q.Entitlement.Target; t != nil {
		if at, _, err = c.atEndpoint(t.Endpoint); err != nil {
			return provider.ActivityPage{}, err
		}
	}
	conn, _, err := at.connect(ctx)
	if err != nil {
		return provider.ActivityPage{}, err
	}
	defer closeConn(ctx, conn)
	src, err := at.openLog(ctx, conn)
	if err != nil {
		return provider.ActivityPage{}, err
	}
	r := newLogReader(conn, src, q, cur, at.settings.database)
	r.read(ctx, planRead(src.files, cur, q.From))
	if r.err != nil {
		return provider.ActivityPage{}, classify("read the jsonlog on "+at.settings.address(), r.err)
	}
	return r.page(), nil
}

// activitySubject is the login the log names: the one resolved at the grant.
func activitySubject(e provider.Entitlement) string {
	if e.Target != nil && e.Target.Subject != nil && e.Target.Subject.Name != "" {
		return e.Target.Subject.Name
	}
	return e.Subject
}

// logSource is what openLog found: the log files, and how to read them.
type logSource struct {
	// dir is the log directory as pg_read_binary_file takes it.
	dir   string
	files []logFile
	loc   *time.Location
	// now is the server's clock before the files were listed: every line
	// logged before it is in one of them.
	now time.Time
	// gap names pgaudit classes the server does not log.
	gap string
}

// logFile is one jsonlog file of pg_ls_logdir().
type logFile struct {
	name     string
	size     int64
	modified time.Time
}

// logSettingsSQL reads, as the operator's user, what the activity source
// needs: pgaudit.log (a row only when pgaudit is loaded: its parameter is
// settable by superusers, a placeholder by anyone), the log settings, and
// whether the user may call the three functions.
const logSettingsSQL = `
SELECT (SELECT setting FROM pg_settings WHERE name = 'pgaudit.log' AND context = 'superuser'),
       current_setting('log_destination'),
       current_setting('logging_collector'),
       current_setting('log_timezone'),
       has_function_privilege('pg_catalog.pg_current_logfile(text)', 'EXECUTE'),
       has_function_privilege('pg_catalog.pg_ls_logdir()', 'EXECUTE'),
       has_function_privilege('pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)', 'EXECUTE'),
       clock_timestamp()`

// logSettings is what logSettingsSQL read.
type logSettings struct {
	pgauditLog                         *string
	destination, collector, timezone   string
	currentLogfile, lsLogdir, readFile bool
	now                                time.Time
}

// openLog checks that the server keeps the log Elevator reads and that the
// operator's user may read it, then lists its files. What is missing is an
// Unavailable error naming all of it.
func (c *client) openLog(ctx context.Context, conn *pgx.Conn) (logSource, error) {
	if major := serverMajor(conn); major < 15 {
		return logSource{}, provider.Unavailable("no pgaudit log to read on %s: PostgreSQL %d writes no jsonlog; version 15 or newer does", c.settings.address(), major)
	}
	var s logSettings
	err := conn.QueryRow(ctx, logSettingsSQL).Scan(&s.pgauditLog, &s.destination, &s.collector, &s.timezone,
		&s.currentLogfile, &s.lsLogdir, &s.readFile, &s.now)
	if err != nil {
		return logSource{}, classify("read the log settings on "+c.settings.address(), err)
	}
	if problems := s.problems(quote(conn.Config().User)); len(problems) > 0 {
		return logSource{}, provider.Unavailable("no pgaudit log to read on %s: %s", c.settings.address(), strings.Join(problems, "; "))
	}
	loc, err := time.LoadLocation(s.timezone)
	if err != nil {
		return logSource{}, provider.Unavailable("the server's log_timezone %q is not a time zone the operator knows, so the log's times cannot be read: %v", s.timezone, err)
	}
	var current *string
	if err := conn.QueryRow(ctx, `SELECT pg_current_logfile('jsonlog')`).Scan(&current); err != nil {
		return logSource{}, classify("pg_current_logfile('jsonlog') on "+c.settings.address(), err)
	}
	if current == nil {
		return logSource{}, provider.Unavailable("no pgaudit log to read on %s: the server writes no jsonlog file (pg_current_logfile('jsonlog') is NULL): "+
			"log_destination must include jsonlog, with logging_collector = on, and the configuration reloaded", c.settings.address())
	}
	files, err := listLogFiles(ctx, conn)
	if err != nil {
		return logSource{}, classify("pg_ls_logdir() on "+c.settings.address(), err)
	}
	return logSource{dir: path.Dir(*current), files: files, loc: loc, now: s.now, gap: s.classGap()}, nil
}

// problems says what keeps the log from being read, each with its fix.
func (s logSettings) problems(user string) []string {
	var out []string
	if s.pgauditLog == nil {
		out = append(out, "pgaudit is not loaded: add it to shared_preload_libraries and restart the server")
	} else if strings.TrimSpace(*s.pgauditLog) == "" || strings.EqualFold(strings.TrimSpace(*s.pgauditLog), "none") {
		out = append(out, "pgaudit.log is 'none': set it to 'write, ddl, role'")
	}
	if !hasListItem(s.destination, "jsonlog") {
		out = append(out, fmt.Sprintf("log_destination is %q: it must include jsonlog", s.destination))
	}
	if s.collector != "on" {
		out = append(out, "logging_collector is off: jsonlog needs it on (and a restart)")
	}
	var grants []string
	if !s.currentLogfile {
		grants = append(grants, "GRANT EXECUTE ON FUNCTION pg_catalog.pg_current_logfile(text) TO "+user)
	}
	if !s.lsLogdir {
		grants = append(grants, "GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_logdir() TO "+user)
	}
	if !s.readFile {
		grants = append(grants, "GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO "+user)
	}
	if len(grants) > 0 {
		out = append(out, "the operator's user may not read the log: "+strings.Join(grants, "; "))
	}
	return out
}

// classGap names the classes of statements Elevator counts that pgaudit.log
// leaves out: their absence from the record proves nothing.
func (s logSettings) classGap() string {
	if s.pgauditLog == nil || hasListItem(*s.pgauditLog, "all") {
		return ""
	}
	var missing []string
	for _, class := range []string{"write", "ddl", "role"} {
		if !hasListItem(*s.pgauditLog, class) {
			missing = append(missing, class)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("pgaudit.log is '%s': statements of class %s are not logged", *s.pgauditLog, strings.Join(missing, ", "))
}

// hasListItem reports whether a comma-separated setting holds item.
func hasListItem(list, item string) bool {
	for _, v := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(v), item) {
			return true
		}
	}
	return false
}

// listLogFiles lists the jsonlog files, oldest first: the collector writes to
// one at a time, so a file last modified earlier holds earlier lines. The
// name breaks ties of the same second (PostgreSQL's file names hold the time
// they were opened).
func listLogFiles(ctx context.Context, conn *pgx.Conn) ([]logFile, error) {
	rows, err := conn.Query(ctx, `SELECT name, size, modification FROM pg_ls_logdir() WHERE name LIKE '%.json' ORDER BY modification, name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (logFile, error) {
		var f logFile
		err := row.Scan(&f.name, &f.size, &f.modified)
		return f, err
	})
}

// position is a place in the log: a file and a byte offset in it.
type position struct {
	file   string
	offset int64
}

func (p position) String() string {
	if p.file == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", p.file, p.offset)
}

// parseCursor reads "file:offset"; "" is the zero position. The file is a
// name in the log directory, never a path.
func parseCursor(s string) (position, error) {
	if s == "" {
		return position{}, nil
	}
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || strings.ContainsRune(s[:i], '/') {
		return position{}, fmt.Errorf("activity cursor %q is not file:offset", s)
	}
	off, err := strconv.ParseInt(s[i+1:], 10, 64)
	if err != nil || off < 0 {
		return position{}, fmt.Errorf("activity cursor %q is not file:offset", s)
	}
	return position{file: s[:i], offset: off}, nil
}
