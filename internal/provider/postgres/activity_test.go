package postgres

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/postgres/pgtest"
)

// want is an expected action: category, command, object, denied.
type want struct {
	category accessv1alpha1.ActivityCategory
	action   string
	object   string
	denied   bool
}

func (w want) String() string {
	return fmt.Sprintf("%s %s %q denied=%t", w.category, w.action, w.object, w.denied)
}

func got(a provider.Action) want { return want{a.Category, a.Action, a.Object, a.Denied} }

// elevated is a subject granted a role through the provider, with the
// stored target the controller would pass back to Activity.
type elevated struct {
	user, password, role string
	ent                  provider.Entitlement
}

// grantForActivity makes a login, a role that may write table and create in
// schema public, and grants the role through the provider's Grant.
func grantForActivity(t *testing.T, c provider.Client, table string) elevated {
	t.Helper()
	user, role := uniq("eve"), uniq("ops_rw")
	pw := newUser(t, user)
	superExec(t,
		"CREATE ROLE "+quote(role)+" NOLOGIN",
		"CREATE TABLE "+quote(table)+" (v text)",
		"GRANT SELECT, INSERT, UPDATE ON "+quote(table)+" TO "+quote(role),
		"GRANT SELECT ON "+secretTable+" TO "+quote(role),
		"GRANT CREATE ON SCHEMA public TO "+quote(role),
	)
	e := entitlement(user, role)
	g, err := c.Grant(testCtx(t), e)
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	e.Target = &g.Target
	return elevated{user: user, password: pw, role: role, ent: e}
}

// psql runs script as user through the psql binary.
func psql(t *testing.T, user, password, script string) {
	t.Helper()
	if _, err := srv.Psql(testCtx(t), testDB, user, password, script); err != nil {
		t.Fatal(err)
	}
}

func activitySource(t *testing.T, c provider.Client) provider.ActivitySource {
	t.Helper()
	src, ok := c.(provider.ActivitySource)
	if !ok {
		t.Fatal("the postgres client does not implement provider.ActivitySource")
	}
	return src
}

// readAll reads pages from cursor until the source has no more, and returns
// the actions and the last page, with the gaps of every page.
func readAll(t *testing.T, src provider.ActivitySource, q provider.ActivityQuery) ([]provider.Action, provider.ActivityPage) {
	t.Helper()
	var (
		all  []provider.Action
		gaps []string
	)
	for range 100 {
		page, err := src.Activity(testCtx(t), q)
		if err != nil {
			t.Fatalf("activity: %v", err)
		}
		all = append(all, page.Actions...)
		if page.Gap != "" {
			gaps = append(gaps, page.Gap)
		}
		if !page.More {
			page.Gap = strings.Join(gaps, "; ")
			return all, page
		}
		q.Cursor = page.Cursor
	}
	t.Fatal("activity: still More after 100 pages")
	return nil, provider.ActivityPage{}
}

// awaitActions reads from q until at least n actions are there (the collector
// writes lines a moment after the statement), and returns what it read.
func awaitActions(t *testing.T, src provider.ActivitySource, q provider.ActivityQuery, n int) ([]provider.Action, provider.ActivityPage) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		actions, page := readAll(t, src, q)
		if len(actions) >= n || time.Now().After(deadline) {
			return actions, page
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func wantActions(t *testing.T, actions []provider.Action, expected ...want) {
	t.Helper()
	var g []string
	for _, a := range actions {
		g = append(g, got(a).String())
	}
	var w []string
	for _, e := range expected {
		w = append(w, e.String())
	}
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Fatalf("actions:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
}

// logLinesOf reads the server's jsonlog files directly and returns the
// pgaudit lines of user, for checking what the log held.
func logLinesOf(t *testing.T, user string) []logLine {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(srv.LogDir(), "*.json"))
	var out []logLine
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		// Lines can be megabytes long (TestActivityReadsLongLinesAndSkipsHugeOnes).
		rd := bufio.NewReader(fh)
		for {
			raw, err := rd.ReadBytes('\n')
			var l logLine
			if json.Unmarshal(raw, &l) == nil && l.User == user {
				out = append(out, l)
			}
			if err != nil {
				break
			}
		}
		_ = fh.Close()
	}
	return out
}

