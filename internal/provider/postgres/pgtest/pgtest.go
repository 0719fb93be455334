// Package pgtest runs a throwaway PostgreSQL cluster for tests: Debian's server
// binaries, a fresh data directory in a temp dir, a free loopback port, TLS with
// a CA made for the run, and password (SCRAM) authentication for TCP clients so
// that the code under test really logs in with a password. The superuser is
// reached over a unix socket in the temp dir, with trust authentication.
//
// initdb refuses to run as root, so when the test runs as root the server
// binaries run as the "postgres" OS user, in a directory owned by it.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Superuser is the bootstrap superuser of the cluster.
const Superuser = "postgres"

// Host is the loopback address the server listens on for TCP.
const Host = "127.0.0.1"

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// Server is one running cluster.
type Server struct {
	// Port is the TCP (and unix socket) port.
	Port uint16
	// CACertPEM is the CA that signed the server's certificate, for 127.0.0.1.
	CACertPEM []byte

	dir     string
	sockDir string
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
	// bin, cred and settings are how start ran the postmaster, for Up.
	bin      string
	cred     *syscall.Credential
	settings []string
}

// BinDir finds the directory of Debian's PostgreSQL server binaries
// (/usr/lib/postgresql/<major>/bin), newest major first.
func BinDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", errors.New("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: run `make test-deps` (hack/install-test-deps.sh) to install them")
	}
	sort.Slice(matches, func(i, j int) bool { return majorOf(matches[i]) > majorOf(matches[j]) })
	return filepath.Dir(matches[0]), nil
}

func majorOf(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

// Options change how Start runs the server.
type Options struct {
	// Audit loads pgaudit (pgaudit.log = 'write, ddl, role', one line per
	// relation) and writes the server log through the logging collector, as
	// stderr and jsonlog files in the log directory "log" of the data
	// directory, with PostgreSQL's default file names. It creates the pgaudit
	// extension in template1 and postgres, so that every database has its
	// event triggers, which name the objects of DDL statements.
	Audit bool
	// Settings are further name=value settings, applied last.
	Settings []string
}

// auditSettings are the server settings of Options.Audit.
var auditSettings = []string{
	"shared_preload_libraries=pgaudit",
	"logging_collector=on",
	"log_destination=stderr,jsonlog",
	"log_directory=" + auditLogDir,
	"pgaudit.log=write, ddl, role",
	"pgaudit.log_relation=on",
}

// auditLogDir is the log directory of Options.Audit, relative to the data directory.
const auditLogDir = "log"

// Start creates and starts a cluster. Call Stop when done, also on failure.
func Start(ctx context.Context) (*Server, error) { return StartWith(ctx, Options{}) }

// StartWith creates and starts a cluster with opts. Call Stop when done, also
// on failure.
func StartWith(ctx context.Context, opts Options) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "elevator-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("make temp dir: %w", err)
	}
	s := &Server{dir: dir, sockDir: filepath.Join(dir, "sock"), logPath: filepath.Join(dir, "postgres.log")}
	if err := s.prepare(ctx, bin, cred); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := s.start(ctx, bin, cred, opts.settings()); err != nil {
		s.Stop()
		return nil, err
	}
	if opts.Audit {
		if err := s.createAuditExtension(ctx); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

func (o Options) settings() []string {
	var out []string
	if o.Audit {
		out = append(out, auditSettings...)
	}
	return append(out, o.Settings...)
}

// createAuditExtension creates pgaudit in template1, which every later
// CREATE DATABASE copies, and in postgres.
func (s *Server) createAuditExtension(ctx context.Context) error {
	for _, db := range []string{"template1", "postgres"} {
		if err := s.Exec(ctx, db, "CREATE EXTENSION pgaudit"); err != nil {
			return fmt.Errorf("create the pgaudit extension in %s: %w", db, err)
		}
	}
	return nil
}

// serverCredential is the OS user the server runs as: "postgres" when the test
// runs as root, else nil (the current user).
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and initdb refuses root: need the OS user postgres (run `make test-deps`): %w", err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// prepare runs initdb, writes pg_hba.conf and the TLS files, and hands the
// directory to the server's OS user.
func (s *Server) prepare(ctx context.Context, bin string, cred *syscall.Credential) error {
	if err := os.Mkdir(s.sockDir, 0o700); err != nil {
		return fmt.Errorf("make socket dir: %w", err)
	}
	if err := s.writeTLS(); err != nil {
		return err
	}
	if err := chownTree(s.dir, cred); err != nil {
		return err
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", s.dataDir(), "-U", Superuser, "-E", "UTF8", "--locale=C",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions")
	s.asServerUser(initdb, cred)
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	hba := "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(filepath.Join(s.dataDir(), "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fmt.Errorf("write pg_hba.conf: %w", err)
	}
	return chownTree(s.dir, cred)
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

func (s *Server) asServerUser(cmd *exec.Cmd, cred *syscall.Credential) {
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=" + s.dir}
	// Pdeathsig stops the server even when the test binary dies before its cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
}

// chownTree hands dir and everything in it to the server's OS user. It walks
// and changes ownership through an os.Root, so no path can lead outside dir.
func chownTree(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("hand %s to the postgres OS user: %w", dir, err)
	}
	defer func() { _ = root.Close() }()
	err = fs.WalkDir(root.FS(), ".", func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return root.Lchown(path, int(cred.Uid), int(cred.Gid))
	})
	if err != nil {
		return fmt.Errorf("hand %s to the postgres OS user: %w", dir, err)
	}
	return nil
}

