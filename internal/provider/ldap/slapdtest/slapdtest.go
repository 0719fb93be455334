// Package slapdtest runs a real OpenLDAP slapd for tests: a generated
// slapd.conf in a temporary directory, an mdb database loaded with slapadd
// from a fixed fixture (see People), and slapd in the foreground on a free
// loopback port, so the test owns its process and stops it afterwards.
//
// The provider binds as ServiceDN, whose ACLs allow writing the member
// attribute of groups under GroupsDN and reading people, so the tests run
// with the same kind of narrow rights a production bind account has. RootDN
// is for setting up groups and for confirming results on a separate
// connection.
package slapdtest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/elevator-dev/elevator/internal/testenv"

	goldap "github.com/go-ldap/ldap/v3"
)

// missingHint is what a test failure says when slapd is not installed.
const missingHint = "OpenLDAP slapd is not installed; run `make test-deps` (installs the Debian packages slapd and ldap-utils)"

// Options says what kind of server to start.
type Options struct {
	// TLS gives the server a certificate from a CA made for it, enables
	// StartTLS on the ldap:// listener and adds an ldaps:// listener.
	TLS bool
}

// Server is one running slapd.
type Server struct {
	// URL is the ldap:// listener.
	URL string
	// LDAPSURL is the ldaps:// listener, when Options.TLS is set.
	LDAPSURL string
	// CAPEM is the CA that signed the server's certificate, when Options.TLS is set.
	CAPEM string
	// RootPassword is RootDN's password.
	RootPassword string
	// ServicePassword is ServiceDN's password.
	ServicePassword string

	dir     string
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped sync.Once
	log     *testenv.LockedBuffer
	// slapd, conf and listeners are how run started it, for Up.
	slapd, conf, listeners string
	port                   int
}

// Start starts a server for one test and stops it when the test ends. It fails
// the test, naming `make test-deps`, when slapd is not installed.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := New(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("start slapd: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop slapd: %v", err)
		}
	})
	return s
}

// New starts a server whose files live in dir. The caller must call Stop.
func New(dir string, opts Options) (*Server, error) {
	slapd, err := findBinary("slapd")
	if err != nil {
		return nil, err
	}
	slapadd, err := findBinary("slapadd")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, RootPassword: randomSecret(), ServicePassword: randomSecret()}
	conf, err := s.writeConfig(opts)
	if err != nil {
		return nil, err
	}
	if err := s.load(slapadd, conf); err != nil {
		return nil, err
	}
	// A free port can be taken between choosing and binding it; try again then.
	for attempt := 0; ; attempt++ {
		err = s.run(slapd, conf, opts)
		if err == nil || attempt == 2 {
			return s, err
		}
	}
}

// findBinary looks for an OpenLDAP program on PATH and in /usr/sbin, where
// Debian installs it.
func findBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found on PATH or in /usr/sbin: %s", name, missingHint)
}

// randomSecret returns a fresh password, so tests can look for it in output.
func randomSecret() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("slapdtest: random: %v", err))
	}
	return "pw-" + hex.EncodeToString(b)
}

// writeConfig writes slapd.conf, the TLS files if asked for, and the fixture LDIF.
func (s *Server) writeConfig(opts Options) (string, error) {
	for _, db := range []string{"db", "accesslog"} {
		if err := os.MkdirAll(filepath.Join(s.dir, db), 0o700); err != nil {
			return "", fmt.Errorf("create database directory: %w", err)
		}
	}
	var tlsConf string
	if opts.TLS {
		files, err := writeTLSFiles(s.dir)
		if err != nil {
			return "", err
		}
		s.CAPEM = string(files.caPEM)
		tlsConf = fmt.Sprintf("TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n",
			files.caFile, files.certFile, files.keyFile)
	}
	conf := filepath.Join(s.dir, "slapd.conf")
	if err := os.WriteFile(conf, []byte(s.configText(tlsConf)), 0o600); err != nil {
		return "", fmt.Errorf("write slapd.conf: %w", err)
	}
	return conf, nil
}

