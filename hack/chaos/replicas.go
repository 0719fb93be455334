package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elevator-dev/elevator/internal/localcluster"
)

// replicaCount is how many operator replicas run, as the shipped Deployment has.
const replicaCount = 2

// replica is one slot of the set: its ports stay the same across restarts,
// so the forwarder and the metrics scrapes always know where it is.
type replica struct {
	slot        int
	webhookPort int
	auditPort   int
	metrics     string
	op          *localcluster.Operator // nil while down
	starts      int
}

// replicas are the operator processes, the forwarder in front of their
// webhooks, and the record of when no operator was running.
type replicas struct {
	e      *env
	logDir string
	mu     sync.Mutex
	slots  [replicaCount]*replica
	// leaderSlot and leaderStart name the replica (and its incarnation) last
	// seen leading, -1 for none; leaderSince is when it was first seen so.
	leaderSlot  int
	leaderStart int
	leaderSince time.Time
	// next picks the replica the forwarder tries first, round robin.
	next      int
	listeners []net.Listener
	// selfExits counts replicas that exited without being killed (a leader
	// that lost its lease exits), each started again a second later, as the
	// kubelet restarts a container; failedRestarts are those starts that
	// failed and were tried again.
	selfExits      int
	failedRestarts int
}

func newReplicas(e *env, logDir string) (*replicas, error) {
	if err := os.MkdirAll(logDir, 0o750); err != nil {
		return nil, fmt.Errorf("create %s: %w", logDir, err)
	}
	rs := &replicas{e: e, logDir: logDir, leaderSlot: -1}
	for i := range rs.slots {
		// A replica's log is appended to across its restarts within a run;
		// an earlier run's is not this run's.
		if err := os.Remove(rs.logPath(i)); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("remove the last run's log: %w", err)
		}
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		auditPort, err := freePort()
		if err != nil {
			return nil, err
		}
		metrics, err := localcluster.FreeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		rs.slots[i] = &replica{slot: i, webhookPort: port, auditPort: auditPort, metrics: metrics}
	}
	return rs, nil
}

func freePort() (int, error) {
	addr, err := localcluster.FreeLoopbackAddr()
	if err != nil {
		return 0, err
	}
	_, port, _ := net.SplitHostPort(addr)
	return strconv.Atoi(port)
}

// args are the flags of every replica: leader election with the short lease,
// the Lease in the operator's namespace, and room for the overlapping
// requests of the workload.
func (rs *replicas) args(r *replica) []string {
	return []string{
		// After the cluster's own flag: the last of a repeated flag wins.
		"--audit-receiver-bind-address=127.0.0.1:" + strconv.Itoa(r.auditPort),
		"--leader-elect=true",
		"--leader-elect-namespace=" + rs.e.operatorNamespace(),
		"--leader-elect-lease-duration=" + leaseDuration.String(),
		"--leader-elect-renew-deadline=" + renewDeadline.String(),
		"--leader-elect-retry-period=" + retryPeriod.String(),
		"--max-open-requests-per-subject=20",
	}
}

// start starts the replica of slot i and waits until it is ready (probe and
// webhook); it appends to the slot's log.
func (rs *replicas) start(ctx context.Context, i int) error {
	r := rs.slots[i]
	logPath := rs.logPath(i)
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", logPath, err)
	}
	if _, err := fmt.Fprintf(logFile, "==== chaos: start %d of replica %d at %s\n", r.starts+1, i, time.Now().Format(time.RFC3339Nano)); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", logPath, err), logFile.Close())
	}
	op, err := rs.e.cluster.StartOperator(localcluster.OperatorOptions{
		Binary: rs.e.binary, Output: logFile, MetricsAddr: r.metrics, Args: rs.args(r), WebhookPort: r.webhookPort,
	})
	if err != nil {
		return errors.Join(err, logFile.Close())
	}
	go func() { <-op.Done(); _ = logFile.Close() }()
	rs.mu.Lock()
	r.op, r.starts = op, r.starts+1
	rs.mu.Unlock()
	if err := op.WaitReady(ctx, 2*time.Minute); err != nil {
		rs.mu.Lock()
		killed := r.op != op
		rs.mu.Unlock()
		if killed {
			// A kill of the sweep hit it while it was starting: a fault, not
			// a failure; the sweep restarts it.
			return nil
		}
		rs.markDown(i, op)
		return fmt.Errorf("replica %d: %w", i, err)
	}
	if err := rs.stillRunning(op, i, logPath); err != nil {
		rs.markDown(i, op)
		return err
	}
	go rs.supervise(ctx, op, i)
	return nil
}

// markDown empties slot i if it still holds op, which failed to start.
func (rs *replicas) markDown(i int, op *localcluster.Operator) {
	_ = op.Kill()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.slots[i].op == op {
		rs.slots[i].op = nil
	}
}

