package scimtest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/elevator-dev/elevator/internal/testenv"
)

const (
	scimmyStartTimeout = 30 * time.Second
	scimmyStopTimeout  = 5 * time.Second
	listeningPrefix    = "listening on "
)

// ScimmyDir is hack/scimmy-server in the module.
func ScimmyDir() string { return filepath.Join(testenv.ModuleRoot(), "hack", "scimmy-server") }

// StartScimmy runs hack/scimmy-server with node on a free loopback port (the
// server binds port 0 and prints the one it got) and returns its base URL,
// which ends in /scim/v2. The process is stopped when the test ends. It fails
// the test, naming `make test-deps`, when node or the server's npm packages
// are missing.
func StartScimmy(t testing.TB, token string) string {
	t.Helper()
	return startScimmy(t, "SCIMMY_TOKEN="+token)
}

// ScimmyLog is the Okta-shaped System Log of hack/scimmy-server: every SCIM
// write by a known caller, allowed or refused, as LogEvents whose actor is
// the caller, served at {org}/api/v1/logs.
type ScimmyLog struct {
	// Token is the API token GET /api/v1/logs accepts, as "SSWS <token>".
	Token string
	// Callers maps further SCIM bearer tokens to the login of the user who
	// calls with each, so that a test's subject can call the SCIM API as
	// itself. The token StartScimmyWithLog is given acts as OperatorLogin.
	Callers map[string]string
	// PageMax caps the events in one page of the log below the limit a client
	// asks for, so that clients must follow next links; 0 for no cap.
	PageMax int
}

// OperatorLogin is the login the main token's caller acts as in the log.
const OperatorLogin = "elevator-test-client"

// StartScimmyWithLog is StartScimmy with the server's System Log served. It
// returns the SCIM base URL and the org URL the log is under (the base URL
// without /scim/v2).
func StartScimmyWithLog(t testing.TB, token string, log ScimmyLog) (base, org string) {
	t.Helper()
	callers, err := json.Marshal(log.Callers)
	if err != nil {
		t.Fatalf("scimtest: encode callers: %v", err)
	}
	base = startScimmy(t, "SCIMMY_TOKEN="+token, "SCIMMY_TOKEN_LOGIN="+OperatorLogin,
		"SCIMMY_CALLERS="+string(callers), "SCIMMY_LOG_TOKEN="+log.Token,
		"SCIMMY_LOG_PAGE_MAX="+strconv.Itoa(log.PageMax))
	return base, strings.TrimSuffix(base, "/scim/v2")
}

func startScimmy(t testing.TB, env ...string) string {
	t.Helper()
	srv, err := RunScimmy(t.TempDir(), env...)
	if err != nil {
		t.Fatalf("scimtest: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Logf("scimtest: %v", err)
		}
	})
	return srv.BaseURL
}

// Scimmy is a running hack/scimmy-server, for programs that are not tests
// (the fault suite); tests use StartScimmy.
type Scimmy struct {
	// BaseURL is the server's SCIM base URL, ending in /scim/v2.
	BaseURL string
	cmd     *exec.Cmd
	done    chan error
	stderr  *testenv.LockedBuffer
}

// RunScimmy starts hack/scimmy-server with node on a free loopback port, in
// dir, with env added to the environment (SCIMMY_TOKEN and the others of
// server.js). The caller must call Stop. Its state lives in memory: a server
// stopped and started again has no users and no groups.
func RunScimmy(dir string, env ...string) (*Scimmy, error) {
	scimmyDir := ScimmyDir()
	if _, err := os.Stat(filepath.Join(scimmyDir, "node_modules", "scimmy-routers")); err != nil {
		return nil, fmt.Errorf("the scimmy SCIM server's npm packages are missing in %s: run `make test-deps` (%w)", scimmyDir, err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node is not installed: run `make test-deps` (%w)", err)
	}
	cmd := exec.Command(node, filepath.Join(scimmyDir, "server.js"), "0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	killWithParent(cmd)
	s := &Scimmy{cmd: cmd, done: make(chan error, 1), stderr: &testenv.LockedBuffer{}}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("scimmy stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd, err)
	}
	go func() { s.done <- cmd.Wait() }()
	base, err := awaitListening(stdout, s.done)
	if err == nil {
		err = awaitPort(base)
	}
	if err != nil {
		// Not Stop: awaitListening may have taken the exit from done.
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("the scimmy SCIM server did not start: %w\nits stderr:\n%s", err, s.stderr.String())
	}
	s.BaseURL = base
	return s, nil
}

// Stop asks the server to exit and kills it if it does not.
func (s *Scimmy) Stop() error {
	if s.cmd.Process == nil {
		return nil
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal scimmy: %w", err)
	}
	select {
	case err := <-s.done:
		if err != nil && !killedBy(err, syscall.SIGTERM) {
			return fmt.Errorf("scimmy exited with %w", err)
		}
	case <-time.After(scimmyStopTimeout):
		_ = s.cmd.Process.Kill()
		exit := <-s.done
		return fmt.Errorf("scimmy ignored SIGTERM for %s and was killed: %w", scimmyStopTimeout, exit)
	}
	return nil
}

// awaitListening reads the server's stdout until it prints the line with its
// base URL, then keeps draining stdout so the process never blocks on it.
func awaitListening(stdout io.Reader, done <-chan error) (string, error) {
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			if line := sc.Text(); !sent && strings.HasPrefix(line, listeningPrefix) {
				lines <- strings.TrimPrefix(line, listeningPrefix)
				sent = true
			}
		}
	}()
	select {
	case base := <-lines:
		return base, nil
	case err := <-done:
		return "", fmt.Errorf("it exited before listening: %w", err)
	case <-time.After(scimmyStartTimeout):
		return "", fmt.Errorf("no %q line within %s", listeningPrefix, scimmyStartTimeout)
	}
}

// awaitPort checks the printed address accepts connections and is loopback.
func awaitPort(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("printed an unparsable URL: %w", err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listens on %s, not a loopback address", u.Host)
	}
	deadline := time.Now().Add(scimmyStartTimeout)
	for {
		conn, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port never opened: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killedBy reports whether err is the exit of a process ended by sig.
func killedBy(err error, sig syscall.Signal) bool {
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return false
	}
	status, ok := exit.Sys().(syscall.WaitStatus)
	return ok && status.Signaled() && status.Signal() == sig
}