// start runs the postmaster on a free loopback port and waits until it accepts
// connections.
func (s *Server) start(ctx context.Context, bin string, cred *syscall.Credential, settings []string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.Port, s.bin, s.cred, s.settings = port, bin, cred, settings
	return s.launch(ctx)
}

// launch runs the postmaster on s.Port and waits until it accepts connections;
// its log is appended to the server log.
func (s *Server) launch(ctx context.Context) error {
	bin, cred, port := s.bin, s.cred, s.Port
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create server log: %w", err)
	}
	// The postmaster gets its own descriptor for the log; ours is only closed.
	defer func() { _ = logFile.Close() }()
	args := []string{
		"-D", s.dataDir(), "-p", strconv.Itoa(int(port)), "-k", s.sockDir,
		"-c", "listen_addresses=" + Host,
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		"-c", "max_connections=50", "-c", "shared_buffers=16MB",
		"-c", "ssl=on",
		"-c", "ssl_cert_file=" + filepath.Join(s.dir, "server.crt"),
		"-c", "ssl_key_file=" + filepath.Join(s.dir, "server.key"),
	}
	for _, setting := range s.settings {
		args = append(args, "-c", setting)
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	s.asServerUser(s.cmd, cred)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	return s.waitReady(ctx)
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(startTimeout)
	for {
		conn, err := s.SuperConnect(ctx, "postgres")
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited during start-up:\n%s", s.Log())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after %s: %w\n%s", startTimeout, err, s.Log())
		}
	}
}

func freePort() (uint16, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(Host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	// The port must be free again before the postmaster binds it.
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("release port %d: %w", port, err)
	}
	return port, nil
}

// Log returns the server's log so far: what it wrote before the logging
// collector (if any) took over, then the collector's stderr files.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	files, _ := filepath.Glob(filepath.Join(s.LogDir(), "*.log"))
	sort.Strings(files)
	for _, f := range files {
		more, _ := os.ReadFile(f)
		b = append(b, more...)
	}
	return string(b)
}

// LogDir is the logging collector's directory of Options.Audit.
func (s *Server) LogDir() string { return filepath.Join(s.dataDir(), auditLogDir) }

// Stop shuts the server down at once (SIGQUIT, what pg_ctl stop -m immediate
// sends) and removes its directory.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	_ = os.RemoveAll(s.dir)
}

// Down shuts the server down (SIGINT, PostgreSQL's fast shutdown), keeping
// its data directory and port for Up: a server outage, not the end of it.
func (s *Server) Down() error {
	if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal postgres: %w", err)
	}
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	return nil
}

// Up starts the server again after Down, on the same port, with the same data.
func (s *Server) Up(ctx context.Context) error {
	select {
	case <-s.exited:
	default:
		return errors.New("postgres is still running: call Down first")
	}
	return s.launch(ctx)
}

// ExecOffline runs statements in database with the server down, through
// PostgreSQL's single-user mode (postgres --single), as an administrator with
// access to the server's files would.
func (s *Server) ExecOffline(ctx context.Context, database string, statements ...string) error {
	select {
	case <-s.exited:
	default:
		return errors.New("postgres is running: single-user mode needs it down")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin, "postgres"), "--single", "-D", s.dataDir(), "-j", database)
	s.asServerUser(cmd, s.cred)
	script := strings.Join(statements, ";\n\n") + ";\n\n"
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("postgres --single: %w\n%s", err, out)
	}
	if strings.Contains(string(out), "ERROR:") {
		return fmt.Errorf("postgres --single: a statement failed:\n%s", out)
	}
	return nil
}

// SuperConnect connects to database as the superuser over the unix socket.
func (s *Server) SuperConnect(ctx context.Context, database string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("sslmode=disable")
	if err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Database = s.sockDir, s.Port, Superuser, database
	cfg.Password, cfg.Fallbacks = "", nil
	cfg.ConnectTimeout = 2 * time.Second
	return pgx.ConnectConfig(ctx, cfg)
}

// Connect logs in over TCP, without TLS, as user with password.
func (s *Server) Connect(ctx context.Context, database, user, password string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("sslmode=disable")
	if err != nil {
		return nil, fmt.Errorf("parse config: %w", err)
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = Host, s.Port, user, password, database
	cfg.Fallbacks = nil
	cfg.ConnectTimeout = 5 * time.Second
	return pgx.ConnectConfig(ctx, cfg)
}

// Exec runs statements as the superuser, in database, one after the other.
func (s *Server) Exec(ctx context.Context, database string, statements ...string) error {
	conn, err := s.SuperConnect(ctx, database)
	if err != nil {
		return err
	}
	for _, stmt := range statements {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			_ = conn.Close(ctx) // the statement's error is the one worth reporting
			return fmt.Errorf("%s: %w", strings.TrimSpace(stmt), err)
		}
	}
	if err := conn.Close(ctx); err != nil {
		return fmt.Errorf("close superuser connection: %w", err)
	}
	return nil
}

// Psql runs script with the psql binary, logged in over TCP as user with
// password, as a person at a terminal would, and returns what it printed.
// Every statement runs, also after one fails; err is only for psql itself
// failing (it cannot log in, say).
func (s *Server) Psql(ctx context.Context, database, user, password, script string) (string, error) {
	bin, err := BinDir()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "psql"), "-X", "-q",
		"-h", Host, "-p", strconv.Itoa(int(s.Port)), "-U", user, "-d", database, "-f", "-")
	// The password goes through the environment of psql alone, never argv.
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "PGPASSWORD=" + password, "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=5"}
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("psql as %q: %w\n%s", user, err, out)
	}
	return string(out), nil
}
