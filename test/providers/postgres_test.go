package providers

import (
	"context"
	"fmt"
	"strings"
	"sync"
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
	// mu guards the passwords the activity specs give logins, by name.
	mu     sync.Mutex
	logins map[string]string
}

func startPostgres() backend {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// With pgaudit and the jsonlog collector, for the activity specs.
	srv, err := pgtest.StartWith(ctx, pgtest.Options{Audit: true})
	Expect(err).NotTo(HaveOccurred(), "start PostgreSQL (run `make test-deps` if it is missing)")
	DeferCleanup(srv.Stop)
	b := &postgresBackend{srv: srv, password: randomHex(16), wrong: "wrong-" + randomHex(12)}
	Expect(srv.Exec(ctx, "postgres",
		"CREATE DATABASE "+pgDatabase,
		fmt.Sprintf("CREATE ROLE %s LOGIN CREATEROLE PASSWORD '%s'", pgOperator, b.password),
		"GRANT pg_signal_backend TO "+pgOperator,
	)).To(Succeed())
	// The three grants the activity source needs (docs/providers/postgres.md),
	// in the connection's database.
	Expect(srv.Exec(ctx, pgDatabase,
		"GRANT EXECUTE ON FUNCTION pg_catalog.pg_current_logfile(text) TO "+pgOperator,
		"GRANT EXECUTE ON FUNCTION pg_catalog.pg_ls_logdir() TO "+pgOperator,
		"GRANT EXECUTE ON FUNCTION pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO "+pgOperator,
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
	return b.newTarget(n, fmt.Sprintf("alice.%d@example.com", n))
}

func (b *postgresBackend) NewTargetFor(subject string) target {
	GinkgoHelper()
	return b.newTarget(b.seq.Add(1), subject)
}

func (b *postgresBackend) newTarget(n int32, subject string) target {
	GinkgoHelper()
	role := fmt.Sprintf("payments_rw_%d", n)
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

// EnableActivity changes nothing: the suite's server runs pgaudit with the
// jsonlog collector, and the operator's login has the grants to read it, so
// every connection to it has an activity source.
func (b *postgresBackend) EnableActivity(context.Context, string, *accessv1alpha1.ProviderSpec) {}

// activityTables are the tables of one target's activity spec: acts, which
// the role may write, scratch, which the subject may write without it, made,
// which the subject creates while elevated, and reader, a role it grants to.
func activityTables(t target) (acts, scratch, made, reader string) {
	return t.GroupRef + "_acts", t.GroupRef + "_scratch", t.GroupRef + "_made", t.GroupRef + "_reader"
}

// ActBeforeGrant gives the subject and the bystander passwords, makes the
// tables, and has the subject write the one it may write without the role.
func (b *postgresBackend) ActBeforeGrant(t target) {
	GinkgoHelper()
	acts, scratch, _, reader := activityTables(t)
	b.superExec(
		"CREATE TABLE "+quoteIdent(acts)+" (v text)",
		"CREATE TABLE "+quoteIdent(scratch)+" (v text)",
		"CREATE ROLE "+quoteIdent(reader)+" NOLOGIN",
		"GRANT SELECT, INSERT ON "+quoteIdent(acts)+" TO "+quoteIdent(t.GroupRef),
		"GRANT CREATE ON SCHEMA public TO "+quoteIdent(t.GroupRef),
		"GRANT INSERT ON "+quoteIdent(scratch)+" TO "+quoteIdent(t.UserRef),
	)
	b.psql(t.UserRef, "INSERT INTO "+quoteIdent(scratch)+" VALUES ('before');")
}

// ActWhileElevated has the subject, through the role, write, create a table
// and grant on it.
func (b *postgresBackend) ActWhileElevated(t target) []wantActivity {
	GinkgoHelper()
	acts, _, made, reader := activityTables(t)
	b.psql(t.UserRef, strings.Join([]string{
		"SET ROLE " + quoteIdent(t.GroupRef) + ";",
		"INSERT INTO " + quoteIdent(acts) + " VALUES ('while elevated');",
		"CREATE TABLE " + quoteIdent(made) + " (v text);",
		"GRANT SELECT ON " + quoteIdent(made) + " TO " + quoteIdent(reader) + ";",
		"RESET ROLE;",
	}, "\n"))
	return []wantActivity{
		{Category: accessv1alpha1.ActivityData, Action: "INSERT", Object: "TABLE public." + acts},
		{Category: accessv1alpha1.ActivityConfig, Action: "CREATE TABLE", Object: "TABLE public." + made},
		{Category: accessv1alpha1.ActivityAccess, Action: "GRANT", Object: "TABLE " + made + " TO " + reader},
	}
}

// ActAsOther has the bystander, also a member of the role, write the table.
func (b *postgresBackend) ActAsOther(t target) {
	GinkgoHelper()
	acts, _, _, _ := activityTables(t)
	b.psql(t.Bystander, "INSERT INTO "+quoteIdent(acts)+" VALUES ('by the bystander');")
}

// ActAfterRevocation has the subject write its own table again.
func (b *postgresBackend) ActAfterRevocation(t target) {
	GinkgoHelper()
	_, scratch, _, _ := activityTables(t)
	b.psql(t.UserRef, "INSERT INTO "+quoteIdent(scratch)+" VALUES ('after');")
}

// psql runs script as login with the psql binary, giving the login a
// password first if it has none yet, and fails the spec on any error.
func (b *postgresBackend) psql(login, script string) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := b.srv.Psql(ctx, pgDatabase, login, b.loginPassword(login), script)
	Expect(err).NotTo(HaveOccurred())
	Expect(out).NotTo(ContainSubstring("ERROR"), "psql as %s", login)
}

func (b *postgresBackend) loginPassword(login string) string {
	GinkgoHelper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if pw, ok := b.logins[login]; ok {
		return pw
	}
	if b.logins == nil {
		b.logins = map[string]string{}
	}
	pw := randomHex(16)
	// Hex: safe in a literal.
	b.superExec("ALTER ROLE " + quoteIdent(login) + " PASSWORD '" + pw + "'")
	b.logins[login] = pw
	return pw
}
