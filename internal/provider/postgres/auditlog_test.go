package postgres

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

const (
	access = accessv1alpha1.ActivityAccess
	config = accessv1alpha1.ActivityConfig
	data   = accessv1alpha1.ActivityData
	other  = accessv1alpha1.ActivityOther
)

// TestActionsOfCapturedLines reads lines a PostgreSQL 15 server with
// pgaudit 1.7 wrote (testdata/pgaudit-15.jsonlog: a superuser setting up,
// then alice acting, before and after CREATE EXTENSION pgaudit, with
// passwords in the statements), and checks the action of every line that has
// one, and that no password reaches an action.
func TestActionsOfCapturedLines(t *testing.T) {
	type row struct {
		user string
		want
	}
	expected := []row{
		{"postgres", want{access, "CREATE ROLE", "ROLE alice", false}},
		{"postgres", want{access, "CREATE ROLE", "ROLE rw", false}},
		// Before CREATE EXTENSION pgaudit, DDL carries no object.
		{"postgres", want{config, "CREATE TABLE", "", false}},
		{"postgres", want{access, "GRANT", "TABLE t TO rw", false}},
		{"postgres", want{access, "GRANT ROLE", "ROLE rw TO alice", false}},
		{"postgres", want{access, "GRANT", "SCHEMA public TO rw", false}},
		{"alice", want{data, "INSERT", "TABLE public.t", false}},
		{"alice", want{data, "UPDATE", "TABLE public.t", false}},
		{"alice", want{config, "CREATE TABLE", "", false}},
		{"alice", want{access, "GRANT", "TABLE t2 TO public", false}},
		// Refused: ALTER ROLE alice PASSWORD 'supersecret'; CREATE ROLE bob
		// PASSWORD 'bobsecret'; DELETE FROM pg_authid.
		{"alice", want{access, "ALTER ROLE", "", true}},
		{"alice", want{access, "CREATE ROLE", "", true}},
		{"alice", want{data, "DELETE", "TABLE pg_authid", true}},
		// INSERT, COPY FROM STDIN, an INSERT in a DO block, one in a WITH.
		{"alice", want{data, "INSERT", "TABLE public.t", false}},
		{"alice", want{data, "INSERT", "TABLE public.t", false}},
		{"alice", want{data, "INSERT", "TABLE public.t", false}},
		{"alice", want{data, "INSERT", "TABLE public.t", false}},
		{"alice", want{data, "TRUNCATE TABLE", "", false}},
		{"postgres", want{config, "CREATE EXTENSION", "", false}},
		{"postgres", want{access, "GRANT", "SCHEMA public TO alice", false}},
		{"alice", want{config, "CREATE TABLE", `TABLE public."we,ird""x"`, false}},
		{"alice", want{data, "INSERT", `TABLE public."we,ird""x"`, false}},
		{"alice", want{config, "CREATE TABLE", "TABLE public.a1", false}},
		{"alice", want{config, "CREATE INDEX", "INDEX public.a1i", false}},
		{"alice", want{config, "ALTER TABLE", "TABLE public.a1", false}},
		{"alice", want{config, "DROP TABLE", "TABLE public.a1", false}},
		{"alice", want{config, "DROP TABLE", "INDEX public.a1i", false}},
		{"alice", want{access, "GRANT", `TABLE "we,ird""x" TO rw`, false}},
		// One string of five role statements, one with PASSWORD 'pw1':
		// pgaudit logs the whole string for each, so no role is named.
		{"postgres", want{access, "CREATE ROLE", "", false}},
		{"postgres", want{access, "CREATE ROLE", "", false}},
		{"postgres", want{access, "GRANT ROLE", "", false}},
		{"postgres", want{access, "ALTER ROLE", "", false}},
		{"postgres", want{access, "DROP ROLE", "", false}},
		{"postgres", want{access, "CREATE ROLE", "ROLE nobody", false}},
		{"nobody", want{other, "SELECT", "FUNCTION pg_current_logfile", true}},
		{"postgres", want{access, "CREATE ROLE", `ROLE "Ops Team"`, false}},
		{"postgres", want{access, "GRANT ROLE", `ROLE rw, "Ops Team" TO alice`, false}},
		{"postgres", want{access, "REVOKE ROLE", `ROLE "Ops Team" FROM alice`, false}},
		// ALTER USER alice WITH PASSWORD 'topsecret1'
		{"postgres", want{access, "ALTER ROLE", "ROLE alice", false}},
		{"postgres", want{access, "DROP ROLE", `ROLE "Ops Team", nobody2`, false}},
		{"postgres", want{access, "GRANT", "TABLE public.t TO alice, rw", false}},
		{"postgres", want{access, "REVOKE", "ALL TABLES IN SCHEMA public FROM rw", false}},
		// A function's arguments are not read: only pgaudit's object type.
		{"postgres", want{access, "GRANT", "FUNCTION", false}},
		{"alice", want{config, "DROP TABLE", "TABLE t", true}},
		{"alice", want{data, "UPDATE", "TABLE pg_class", true}},
	}
	f, err := os.Open("testdata/pgaudit-15.jsonlog")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var got []row
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l, err := parseLogLine(sc.Bytes())
		if err != nil {
			t.Fatalf("captured line %q: %v", sc.Text(), err)
		}
		if _, err := parseLogTime(l.Timestamp, time.UTC); err != nil {
			t.Fatal(err)
		}
		a, ok := toAction(l)
		if !ok {
			continue
		}
		for _, secret := range []string{"supersecret", "bobsecret", "pw1", "topsecret1", "alicepw", "PASSWORD"} {
			if strings.Contains(a.Action+a.Object, secret) {
				t.Errorf("action %+v of a line of %s holds %q", a, l.User, secret)
			}
		}
		got = append(got, row{l.User, want{a.Category, a.Action, a.Object, a.Denied}})
	}
	for i := range max(len(got), len(expected)) {
		switch {
		case i >= len(got):
			t.Errorf("line %d: missing, want %s %s", i, expected[i].user, expected[i].want)
		case i >= len(expected):
			t.Errorf("line %d: %s %s, want none", i, got[i].user, got[i].want)
		case got[i] != expected[i]:
			t.Errorf("line %d: %s %s, want %s %s", i, got[i].user, got[i].want, expected[i].user, expected[i].want)
		}
	}
}

