package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// terminateWait is how long pg_terminate_backend waits for each session to end.
const terminateWait = 5 * time.Second

// Statements that end the subject's ($1) sessions, other than our own.
// pg_terminate_backend waits for the session to be gone (up to $2 ms) from
// PostgreSQL 14; older servers only signal it.
const (
	terminateWaitingSQL = `SELECT pid, pg_terminate_backend(pid, $2) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`
	terminateSignalSQL  = `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`
	stillAliveSQL       = `SELECT pid FROM pg_stat_activity WHERE usename = $1 AND pid = ANY($2)`
)

// terminateSessions ends every session logged in as subject. A session that
// ran SET ROLE keeps the role until it ends, so a revoke alone does not take
// the privileges away from it. The operator's user needs pg_signal_backend
// (or superuser) for this.
func terminateSessions(ctx context.Context, conn *pgx.Conn, subject string) error {
	query, args := terminateSignalSQL, []any{subject}
	if serverMajor(conn) >= 14 {
		query, args = terminateWaitingSQL, []any{subject, terminateWait.Milliseconds()}
	}
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	var pending []int32
	for rows.Next() {
		var (
			pid   int32
			ended bool
		)
		if err := rows.Scan(&pid, &ended); err != nil {
			rows.Close()
			return err
		}
		if !ended {
			pending = append(pending, pid)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	return checkEnded(ctx, conn, subject, pending)
}

// checkEnded fails when a session pg_terminate_backend did not report ended is
// still there. It may have ended on its own meanwhile, which is fine.
func checkEnded(ctx context.Context, conn *pgx.Conn, subject string, pending []int32) error {
	if len(pending) == 0 {
		return nil
	}
	rows, err := conn.Query(ctx, stillAliveSQL, subject, pending)
	if err != nil {
		return err
	}
	alive, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return err
	}
	if len(alive) > 0 {
		return fmt.Errorf("sessions with pids %v did not end within %s", alive, terminateWait)
	}
	return nil
}

// serverMajor is the server's major version, from the server_version it
// reported at login (e.g. "15.14 (Debian 15.14-0+deb12u1)"), or 0.
func serverMajor(conn *pgx.Conn) int {
	v := conn.PgConn().ParameterStatus("server_version")
	if i := strings.IndexAny(v, ". "); i >= 0 {
		v = v[:i]
	}
	n, _ := strconv.Atoi(v)
	return n
}