// TestActivityRecordsWhatTheSubjectDidWhileElevated: the subject, logged in
// with psql, writes, creates a table, grants on it, changes its password,
// and is refused twice; all of it is returned in order, with categories and
// objects, and nothing the subject did before or after the window, nor what
// another login did in it, nor any password.
func TestActivityRecordsWhatTheSubjectDidWhileElevated(t *testing.T) {
	c := operatorClient(t)
	src := activitySource(t, c)
	table, created := uniq("acts"), uniq("made")
	sub := grantForActivity(t, c, table)
	mate := uniq("mate")
	matePW := newUser(t, mate)
	superExec(t, "GRANT INSERT ON "+quote(table)+" TO "+quote(mate)+", "+quote(sub.user))
	secretPW, secret2 := "pw-"+randomPassword(), "pw-"+randomPassword()

	psql(t, sub.user, sub.password, insertScript(table, "before"))
	time.Sleep(50 * time.Millisecond)
	from := time.Now()
	time.Sleep(20 * time.Millisecond)

	psql(t, sub.user, sub.password, strings.Join([]string{
		"SET ROLE " + quote(sub.role) + ";",
		"INSERT INTO " + quote(table) + " VALUES ('x');",
		"UPDATE " + quote(table) + " SET v = 'y';",
		"CREATE TABLE " + quote(created) + " (v text);",
		"GRANT SELECT ON " + quote(created) + " TO " + quote(mate) + ";",
		"DELETE FROM " + secretTable + ";",
		"RESET ROLE;",
		fmt.Sprintf("ALTER ROLE %s PASSWORD '%s';", quote(sub.user), secretPW),
		fmt.Sprintf("CREATE ROLE %s PASSWORD '%s';", quote(uniq("sneaky")), secret2),
	}, "\n")+"\n")
	// One string, two statements: pgaudit logs the whole string, password
	// and all, for each of them.
	multi := fmt.Sprintf("CREATE TABLE %s_2 (v text); ALTER ROLE %s PASSWORD '%s'", created, quote(sub.user), secret2)
	if _, err := login(t, sub.user, secretPW).PgConn().Exec(testCtx(t), multi).ReadAll(); err != nil {
		t.Fatalf("two statements in one string: %v", err)
	}
	psql(t, mate, matePW, insertScript(table, "mate's"))
	time.Sleep(20 * time.Millisecond)
	until := time.Now()
	time.Sleep(50 * time.Millisecond)
	psql(t, sub.user, secret2, insertScript(table, "after"))

	q := provider.ActivityQuery{Entitlement: sub.ent, From: from, Until: until, Limit: 50}
	actions, page := awaitActions(t, src, q, 9)
	wantActions(t, actions,
		want{accessv1alpha1.ActivityData, "INSERT", "TABLE public." + table, false},
		want{accessv1alpha1.ActivityData, "UPDATE", "TABLE public." + table, false},
		want{accessv1alpha1.ActivityConfig, "CREATE TABLE", "TABLE public." + created, false},
		want{accessv1alpha1.ActivityAccess, "GRANT", "TABLE " + created + " TO " + mate, false},
		want{accessv1alpha1.ActivityData, "DELETE", "TABLE " + secretTable, true},
		want{accessv1alpha1.ActivityAccess, "ALTER ROLE", "ROLE " + sub.user, false},
		want{accessv1alpha1.ActivityAccess, "CREATE ROLE", "", true},
		want{accessv1alpha1.ActivityConfig, "CREATE TABLE", "TABLE public." + created + "_2", false},
		want{accessv1alpha1.ActivityAccess, "ALTER ROLE", "", false},
	)
	if page.Gap != "" {
		t.Errorf("gap = %q, want none", page.Gap)
	}
	ids := map[string]bool{}
	for _, a := range actions {
		if a.At.Before(from) || a.At.After(until) || a.ID == "" || ids[a.ID] {
			t.Errorf("action %+v: outside [%s, %s], or its ID empty or repeated", a, from, until)
		}
		ids[a.ID] = true
		for _, field := range []string{a.Action, a.Object, a.ID, a.ImpersonatedBy} {
			if strings.Contains(field, secretPW) || strings.Contains(field, secret2) || strings.Contains(field, "PASSWORD") {
				t.Errorf("action %+v holds the password or statement text", a)
			}
		}
	}
	wantLoggedOutside(t, sub.user, from, until)
}