// configText is slapd.conf. The ACLs come first-match-wins, as in slapd.access(5).
//
// The accesslog database is declared first, as slapo-accesslog(5) requires of
// the database its logdb names. The overlay on the main database logs every
// write, failed ones too (logsuccess FALSE), to it; only the overlay writes
// there (its rootdn has no password), and only ServiceDN may read it.
//
// Members of a group under GroupsDN may change its member and description
// attributes, and everyone may change their own password: what a subject does
// with an elevation, and what its activity record must show.
func (s *Server) configText(tlsConf string) string {
	return fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload accesslog
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
%[2]s
database mdb
maxsize 16777216
suffix "%[10]s"
rootdn "cn=overlay,%[10]s"
directory %[1]s/accesslog
index reqStart,reqAuthzID eq

access to dn.subtree="%[10]s"
	by dn.exact="%[7]s" read
	by * none

database mdb
maxsize 16777216
suffix "%[3]s"
rootdn "%[4]s"
rootpw %[5]s
directory %[1]s/db

access to attrs=userPassword
	by self =w
	by anonymous auth
	by * none
access to dn.subtree="%[6]s" attrs=member
	by dn.exact="%[7]s" write
	by set="this/member & user" write
	by * none
access to dn.subtree="%[6]s" attrs=description
	by set="this/member & user" write
	by dn.exact="%[7]s" read
	by * none
access to dn.subtree="%[6]s"
	by dn.exact="%[7]s" read
	by set="this/member & user" read
	by * none
access to dn.subtree="%[8]s"
	by dn.exact="%[7]s" read
	by * none
access to dn.subtree="%[9]s"
	by dn.exact="%[7]s" read
	by * none
access to *
	by * none

overlay accesslog
logdb "%[10]s"
logops writes
logsuccess FALSE
logold (|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))
logpurge 07+00:00 01+00:00
`, s.dir, tlsConf, BaseDN, RootDN, s.RootPassword, GroupsDN, ServiceDN, PeopleDN, RestrictedDN, AccessLogDN)
}

// load writes the fixture into the database with slapadd, before slapd runs.
func (s *Server) load(slapadd, conf string) error {
	path := filepath.Join(s.dir, "fixture.ldif")
	if err := os.WriteFile(path, []byte(ldif(fixtureEntries(s.ServicePassword))), 0o600); err != nil {
		return fmt.Errorf("write fixture LDIF: %w", err)
	}
	out, err := exec.Command(slapadd, "-q", "-f", conf, "-b", BaseDN, "-l", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("slapadd: %w: %s", err, out)
	}
	return nil
}

// run starts slapd on free ports and waits until it accepts connections.
func (s *Server) run(slapd, conf string, opts Options) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", port)
	listeners := s.URL + "/"
	if opts.TLS {
		tlsPort, err := freePort()
		if err != nil {
			return err
		}
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", tlsPort)
		listeners += " " + s.LDAPSURL + "/"
	}
	s.log = &testenv.LockedBuffer{}
	s.slapd, s.conf, s.listeners, s.port = slapd, conf, listeners, port
	return s.launch()
}

// launch starts slapd with the command line run chose and waits until it
// accepts connections. -d keeps slapd in the foreground, so this process owns
// its PID; level 256 (stats) logs one line per operation, kept for failure
// messages.
func (s *Server) launch() error {
	s.cmd = exec.Command(s.slapd, "-d", "256", "-f", s.conf, "-h", s.listeners)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.slapd, err)
	}
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	return s.waitReady(s.port)
}

// Down stops slapd (SIGTERM, then SIGKILL after five seconds), keeping its
// database and its ports for Up: a server outage, not the end of the server.
func (s *Server) Down() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal slapd: %w", err)
	}
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	return nil
}

// Up starts slapd again after Down, on the same URLs, with the same data.
func (s *Server) Up() error {
	select {
	case <-s.exited:
	default:
		return errors.New("slapd is still running: call Down first")
	}
	return s.launch()
}

// ModifyOffline applies LDIF change records to the database with slapmodify
// while slapd is down, as a directory administrator with access to the
// server's files would.
func (s *Server) ModifyOffline(ldifChanges string) error {
	select {
	case <-s.exited:
	default:
		return errors.New("slapd is running: slapmodify needs it down")
	}
	slapmodify, err := findBinary("slapmodify")
	if err != nil {
		return err
	}
	path := filepath.Join(s.dir, "offline-change.ldif")
	if err := os.WriteFile(path, []byte(ldifChanges), 0o600); err != nil {
		return fmt.Errorf("write the offline change: %w", err)
	}
	out, err := exec.Command(slapmodify, "-q", "-f", s.conf, "-b", BaseDN, "-l", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("slapmodify: %w: %s", err, out)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	// The port must be free again before slapd binds it.
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("release port %d: %w", port, err)
	}
	return port, nil
}

// waitReady waits for the ldap:// port to accept a connection.
func (s *Server) waitReady(port int) error {
	deadline := time.Now().Add(15 * time.Second)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("slapd exited before listening on %s: %s", addr, s.LogTail(20))
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			return c.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = s.Stop()
	return fmt.Errorf("slapd did not listen on %s within 15s: %s", addr, s.LogTail(20))
}

// Stop ends slapd (SIGTERM, then SIGKILL after five seconds) and waits for it.
func (s *Server) Stop() error {
	var err error
	s.stopped.Do(func() {
		if s.cmd == nil || s.cmd.Process == nil {
			return
		}
		select {
		case <-s.exited:
			return
		default:
		}
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		if sigErr := s.cmd.Process.Signal(syscall.SIGTERM); sigErr != nil && !errors.Is(sigErr, os.ErrProcessDone) {
			err = fmt.Errorf("signal slapd: %w", sigErr)
		}
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
	return err
}

// Freeze stops slapd with SIGSTOP: the kernel still accepts connections on
// its ports, but nothing answers, as with a hung server. It returns once
// every thread of slapd is stopped: the signal is delivered asynchronously,
// and on a loaded machine a thread could still answer a request sent right
// after it (a hung-server test once got slapd's reply to StartTLS).
func (s *Server) Freeze() error {
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("SIGSTOP slapd: %w", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		stopped, err := allThreadsStopped(s.cmd.Process.Pid)
		if err != nil || stopped {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("slapd (pid %d) not stopped 5s after SIGSTOP", s.cmd.Process.Pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// allThreadsStopped reports whether every thread of the process is in the
// stopped state (T), from /proc/PID/task/*/stat.
func allThreadsStopped(pid int) (bool, error) {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil {
		return false, fmt.Errorf("list the threads of pid %d: %w", pid, err)
	}
	if len(stats) == 0 {
		return false, fmt.Errorf("pid %d has no threads: it exited", pid)
	}
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			return false, fmt.Errorf("read %s: %w", path, err)
		}
		// The state is the field after the command, which is in parentheses
		// and may hold any character, so the last ")" ends it.
		stat := string(data)
		end := strings.LastIndexByte(stat, ')')
		if end < 0 || end+2 >= len(stat) {
			return false, fmt.Errorf("%s: no state field in %q", path, stat)
		}
		if state := stat[end+2]; state != 'T' && state != 't' {
			return false, nil
		}
	}
	return true, nil
}

// Thaw resumes a frozen slapd.
func (s *Server) Thaw() error {
	return s.cmd.Process.Signal(syscall.SIGCONT)
}

// LogTail returns the last n lines slapd wrote.
func (s *Server) LogTail(n int) string {
	if s.log == nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s.log.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RootConn opens a new connection bound as RootDN. It is independent of any
// connection the code under test holds.
func (s *Server) RootConn() (*goldap.Conn, error) {
	c, err := goldap.DialURL(s.URL)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", s.URL, err)
	}
	c.SetTimeout(10 * time.Second)
	if err := c.Bind(RootDN, s.RootPassword); err != nil {
		_ = c.Close() // the bind error is the one worth reporting
		return nil, fmt.Errorf("bind as %s: %w", RootDN, err)
	}
	return c, nil
}