func TestParseAudit(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		ok   bool
		want auditRecord
	}{
		{`AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.t,INSERT INTO t VALUES ('a, b');,<not logged>`, true,
			auditRecord{class: "WRITE", command: "INSERT", objectType: "TABLE", objectID: "public.t", statement: "INSERT INTO t VALUES ('a"}},
		{`AUDIT: OBJECT,3,2,READ,SELECT,TABLE,"public.""a,b""","SELECT 1, 2",<none>`, true,
			auditRecord{class: "READ", command: "SELECT", objectType: "TABLE", objectID: `public."a,b"`, statement: "SELECT 1, 2"}},
		{`AUDIT: SESSION,1,1,ROLE,ALTER ROLE,,,ALTER ROLE a PASSWORD <REDACTED>`, true,
			auditRecord{class: "ROLE", command: "ALTER ROLE", statement: "ALTER ROLE a PASSWORD <REDACTED>"}},
		{`AUDIT: SESSION,1,1,DDL,CREATE TABLE,TABLE,"public.t`, false, auditRecord{}},
		{`AUDIT: SESSION,1,1,DDL,CREATE TABLE,TABLE,"public"x,stmt`, false, auditRecord{}},
		{`AUDIT: SESSION,1,1`, false, auditRecord{}},
		{`permission denied for table t`, false, auditRecord{}},
		{`audit: SESSION,1,1,WRITE,INSERT,,,x,y`, false, auditRecord{}},
	} {
		got, ok := parseAudit(tc.msg)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseAudit(%q) = %+v, %t; want %+v, %t", tc.msg, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRoleObject(t *testing.T) {
	for _, tc := range []struct{ command, objectType, stmt, want string }{
		{"CREATE ROLE", "", "CREATE ROLE Mallory LOGIN PASSWORD 'x'", "ROLE mallory"},
		{"CREATE ROLE", "", `create user "Mal Lory" with password 'x';`, `ROLE "Mal Lory"`},
		{"ALTER ROLE", "", "ALTER ROLE alice RENAME TO bob", "ROLE alice"},
		{"ALTER ROLE", "", "ALTER GROUP g ADD USER alice", "ROLE g"},
		{"DROP ROLE", "", "DROP ROLE IF EXISTS a, b;", "ROLE a, b"},
		{"GRANT ROLE", "", "GRANT admins TO alice, bob WITH ADMIN OPTION", "ROLE admins TO alice, bob"},
		{"REVOKE ROLE", "", "REVOKE INHERIT OPTION FOR admins FROM alice", "ROLE admins FROM alice"},
		{"GRANT", "TABLE", "GRANT SELECT (a, b), UPDATE ON TABLE s.t, u TO PUBLIC", "TABLE s.t, u TO public"},
		{"GRANT", "SCHEMA", "GRANT USAGE ON SCHEMA app TO mallory", "SCHEMA app TO mallory"},
		{"REVOKE", "TABLE", "REVOKE ALL ON t FROM alice CASCADE", "TABLE t FROM alice"},
		// What it cannot read: a function's arguments, a literal where a
		// name goes, two statements in one string, pgaudit's placeholder.
		{"GRANT", "FUNCTION", "GRANT EXECUTE ON FUNCTION f(int) TO alice", "FUNCTION"},
		{"CREATE ROLE", "", "CREATE ROLE 'x'", ""},
		{"CREATE ROLE", "", "CREATE ROLE a; ALTER ROLE b PASSWORD 'secret'", ""},
		{"GRANT ROLE", "", "GRANT a TO b; ALTER ROLE b PASSWORD 'a;b'", ""},
		{"CREATE ROLE", "", "<previously logged>", ""},
		{"GRANT ROLE", "", "GRANT a", ""},
		{"GRANT", "TABLE", "GRANT SELECT ON t TO", "TABLE"},
		{"CREATE ROLE", "", `CREATE ROLE ""`, ""},
		{"ANALYZE", "", "ANALYZE t", ""},
	} {
		if got := roleObject(tc.command, tc.objectType, tc.stmt); got != tc.want {
			t.Errorf("roleObject(%q, %q, %q) = %q, want %q", tc.command, tc.objectType, tc.stmt, got, tc.want)
		}
	}
}

