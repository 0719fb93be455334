package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider/postgres/pgtest"
)

// postgresServer is a PostgreSQL cluster with a NOLOGIN role for the role, a
// login role per subject and the operator's login (CREATEROLE, and
// pg_signal_backend to end a revoked subject's sessions; not a superuser).
type postgresServer struct {
	srv      *pgtest.Server
	password string
	seq      atomic.Int32
}

const (
	pgDatabase = "chaos"
	pgOperator = "elevator_op"
	pgRole     = "chaos_admins"
)

func startPostgres(ctx context.Context, _ string) (server, error) {
	srv, err := pgtest.Start(ctx)
	if err != nil {
		return nil, fmt.Errorf("start PostgreSQL (run `make test-deps` if it is missing): %w", err)
	}
	s := &postgresServer{srv: srv, password: randomHex(16)}
	stmts := []string{
		"CREATE DATABASE " + pgDatabase,
		fmt.Sprintf("CREATE ROLE %s LOGIN CREATEROLE PASSWORD '%s'", pgOperator, s.password),
		"GRANT pg_signal_backend TO " + pgOperator,
		"CREATE ROLE " + pgRole + " NOLOGIN",
	}
	for _, subject := range workloadSubjects() {
		stmts = append(stmts, "CREATE ROLE "+pgx.Identifier{subject}.Sanitize()+" LOGIN")
	}
	if err := srv.Exec(ctx, "postgres", stmts...); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("seed PostgreSQL: %w", err)
	}
	return s, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("random: " + err.Error())
	}
	return hex.EncodeToString(b)
}

func (s *postgresServer) kind() string { return targetPostgres }

func (s *postgresServer) providerSpec(secret string) accessv1alpha1.ProviderSpec {
	return accessv1alpha1.ProviderSpec{Postgres: &accessv1alpha1.PostgresProvider{
		Host: pgtest.Host, Port: int32(s.srv.Port), Database: pgDatabase,
		SSLMode: "verify-full", CABundle: string(s.srv.CACertPEM),
		CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: secret},
	}}
}

func (s *postgresServer) role() accessv1alpha1.Role {
	return accessv1alpha1.Role{Name: downstreamRole, Postgres: &accessv1alpha1.PostgresRole{Role: pgRole}}
}

func (s *postgresServer) credentials() map[string][]byte {
	return map[string][]byte{"username": []byte(pgOperator), "password": []byte(s.password)}
}

// members reads pg_auth_members as the superuser, on a new connection over
// the Unix socket.
func (s *postgresServer) members(ctx context.Context) (map[string]bool, error) {
	conn, err := s.srv.SuperConnect(ctx, "postgres")
	if err != nil {
		return nil, fmt.Errorf("connect as the superuser: %w", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	rows, err := conn.Query(ctx, `SELECT u.rolname FROM pg_auth_members m
		JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = $1`, pgRole)
	if err != nil {
		return nil, fmt.Errorf("read pg_auth_members: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read pg_auth_members: %w", err)
	}
	out := map[string]bool{}
	for _, n := range names {
		if slices.Contains(workloadSubjects(), n) {
			out[n] = true // not the side roles of the re-add
		}
	}
	return out, nil
}

func (s *postgresServer) down() error                  { return s.srv.Down() }
func (s *postgresServer) up(ctx context.Context) error { return s.srv.Up(ctx) }

// addOtherPath creates a side role that holds the role and grants it to the
// subject, in single-user mode while the server is down.
func (s *postgresServer) addOtherPath(ctx context.Context, subject string) (string, error) {
	side := fmt.Sprintf("chaos_side_%d", s.seq.Add(1))
	err := s.srv.ExecOffline(ctx, "postgres",
		"CREATE ROLE "+side+" NOLOGIN",
		"GRANT "+pgRole+" TO "+side,
		"GRANT "+side+" TO "+pgx.Identifier{subject}.Sanitize())
	if err != nil {
		return "", err
	}
	return side, nil
}

func (s *postgresServer) removeOtherPath(ctx context.Context, side string) error {
	return s.srv.Exec(ctx, "postgres", "DROP ROLE "+pgx.Identifier{side}.Sanitize())
}

func (s *postgresServer) close() error {
	s.srv.Stop()
	return nil
}
