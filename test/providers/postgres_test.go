package providers

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/postgres"
	"github.com/elevator-dev/elevator/internal/provider/postgres/pgtest"
)

const (
	pgDatabase = "appdb"
	// pgOperator is the operator's login: CREATEROLE (to grant and revoke
	// roles) and pg_signal_backend (to end a revoked subject's sessions), not
	// a superuser.
	pgOperator = "elevator_op"
)

// postgresBackend is one throwaway PostgreSQL cluster for the whole suite. The
// suite reads and seeds it as the superuser over the Unix socket, with its own
// pgx connection.
type postgresBackend struct {
	srv      *pgtest.Server
	password string
	wrong    string
	seq      atomic.Int32
}

func startPostgres() backend {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err := pgtest.Start(ctx)
	Expect(err).NotTo(HaveOccurred(), "start PostgreSQL (run `make test-deps` if it is missing)")
	DeferCleanup(srv.Stop)
	b := &postgresBackend{srv: srv, password: randomHex(16), wrong: "wrong-" + randomHex(12)}
	Expect(srv.Exec(ctx, "postgres",
		"CREATE DATABASE "+pgDatabase,
		fmt.Sprintf("CREATE ROLE %s LOGIN CREATEROLE PASSWORD '%s'", pgOperator, b.password),
		"GRANT pg_signal_backend TO "+pgOperator,
	)).To(Succeed())
	return b
}

func (b *postgresBackend) Name() string                        { return postgres.Kind }
func (b *postgresBackend) Registration() provider.Registration { return postgres.Registration() }

func (b *postgresBackend) ProviderSpec(secret string) accessv1alpha1.ProviderSpec {
	return accessv1alpha1.ProviderSpec{Postgres: &accessv1alpha1.PostgresProvider{
		Host:                 pgtest.Host,
		Port:                 int32(b.srv.Port),
		Database:             pgDatabase,
		SSLMode:              "verify-full",
		CABundle:             string(b.srv.CACertPEM),
		CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: secret},
	}}
}

func (b *postgresBackend) Credentials() map[string][]byte {
	return map[string][]byte{"username": []byte(pgOperator), "password": []byte(b.password)}
}

func (b *postgresBackend) WrongCredentials() (map[string][]byte, string) {
	return map[string][]byte{"username": []byte(pgOperator), "password": []byte(b.wrong)}, b.wrong
}

// NewTarget makes a NOLOGIN role, a login subject named like an e-mail
// address (so every statement must quote it), and a bystander member.
func (b *postgresBackend) NewTarget() target {
	GinkgoHelper()
	n := b.seq.Add(1)
	role := fmt.Sprintf("payments_rw_%d", n)
	subject := fmt.Sprintf("alice.%d@example.com", n)
	bystander := fmt.Sprintf("bob.%d@example.com", n)
	b.superExec(
		"CREATE ROLE "+quoteIdent(role)+" NOLOGIN",
		"CREATE ROLE "+quoteIdent(subject)+" LOGIN",
		"CREATE ROLE "+quoteIdent(bystander)+" LOGIN",
		"GRANT "+quoteIdent(role)+" TO "+quoteIdent(bystander),
	)
	return target{
		Subject:   subject,
		Role:      accessv1alpha1.Role{Name: "elevated", Postgres: &accessv1alpha1.PostgresRole{Role: role}},
		GroupRef:  role,
		UserRef:   subject,
		Bystander: bystander,
	}
}

// IsMember reads pg_auth_members as the superuser.
func (b *postgresBackend) IsMember(t target) bool {
	GinkgoHelper()
	Expect(b.directMember(t.Bystander, t.GroupRef)).To(BeTrue(), "%s, a member from before the test, is never removed", t.Bystander)
	return b.directMember(t.UserRef, t.GroupRef)
}

func (b *postgresBackend) directMember(member, role string) bool {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := b.srv.SuperConnect(ctx, pgDatabase)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = conn.Close(ctx) }()
	var n int
	Expect(conn.QueryRow(ctx, `SELECT count(*) FROM pg_auth_members m
		JOIN pg_roles s ON s.oid = m.member JOIN pg_roles r ON r.oid = m.roleid
		WHERE s.rolname = $1 AND r.rolname = $2`, member, role).Scan(&n)).To(Succeed())
	return n > 0
}

func (b *postgresBackend) AddMember(t target) {
	b.superExec("GRANT " + quoteIdent(t.GroupRef) + " TO " + quoteIdent(t.UserRef))
}

// Break takes CREATEROLE from the operator's login, so that the server
// refuses its REVOKE with insufficient_privilege (an error the provider marks
// permanent; a revocation must be retried anyway).
func (b *postgresBackend) Break()                    { b.superExec("ALTER ROLE " + pgOperator + " NOCREATEROLE") }
func (b *postgresBackend) Repair()                   { b.superExec("ALTER ROLE " + pgOperator + " CREATEROLE") }
func (b *postgresBackend) readableWhileBroken() bool { return true }

func (b *postgresBackend) VerificationMethod(target) string {
	return fmt.Sprintf("SELECT pg_auth_members, pg_has_role(..., 'MEMBER') on %s:%d", pgtest.Host, b.srv.Port)
}

func (b *postgresBackend) AbsentEvidence(t target) string {
	return fmt.Sprintf("%s is not a member of %s (direct: false", t.UserRef, t.GroupRef)
}

func (b *postgresBackend) Secrets() []string { return []string{b.password, b.wrong} }

func (b *postgresBackend) superExec(statements ...string) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	Expect(b.srv.Exec(ctx, pgDatabase, statements...)).To(Succeed())
}

func quoteIdent(name string) string { return pgx.Identifier{name}.Sanitize() }