func TestDeniedAction(t *testing.T) {
	for _, tc := range []struct {
		ps, msg string
		want    want
	}{
		{"DELETE", "permission denied for table secrets", want{data, "DELETE", "TABLE secrets", true}},
		{"SELECT", "permission denied for foreign table ft", want{other, "SELECT", "FOREIGN TABLE ft", true}},
		{"ALTER TABLE", "must be owner of table t", want{config, "ALTER TABLE", "TABLE t", true}},
		{"GRANT ROLE", `permission denied to grant role "admins"`, want{access, "GRANT ROLE", "", true}},
		// ps shows a session's state when update_process_title is off.
		{"idle", "permission denied for table t", want{other, "statement", "TABLE t", true}},
		{"", "permission denied", want{other, "statement", "", true}},
	} {
		a := deniedAction(logLine{PS: tc.ps, Message: tc.msg})
		if got := (want{a.Category, a.Action, a.Object, a.Denied}); got != tc.want {
			t.Errorf("deniedAction(%q, %q) = %s, want %s", tc.ps, tc.msg, got, tc.want)
		}
	}
}

func TestParseLogTime(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	plusOne, err := time.LoadLocation("Etc/GMT-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ts   string
		loc  *time.Location
		want string
	}{
		{"2026-12-02 02:50:11.293 UTC", time.UTC, "2026-12-02T02:50:11.293Z"},
		{"2026-12-02 03:50:11.293 CET", berlin, "2026-12-02T02:50:11.293Z"},
		{"2026-07-02 04:50:11.293 CEST", berlin, "2026-07-02T02:50:11.293Z"},
		// The hour repeated when summer time ends: the abbreviation tells.
		{"2026-10-25 02:30:00.000 CEST", berlin, "2026-10-25T00:30:00Z"},
		{"2026-10-25 02:30:00.000 CET", berlin, "2026-10-25T01:30:00Z"},
		// A numeric abbreviation Go would read as UTC.
		{"2026-12-02 03:50:11.293 +01", plusOne, "2026-12-02T02:50:11.293Z"},
	} {
		got, err := parseLogTime(tc.ts, tc.loc)
		if err != nil || got.UTC().Format(time.RFC3339Nano) != tc.want {
			t.Errorf("parseLogTime(%q, %s) = %s, %v; want %s", tc.ts, tc.loc, got.UTC().Format(time.RFC3339Nano), err, tc.want)
		}
	}
	if _, err := parseLogTime("yesterday", time.UTC); err == nil {
		t.Error("parseLogTime(yesterday) succeeded")
	}
}

