package pgtest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestServerLifecycle starts a cluster, proves TCP logins need the right
// password, and that Stop removes the directory and frees the port.
func TestServerLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(s.Stop)

	if err := s.Exec(ctx, "postgres", `CREATE ROLE probe LOGIN PASSWORD 'probe-pw'`); err != nil {
		t.Fatal(err)
	}
	conn, err := s.Connect(ctx, "postgres", "probe", "probe-pw")
	if err != nil {
		t.Fatalf("password login: %v", err)
	}
	var who string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != "probe" {
		t.Fatalf("current_user = %q, %v; want probe", who, err)
	}
	_ = conn.Close(ctx)

	_, err = s.Connect(ctx, "postgres", "probe", "wrong")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Fatalf("login with a wrong password: got %v, want SQLSTATE 28P01", err)
	}

	s.Stop()
	if _, err := os.Stat(s.dir); !os.IsNotExist(err) {
		t.Fatalf("data dir %s still there after Stop: %v", s.dir, err)
	}
	if _, err := s.Connect(ctx, "postgres", "probe", "probe-pw"); err == nil {
		t.Fatal("connected after Stop")
	}
}

// TestAuditServer starts a cluster with Options.Audit and proves that a write
// by a password login, through psql, is in the jsonlog as pgaudit's line
// naming the table (log_relation), and that Log still has the server's own
// messages, now written by the collector.
func TestAuditServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := StartWith(ctx, Options{Audit: true})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(s.Stop)
	if err := s.Exec(ctx, "postgres", `CREATE ROLE probe LOGIN PASSWORD 'probe-pw'`, `CREATE TABLE probed (v text)`, `GRANT INSERT ON probed TO probe`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Psql(ctx, "postgres", "probe", "probe-pw", "INSERT INTO probed VALUES ('x');\n"); err != nil {
		t.Fatal(err)
	}
	want := `"user":"probe","dbname":"postgres"`
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(s.LogDir(), "*.json"))
		var all []byte
		for _, f := range files {
			b, _ := os.ReadFile(f)
			all = append(all, b...)
		}
		text := string(all)
		if strings.Contains(text, want) && strings.Contains(text, `AUDIT: SESSION,1,1,WRITE,INSERT,TABLE,public.probed,`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pgaudit line of probe's INSERT in the jsonlog files %v:\n%s", files, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(s.Log(), "pgaudit extension initialized") {
		t.Fatalf("Log() lacks the server's start-up messages:\n%s", s.Log())
	}
}

// Down refuses connections, ExecOffline changes the stopped cluster, and Up
// serves the same port with the data from before and the offline change.
func TestDownExecOfflineUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(s.Stop)
	if err := s.Exec(ctx, "postgres", "CREATE ROLE before_outage LOGIN"); err != nil {
		t.Fatal(err)
	}
	if err := s.Down(); err != nil {
		t.Fatalf("down: %v", err)
	}
	if conn, err := s.SuperConnect(ctx, "postgres"); err == nil {
		_ = conn.Close(ctx)
		t.Fatal("connected while down")
	}
	if err := s.ExecOffline(ctx, "postgres", `CREATE ROLE "made offline"`, `GRANT "made offline" TO before_outage`); err != nil {
		t.Fatalf("exec offline: %v", err)
	}
	if err := s.ExecOffline(ctx, "postgres", "GRANT no_such_role TO before_outage"); err == nil {
		t.Fatal("a failing offline statement was not reported")
	}
	if err := s.Up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	conn, err := s.SuperConnect(ctx, "postgres")
	if err != nil {
		t.Fatalf("connect after Up: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	var member bool
	if err := conn.QueryRow(ctx, `SELECT pg_has_role('before_outage', 'made offline', 'MEMBER')`).Scan(&member); err != nil || !member {
		t.Fatalf("membership made offline = %v, %v; want true", member, err)
	}
}
