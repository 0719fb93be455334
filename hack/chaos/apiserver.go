package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

const faultAPIServer = "kube-apiserver restart"

// apiserver restarts the run's kube-apiserver with the command line it was
// started with, its certificates and etcd untouched: envtest's own restart
// would make a new CA and new users, which the operator's and the workload's
// credentials would not survive. It finds its process by the secure port in
// /proc, among the children of this program only.
type apiserver struct {
	port    string
	restart *exec.Cmd // the process this program started again, if any
	done    chan struct{}
	log     *os.File
}

func newAPIServer(e *env) (*apiserver, error) {
	u, err := url.Parse(e.cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("the apiserver's URL: %w", err)
	}
	return &apiserver{port: u.Port()}, nil
}

// find returns the pid and the command line of the kube-apiserver serving
// the port that is a child of this program.
func (a *apiserver) find() (int, []string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, nil, fmt.Errorf("list /proc: %w", err)
	}
	self := strconv.Itoa(os.Getpid())
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		args := procArgs(pid)
		if len(args) == 0 || filepath.Base(args[0]) != "kube-apiserver" || !hasArg(args, "--secure-port="+a.port) {
			continue
		}
		if parent(pid) != self {
			continue // another program's apiserver on a reused port: never touched
		}
		return pid, args, nil
	}
	return 0, nil, fmt.Errorf("no kube-apiserver child of this program serves port %s", a.port)
}

func procArgs(pid int) []string {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || len(raw) == 0 {
		return nil
	}
	return strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
}

func hasArg(args []string, want string) bool {
	for _, a := range args {
		if a == want {
			return true
		}
	}
	return false
}

// parent is the parent pid of pid, from /proc/<pid>/stat.
func parent(pid int) string {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ""
	}
	// The command name, in parentheses, may hold spaces: the fields after it
	// are state, then the parent pid.
	rest := string(raw[bytes.LastIndexByte(raw, ')')+1:])
	fields := strings.Fields(rest)
	if len(fields) < 2 {
		return ""
	}
	return fields[1]
}

// restartFor stops the apiserver (SIGTERM), waits down, and starts it again
// with the same command line, then waits until it serves requests.
func (a *apiserver) restartFor(ctx context.Context, e *env, down time.Duration, logPath string) error {
	pid, args, err := a.find()
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop kube-apiserver %d: %w", pid, err)
	}
	for deadline := time.Now().Add(30 * time.Second); processExists(pid) && time.Now().Before(deadline); {
		sleep(ctx, 50*time.Millisecond)
	}
	sleep(ctx, down)
	if a.log, err = os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		return fmt.Errorf("open %s: %w", logPath, err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = a.log, a.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start kube-apiserver again: %w", err)
	}
	a.restart, a.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(a.done) }()
	return a.waitServing(ctx, e)
}

// processExists says whether pid is still running (a zombie counts as gone).
func processExists(pid int) bool {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	rest := string(raw[bytes.LastIndexByte(raw, ')')+1:])
	fields := strings.Fields(rest)
	return len(fields) > 0 && fields[0] != "Z"
}

func (a *apiserver) waitServing(ctx context.Context, e *env) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		// A short timeout per attempt: one call to a starting apiserver can
		// hang long after it serves.
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		var list accessv1alpha1.SaaSConnectionList
		err := e.admin.List(attempt, &list)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-a.done:
			return errors.New("kube-apiserver exited after its restart: see its log in the log directory")
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("kube-apiserver did not serve within a minute of its restart")
}

// stop ends the apiserver this program started again, before the cluster's
// own Stop removes its certificates.
func (a *apiserver) stop() error {
	if a.restart == nil {
		return nil
	}
	_ = a.restart.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		_ = a.restart.Process.Kill()
		<-a.done
	}
	return a.log.Close()
}

// apiBatch is how many requests expire while the kube-apiserver is down.
const apiBatch = 4

// apiserverRestart grants a batch on the cluster, stops the kube-apiserver
// 3 s before it expires, starts it again after down, and measures restore →
// the checker's first read of each request Revoked and verified. The
// replicas lose their watches and the leader its lease (it exits and is
// started again); the invariants hold them to the bound from the restore on.
func (f *faults) apiserverRestart(ctx context.Context, a *apiserver, down time.Duration, logPath string) {
	f.waitBothUp(ctx)
	var names []string
	for i := range apiBatch {
		names = append(names, f.w.launch(ctx, scenarioAPIServer, targetKubernetes, fmt.Sprintf("dev-%d", subjects-1-i), 15*time.Second))
	}
	expires, err := f.waitAllActive(ctx, names)
	if err != nil {
		f.fail(fmt.Errorf("apiserver restart: %w", err))
		return
	}
	sleep(ctx, time.Until(expires.Add(-outageLead)))
	step("apiserver restart: stop kube-apiserver for %s, %s before %d requests expire at %s", down, outageLead, len(names), expires.Format("15:04:05"))
	f.c.setAPIServerUp(false)
	f.count(faultAPIServer)
	err = a.restartFor(ctx, f.w.e, down, logPath)
	f.c.setAPIServerUp(true)
	if err != nil {
		f.fail(fmt.Errorf("apiserver restart: %w", err))
		return
	}
	upAt := time.Now()
	step("apiserver restart: kube-apiserver serves again")
	lags := f.collectRestoreLags(ctx, "kube-apiserver", names, upAt)
	f.mu.Lock()
	f.apiLags = append(f.apiLags, lags...)
	f.mu.Unlock()
}