func TestParseCursor(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want position
		ok   bool
	}{
		{"", position{}, true},
		{"postgresql-2026-12-02_025005.json:1234", position{"postgresql-2026-12-02_025005.json", 1234}, true},
		{"a:b.json:0", position{"a:b.json", 0}, true},
		{"postgresql.json", position{}, false},
		{":12", position{}, false},
		{"x.json:-1", position{}, false},
		{"x.json:12abc", position{}, false},
		{"../../etc/passwd:0", position{}, false},
	} {
		got, err := parseCursor(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseCursor(%q) = %+v, %v; want %+v, ok %t", tc.in, got, err, tc.want, tc.ok)
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("position %+v prints as %q, want %q", got, got.String(), tc.in)
		}
	}
}

func TestPlanRead(t *testing.T) {
	at := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
	files := []logFile{
		{"p-0900.json", 500, at("2026-12-02T09:59:59Z")},
		{"p-1000.json", 800, at("2026-12-02T10:59:30Z")},
		{"p-1100.json", 100, at("2026-12-02T11:05:00Z")},
	}
	for _, tc := range []struct {
		name       string
		cur        position
		from       string
		segments   []position
		gap        string
		checkStart bool
	}{
		{"no cursor: from the end of the last file modified before the window", position{}, "2026-12-02T10:30:00Z",
			[]position{{"p-0900.json", 500}, {"p-1000.json", 0}, {"p-1100.json", 0}}, "", false},
		{"no cursor, nothing modified since: the end of the newest file", position{}, "2026-12-02T12:00:00Z",
			[]position{{"p-1100.json", 100}}, "", false},
		{"no cursor, every file in the window: check the oldest's start", position{}, "2026-12-02T09:00:00Z",
			[]position{{"p-0900.json", 0}, {"p-1000.json", 0}, {"p-1100.json", 0}}, "", true},
		{"no cursor, no window start: everything, unchecked", position{}, "0001-01-01T00:00:00Z",
			[]position{{"p-0900.json", 0}, {"p-1000.json", 0}, {"p-1100.json", 0}}, "", false},
		{"cursor: the rest of its file, then the newer ones", position{"p-1000.json", 700}, "2026-12-02T09:00:00Z",
			[]position{{"p-1000.json", 700}, {"p-1100.json", 0}}, "", false},
		{"cursor past the end: truncated", position{"p-1100.json", 300}, "2026-12-02T09:00:00Z",
			[]position{{"p-1100.json", 0}}, "log file p-1100.json is shorter (100 bytes) than where the last read stopped (byte 300)", false},
		{"cursor's file gone: the files named after it", position{"p-0930.json", 42}, "2026-12-02T09:00:00Z",
			[]position{{"p-1000.json", 0}, {"p-1100.json", 0}}, "log file p-0930.json was removed before it was read to its end (read up to byte 42)", false},
	} {
		p := planRead(files, tc.cur, at(tc.from))
		if len(p.segments) != len(tc.segments) || !strings.HasPrefix(p.gap, tc.gap) || (tc.gap == "") != (p.gap == "") || p.checkStart != tc.checkStart {
			t.Errorf("%s: plan %+v; want segments %v, gap %q, checkStart %t", tc.name, p, tc.segments, tc.gap, tc.checkStart)
			continue
		}
		for i := range p.segments {
			if p.segments[i] != tc.segments[i] {
				t.Errorf("%s: segment %d = %v, want %v", tc.name, i, p.segments[i], tc.segments[i])
			}
		}
	}
}

