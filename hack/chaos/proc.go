package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// restartable is a control-plane process of this run (the kube-apiserver or
// etcd, started by envtest) that a fault stops and starts again with the
// command line it was started with: envtest's own restart would make a new CA
// and new users, and a new data directory for etcd. It finds the process in
// /proc by its executable and a flag that names this run's instance, among
// the children of this program only.
type restartable struct {
	// binary is the base name of its executable; flag is one argument of its
	// command line, exactly, that no other run's instance has (its port).
	binary string
	flag   string
	cmd    *exec.Cmd // the process this program started again, if any
	done   chan struct{}
	log    *os.File
}

// find returns the pid and the command line of the process.
func (p *restartable) find() (int, []string, error) {
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
		if len(args) == 0 || filepath.Base(args[0]) != p.binary || !hasArg(args, p.flag) {
			continue
		}
		if parent(pid) != self {
			continue // another program's process on a reused port: never touched
		}
		if !processExists(pid) {
			continue // an earlier incarnation not yet reaped
		}
		return pid, args, nil
	}
	return 0, nil, fmt.Errorf("no %s child of this program has %s", p.binary, p.flag)
}

// terminate sends SIGTERM and waits up to 30 s for the process to exit, then
// sends SIGKILL, as a kubelet does once a pod's grace period is over (a
// loaded kube-apiserver can take longer than that to drain); it returns the
// command line to start it again with.
func (p *restartable) terminate(ctx context.Context) ([]string, error) {
	pid, args, err := p.find()
	if err != nil {
		return nil, err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return nil, fmt.Errorf("stop %s %d: %w", p.binary, pid, err)
	}
	if exited(ctx, pid, 30*time.Second) {
		return args, nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && processExists(pid) {
		return nil, fmt.Errorf("kill %s %d after 30 s of SIGTERM: %w", p.binary, pid, err)
	}
	if !exited(ctx, pid, 10*time.Second) {
		return nil, fmt.Errorf("%s %d did not exit within 10 s of SIGKILL", p.binary, pid)
	}
	return args, nil
}

// exited waits up to within for the process to be gone, and reports whether
// it is.
func exited(ctx context.Context, pid int, within time.Duration) bool {
	for deadline := time.Now().Add(within); processExists(pid) && time.Now().Before(deadline); {
		sleep(ctx, 50*time.Millisecond)
	}
	return !processExists(pid)
}

// relaunch starts the process again with args, its output appended to
// logPath. It dies with this program, as envtest's own children are stopped
// with it.
func (p *restartable) relaunch(args []string, logPath string) error {
	if p.log != nil {
		_ = p.log.Close() // the previous incarnation has exited
	}
	var err error
	if p.log, err = os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		return fmt.Errorf("open %s: %w", logPath, err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s again: %w", p.binary, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(p.done) }()
	return nil
}

// shutdown ends the process this program started again, before the
// cluster's own Stop removes its certificates and data.
func (p *restartable) shutdown() error {
	if p.cmd == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.log.Close()
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

// flagValue is the value of --name=value in args, "" if it is not there.
func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// parent is the parent pid of pid, from /proc/<pid>/stat.
func parent(pid int) string {
	fields := statFields(pid)
	if len(fields) < 2 {
		return ""
	}
	return fields[1]
}

// processExists says whether pid is still running (a zombie counts as gone).
func processExists(pid int) bool {
	fields := statFields(pid)
	return len(fields) > 0 && fields[0] != "Z"
}

// statFields are the fields of /proc/<pid>/stat after the command name: the
// state, then the parent pid. The name, in parentheses, may hold spaces.
func statFields(pid int) []string {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil
	}
	return strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
}
