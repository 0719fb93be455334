package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestFlagValue(t *testing.T) {
	args := []string{"kube-apiserver", "--etcd-servers=http://127.0.0.1:2379", "--etcd-servers-overrides=x", "--secure-port=6443"}
	if got := flagValue(args, "etcd-servers"); got != "http://127.0.0.1:2379" {
		t.Errorf("etcd-servers = %q, want http://127.0.0.1:2379", got)
	}
	if got := flagValue(args, "etcd"); got != "" {
		t.Errorf("etcd = %q, want none (only a whole flag name matches)", got)
	}
}

// A shell that exits on SIGTERM, marked by an argument of its own ($0), stands
// in for a control-plane process: found among this program's children,
// stopped, started again with the same command line, and stopped for good.
func TestRestartableFindsTerminatesAndRelaunchesItsChild(t *testing.T) {
	marker := "chaos-restartable-" + t.Name()
	cmd := exec.Command("sh", "-c", `trap "exit 0" TERM; while :; do sleep 0.05; done`, marker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
	p := &restartable{binary: "sh", flag: marker}
	pid, _, err := p.find()
	if err != nil || pid != cmd.Process.Pid {
		t.Fatalf("find = %d, %v; want %d", pid, err, cmd.Process.Pid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args, err := p.terminate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if processExists(pid) {
		t.Fatalf("process %d still runs after terminate", pid)
	}
	if _, _, err := p.find(); err == nil {
		t.Fatal("find found a process after terminate")
	}
	if err := p.relaunch(args, filepath.Join(t.TempDir(), "log")); err != nil {
		t.Fatal(err)
	}
	again, gotArgs, err := p.find()
	if err != nil || again == pid || again != p.cmd.Process.Pid {
		t.Fatalf("find after relaunch = %d, %v; want the new process %d", again, err, p.cmd.Process.Pid)
	}
	if len(gotArgs) != len(args) || gotArgs[len(gotArgs)-1] != marker {
		t.Errorf("relaunched with %q, want %q", gotArgs, args)
	}
	if err := p.shutdown(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	default:
		t.Error("shutdown returned while the relaunched process runs")
	}
}