func TestLogSettingsProblems(t *testing.T) {
	all := func(v string) *string { return &v }
	ok := logSettings{pgauditLog: all("write, ddl, role"), destination: "stderr,jsonlog", collector: "on", currentLogfile: true, lsLogdir: true, readFile: true}
	if p := ok.problems(`"op"`); len(p) != 0 || ok.classGap() != "" {
		t.Fatalf("a right configuration: problems %q, gap %q", p, ok.classGap())
	}
	partial := ok
	partial.pgauditLog = all("write")
	if g := partial.classGap(); g != "pgaudit.log is 'write': statements of class ddl, role are not logged" {
		t.Errorf("pgaudit.log = write: gap %q", g)
	}
	everything := ok
	everything.pgauditLog = all("ALL, -misc")
	if g := everything.classGap(); g != "" {
		t.Errorf("pgaudit.log = all: gap %q", g)
	}
	none := ok
	none.pgauditLog = all("none")
	if p := none.problems(`"op"`); len(p) != 1 || !strings.Contains(p[0], "'none'") {
		t.Errorf("pgaudit.log = none: problems %q", p)
	}
}

func TestTruncateText(t *testing.T) {
	long := strings.Repeat("é", accessv1alpha1.MaxActivityText) // two bytes each
	got := truncateText(long)
	if len(got) > accessv1alpha1.MaxActivityText || !strings.HasPrefix(long, got) || len(got) < accessv1alpha1.MaxActivityText-1 {
		t.Fatalf("truncateText: %d bytes, want at most %d, on a rune boundary", len(got), accessv1alpha1.MaxActivityText)
	}
	if truncateText("short") != "short" {
		t.Fatal("truncateText changed a short text")
	}
}

// TestLineHead reads who and when from the start of a line too long to
// decode, cut inside its message, as the reader sees it.
func TestLineHead(t *testing.T) {
	line := `{"timestamp":"2026-12-02 02:50:11.369 UTC","user":"alice","dbname":"postgres","pid":26038,"remote_host":"127.0.0.1","message":"AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.t,INSERT INTO t VALUES ('aaaa`
	l, ok := lineHead([]byte(line))
	if !ok || l.User != "alice" || l.Timestamp != "2026-12-02 02:50:11.369 UTC" {
		t.Fatalf("lineHead = %+v, %t; want alice at 02:50:11.369", l, ok)
	}
	if l, ok := lineHead([]byte(`{"timestamp":"2026-12-02 02:50:11.369 UTC","pid":1,"message":"checkpoint`)); !ok || l.User != "" {
		t.Fatalf("lineHead of a line without user = %+v, %t", l, ok)
	}
	for _, bad := range []string{`not json`, `{"pid":1,"message":"x`, `["timestamp"]`} {
		if _, ok := lineHead([]byte(bad)); ok {
			t.Errorf("lineHead(%q) read a head", bad)
		}
	}
}