// wantLoggedOutside checks that the log did hold the subject's writes before
// from and after until, so that their absence from Activity is its filter's
// doing.
func wantLoggedOutside(t *testing.T, user string, from, until time.Time) {
	t.Helper()
	var before, after bool
	for _, l := range logLinesOf(t, user) {
		at, err := parseLogTime(l.Timestamp, time.UTC)
		if err != nil || !strings.HasPrefix(l.Message, "AUDIT: ") {
			continue
		}
		before = before || at.Before(from)
		after = after || at.After(until)
	}
	if !before || !after {
		t.Fatalf("the log holds no line of %s before the window (%t) or after it (%t): the test proves nothing", user, before, after)
	}
}

// rotate makes the collector open a new jsonlog file, and waits until it has:
// file names hold the second they were opened, so within the same second it
// would reopen the same file.
func rotate(t *testing.T) string {
	t.Helper()
	ctx := testCtx(t)
	before := currentLogfile(t)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := srv.Exec(ctx, testDB, "SELECT pg_rotate_logfile()"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		if now := currentLogfile(t); now != before {
			return before
		}
	}
	t.Fatal("pg_rotate_logfile() opened no new jsonlog file")
	return ""
}

func currentLogfile(t *testing.T) string {
	t.Helper()
	ctx := testCtx(t)
	conn, err := srv.SuperConnect(ctx, testDB)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var name string
	if err := conn.QueryRow(ctx, `SELECT pg_current_logfile('jsonlog')`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func insertScript(table string, values ...string) string {
	var b strings.Builder
	for _, v := range values {
		fmt.Fprintf(&b, "INSERT INTO %s VALUES (%s);\n", quote(table), quoteLiteral(v))
	}
	return b.String()
}

// TestActivityCursorAcrossRotation: reading with the cursor, page by page
// (one action a page) and across a rotation of the log, returns every action
// once; a cursor whose file was removed reports the gap.
func TestActivityCursorAcrossRotation(t *testing.T) {
	c := operatorClient(t)
	src := activitySource(t, c)
	table := uniq("rot")
	sub := grantForActivity(t, c, table)
	from := time.Now()
	psql(t, sub.user, sub.password, insertScript(table, "a", "b"))
	q := provider.ActivityQuery{Entitlement: sub.ent, From: from, Until: time.Now().Add(time.Hour), Limit: 1}
	if both, _ := awaitActions(t, src, q, 2); len(both) != 2 {
		t.Fatalf("read a and b: %+v", both)
	}

	// Page by page: at most one action a page (a page may also stop at the
	// read budget, with none), a and b each once, then no More.
	var (
		seen []provider.Action
		page provider.ActivityPage
	)
	for i := 0; i == 0 || page.More; i++ {
		p, err := src.Activity(testCtx(t), q)
		if err != nil || len(p.Actions) > 1 || i > 50 {
			t.Fatalf("page %d with limit 1: %+v, %v", i, p, err)
		}
		seen, q.Cursor, page = append(seen, p.Actions...), p.Cursor, p
	}
	if len(seen) != 2 {
		t.Fatalf("pages with limit 1 gave %+v; want a and b", seen)
	}
	old := rotate(t)
	psql(t, sub.user, sub.password, insertScript(table, "c"))
	after, page := awaitActions(t, src, q, 1)
	seen = append(seen, after...)
	if len(seen) != 3 || page.Gap != "" {
		t.Fatalf("across the rotation: %d actions, gap %q; want 3 (a, b, c), no gap: %+v", len(seen), page.Gap, seen)
	}
	ids := map[string]bool{}
	for _, a := range seen {
		if ids[a.ID] || a.Action != "INSERT" {
			t.Fatalf("action %+v repeated or not the INSERT: %+v", a, seen)
		}
		ids[a.ID] = true
	}
	if !strings.HasPrefix(page.Cursor, filepath.Base(currentLogfile(t))+":") {
		t.Fatalf("cursor %q is not in the new file %s", page.Cursor, currentLogfile(t))
	}

	// A cursor in a file that is gone: the gap names it.
	if err := os.Remove(filepath.Join(srv.LogDir(), "..", old)); err != nil {
		t.Fatal(err)
	}
	q.Cursor = filepath.Base(old) + ":5"
	gone, err := src.Activity(testCtx(t), q)
	if err != nil || !strings.Contains(gone.Gap, filepath.Base(old)+" was removed") {
		t.Fatalf("cursor in a removed file: %+v, %v; want a gap naming %s", gone, err, old)
	}
}

// TestActivityReadsLongLinesAndSkipsHugeOnes: a statement longer than a
// read chunk is read whole; one longer than maxLineBytes is skipped and
// reported as a gap, and reading goes on after it.
func TestActivityReadsLongLinesAndSkipsHugeOnes(t *testing.T) {
	c := operatorClient(t)
	src := activitySource(t, c)
	table := uniq("long")
	sub := grantForActivity(t, c, table)
	from := time.Now()
	psql(t, sub.user, sub.password, "SET ROLE "+quote(sub.role)+";\n"+
		insertScript(table, strings.Repeat("l", readChunk+1000), strings.Repeat("h", maxLineBytes+1000))+
		"UPDATE "+quote(table)+" SET v = 'short';\n")
	q := provider.ActivityQuery{Entitlement: sub.ent, From: from, Until: time.Now().Add(time.Hour), Limit: 10}
	actions, page := awaitActions(t, src, q, 2)
	wantActions(t, actions,
		want{accessv1alpha1.ActivityData, "INSERT", "TABLE public." + table, false},
		want{accessv1alpha1.ActivityData, "UPDATE", "TABLE public." + table, false},
	)
	if want := fmt.Sprintf("1 log lines of the subject in the window were longer than %d bytes and skipped", maxLineBytes); page.Gap != want {
		t.Fatalf("gap = %q, want %q", page.Gap, want)
	}
}

// TestActivityInAnotherDatabase: roles are cluster-wide, so the subject's
// writes in another database than the connection's are returned, and say
// which database.
func TestActivityInAnotherDatabase(t *testing.T) {
	c := operatorClient(t)
	src := activitySource(t, c)
	sub := grantForActivity(t, c, uniq("here"))
	elsewhere := uniq("elsewhere")
	ctx := testCtx(t)
	if err := srv.Exec(ctx, "postgres", "CREATE TABLE "+quote(elsewhere)+" (v text)", "GRANT INSERT ON "+quote(elsewhere)+" TO "+quote(sub.role)); err != nil {
		t.Fatal(err)
	}
	from := time.Now()
	if _, err := srv.Psql(ctx, "postgres", sub.user, sub.password, insertScript(elsewhere, "x")); err != nil {
		t.Fatal(err)
	}
	q := provider.ActivityQuery{Entitlement: sub.ent, From: from, Until: time.Now().Add(time.Hour), Limit: 10}
	actions, _ := awaitActions(t, src, q, 1)
	wantActions(t, actions, want{accessv1alpha1.ActivityData, "INSERT", "TABLE public." + elsewhere + " in database postgres", false})
}

// TestActivityUnavailableWithoutPgaudit: a server without pgaudit and jsonlog
// is Unavailable, saying both.
func TestActivityUnavailableWithoutPgaudit(t *testing.T) {
	ctx := testCtx(t)
	plain, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(plain.Stop)
	pw := randomPassword()
	if err := plain.Exec(ctx, "postgres",
		"CREATE DATABASE "+testDB,
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", operatorUser, pw),
	); err != nil {
		t.Fatal(err)
	}
	if err := plain.Exec(ctx, testDB, logReadGrants(operatorUser)...); err != nil {
		t.Fatal(err)
	}
	conn := connection(nil, func(p *accessv1alpha1.PostgresProvider) {
		p.Port, p.CABundle = int32(plain.Port), string(plain.CACertPEM)
	})
	c := newClient(t, conn, secretsOf(map[string]string{keyUsername: operatorUser, keyPassword: pw}))
	_, err = activitySource(t, c).Activity(ctx, provider.ActivityQuery{Entitlement: entitlement("alice", "r"), From: time.Now()})
	if !provider.IsUnavailable(err) {
		t.Fatalf("activity without pgaudit: %v; want Unavailable", err)
	}
	for _, reason := range []string{"pgaudit is not loaded: add it to shared_preload_libraries", `log_destination is "stderr": it must include jsonlog`, "logging_collector is off"} {
		if !strings.Contains(err.Error(), reason) {
			t.Errorf("unavailable: %q; want it to say %q", err, reason)
		}
	}
	if strings.Contains(err.Error(), "GRANT") {
		t.Errorf("unavailable: %q names grants the user has", err)
	}
}

// TestActivityUnavailableWithoutTheGrants: a login without the grants is
// told which ones it needs, and nothing else.
func TestActivityUnavailableWithoutTheGrants(t *testing.T) {
	user := uniq("op_nogrants")
	pw := newUser(t, user)
	c := newClient(t, connection(nil), secretsOf(map[string]string{keyUsername: user, keyPassword: pw}))
	_, err := activitySource(t, c).Activity(testCtx(t), provider.ActivityQuery{Entitlement: entitlement("alice", "r"), From: time.Now()})
	if !provider.IsUnavailable(err) {
		t.Fatalf("activity without the grants: %v; want Unavailable", err)
	}
	for _, g := range logReadGrants(user) {
		if !strings.Contains(err.Error(), g) {
			t.Errorf("unavailable: %q; want it to name %q", err, g)
		}
	}
	if strings.Contains(err.Error(), "pgaudit is not") || strings.Contains(err.Error(), "log_destination") {
		t.Errorf("unavailable: %q blames the server's settings, which are right", err)
	}
}

// TestActivityRefusesABadCursor: a cursor that is not file:offset, or names a
// path, is a permanent error, before anything is read.
func TestActivityRefusesABadCursor(t *testing.T) {
	src := activitySource(t, operatorClient(t))
	if src.ActivitySourceName() != "pgaudit (PostgreSQL jsonlog)" || src.ActivityDelay() != 2*time.Second {
		t.Fatalf("source %q, delay %s", src.ActivitySourceName(), src.ActivityDelay())
	}
	for _, cursor := range []string{"../../postgresql.conf:0", "postgresql.json", "x.json:-3"} {
		_, err := src.Activity(testCtx(t), provider.ActivityQuery{Entitlement: entitlement("alice", "r"), From: time.Now(), Cursor: cursor})
		if !provider.IsPermanent(err) || !strings.Contains(err.Error(), "is not file:offset") {
			t.Errorf("cursor %q: %v; want a permanent error", cursor, err)
		}
	}
}