// supervise starts slot i again after its process exits on its own, as the
// kubelet would: after 1 s, then backing off to 10 s while starts fail (the
// apiserver it needs may be down); one the harness killed is the harness's
// to start.
func (rs *replicas) supervise(ctx context.Context, op *localcluster.Operator, i int) {
	select {
	case <-ctx.Done():
		return
	case <-op.Done():
	}
	rs.mu.Lock()
	own := rs.slots[i].op == op
	if own {
		rs.slots[i].op = nil
		rs.selfExits++
	}
	rs.mu.Unlock()
	if !own || ctx.Err() != nil {
		return
	}
	step("replica %d exited on its own (%v); starting it again", i, op.Err())
	for wait := time.Second; ctx.Err() == nil; wait = min(2*wait, 10*time.Second) {
		sleep(ctx, wait)
		err := rs.start(ctx, i)
		if err == nil {
			return
		}
		rs.mu.Lock()
		rs.failedRestarts++
		rs.mu.Unlock()
		step("replica %d did not start again (%v); trying again", i, err)
	}
}

// stillRunning fails when the replica exits within a second of being ready
// (a flag or an address it cannot use: it served the probe before it failed),
// unless a kill of the sweep ended it.
func (rs *replicas) stillRunning(op *localcluster.Operator, i int, logPath string) error {
	select {
	case <-op.Done():
	case <-time.After(time.Second):
		return nil
	}
	rs.mu.Lock()
	killed := rs.slots[i].op != op
	rs.mu.Unlock()
	if killed {
		return nil
	}
	return fmt.Errorf("replica %d exited right after it was ready: see %s", i, logPath)
}

// kill ends the replica of slot i with SIGKILL; graceful asks it with SIGTERM.
func (rs *replicas) kill(i int, graceful bool) error {
	// The slot is marked down before the signal, so that a start still
	// waiting for this process to be ready sees it was killed, not failed.
	rs.mu.Lock()
	op := rs.slots[i].op
	rs.slots[i].op = nil
	rs.mu.Unlock()
	if op == nil {
		return nil
	}
	if graceful {
		return op.Stop(30 * time.Second)
	}
	return op.Kill()
}

// up lists the slots of the running replicas.
func (rs *replicas) up() []int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var out []int
	for _, r := range rs.slots {
		if r.op != nil {
			out = append(out, r.slot)
		}
	}
	return out
}

// observeLeader asks the replicas which one leads and remembers since when
// the same process does. It returns whether one leads, and since when.
func (rs *replicas) observeLeader(ctx context.Context) (bool, time.Time) {
	slot := rs.leader(ctx)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	start := -1
	if slot >= 0 {
		start = rs.slots[slot].starts
	}
	if slot != rs.leaderSlot || start != rs.leaderStart {
		rs.leaderSlot, rs.leaderStart, rs.leaderSince = slot, start, time.Now()
	}
	return slot >= 0, rs.leaderSince
}

func (rs *replicas) stopAll() error {
	var errs []error
	for i := range rs.slots {
		errs = append(errs, rs.kill(i, true))
	}
	for _, l := range rs.listeners {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

var leaderLine = regexp.MustCompile(`(?m)^leader_election_master_status\{[^}]*name="elevator\.access\.elevator\.dev"[^}]*\}\s+1\b`)

// leader is the slot of the replica that reports itself leader in its
// metrics, or -1.
func (rs *replicas) leader(ctx context.Context) int {
	for _, i := range rs.up() {
		data, err := rs.scrape(ctx, i)
		if err == nil && leaderLine.Match(data) {
			return i
		}
	}
	return -1
}

// scrape reads the metrics of the replica in slot i.
func (rs *replicas) scrape(ctx context.Context, i int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+rs.slots[i].metrics+"/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("metrics request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape replica %d: %w", i, err)
	}
	defer func() { _ = resp.Body.Close() }() // read only
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the metrics of replica %d: %w", i, err)
	}
	return data, nil
}

var overdueLine = regexp.MustCompile(`(?m)^elevator_revocations_overdue\s+(\S+)`)

// overdue is elevator_revocations_overdue on the replica of slot i.
func (rs *replicas) overdue(ctx context.Context, i int) (float64, error) {
	data, err := rs.scrape(ctx, i)
	if err != nil {
		return 0, err
	}
	m := overdueLine.FindSubmatch(data)
	if m == nil {
		return 0, fmt.Errorf("replica %d serves no elevator_revocations_overdue", i)
	}
	return strconv.ParseFloat(string(bytes.TrimSpace(m[1])), 64)
}

func (rs *replicas) logPath(i int) string {
	return filepath.Join(rs.logDir, fmt.Sprintf("replica-%d.log", i))
}

// refusedByRBAC returns the lines of the replicas' logs in which the
// apiserver refused the operator's ServiceAccount: a permission missing from
// config/rbac, which the replicas run with, or a kube-apiserver refusing
// while its RBAC caches fill after a restart (the run restarts it).
func (rs *replicas) refusedByRBAC() ([]string, error) {
	var out []string
	for i := range replicaCount {
		data, err := os.ReadFile(rs.logPath(i)) //nolint:gosec // the harness's own -log-dir and a fixed name
		if err != nil {
			return nil, fmt.Errorf("read the log of replica %d: %w", i, err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			// The message is quoted within the log line, its quotes escaped.
			if strings.Contains(strings.ReplaceAll(line, `\"`, `"`), `is forbidden: User "system:serviceaccount:`) {
				out = append(out, line)
			}
		}
	}
	return out, nil
}
