package pgtest

import (
	"context"
	"errors"
	"os"
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
