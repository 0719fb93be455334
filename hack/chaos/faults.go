package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// faults injects the faults and counts them.
type faults struct {
	rs       *replicas
	w        *workload
	c        *checker
	mu       sync.Mutex
	counts   map[string]int
	restarts sync.WaitGroup
	// failoverLags are expiry → verified revocation per request of the
	// failover batch; failoverDown is how long the killed leader was down.
	failoverLags []time.Duration
	outages      []outageResult
	// apiLags are kube-apiserver restore → verified revocation.
	apiLags  []time.Duration
	etcds    []etcdResult
	hangs    []hangResult
	backlogs []backlogResult
	errs     []error
}

const (
	faultKill     = "kill -9 random replica"
	faultFailover = "kill -9 leader at expiry"
	faultRollout  = "SIGTERM rollout (per replica)"
)

func newFaults(rs *replicas, w *workload, c *checker) *faults {
	return &faults{rs: rs, w: w, c: c, counts: map[string]int{}}
}

func (f *faults) count(kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts[kind]++
}

func (f *faults) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, err)
	step("fault error: %v", err)
}

// restartAfter starts slot i again after d, in the background.
func (f *faults) restartAfter(ctx context.Context, i int, d time.Duration) {
	f.restarts.Add(1)
	go func() {
		defer f.restarts.Done()
		sleep(ctx, d)
		if err := f.rs.start(ctx, i); err != nil && ctx.Err() == nil {
			f.fail(err)
		}
	}()
}

// waitBothUp waits until every replica runs (restarts are in the background).
func (f *faults) waitBothUp(ctx context.Context) {
	for len(f.rs.up()) < replicaCount && ctx.Err() == nil {
		sleep(ctx, 100*time.Millisecond)
	}
}

// sweep kills a random replica kills times over d, each at a random moment
// and only while both run (so one always serves the webhooks), and restarts
// it 1–4 s later.
func (f *faults) sweep(ctx context.Context, kills int, d time.Duration) {
	gap := d / time.Duration(kills)
	for k := range kills {
		if ctx.Err() != nil {
			return
		}
		sleep(ctx, f.w.between(gap/2, gap*3/2))
		f.waitBothUp(ctx)
		i := f.w.intn(replicaCount)
		leader := f.rs.leader(ctx)
		step("kill %d/%d: kill -9 replica %d (leader: %d)", k+1, kills, i, leader)
		if err := f.rs.kill(i, false); err != nil {
			f.fail(err)
		}
		f.count(faultKill)
		f.restartAfter(ctx, i, f.w.between(time.Second, 4*time.Second))
	}
	f.restarts.Wait()
}

// failoverBatch is how many requests expire together across the failover.
const failoverBatch = 6

// killBeforeExpiry is when, before the batch's expiresAt, the leader is
// killed: --expiry-lead (1 s, the operator's default) plus 500 ms.
const killBeforeExpiry = 1500 * time.Millisecond

// failover grants a batch of requests that expire together, kills the leader
// with SIGKILL just before they are due, and measures, per request, expiresAt
// → the checker's first read of it Revoked and verified.
func (f *faults) failover(ctx context.Context) {
	f.waitBothUp(ctx)
	var names []string
	for i := range failoverBatch {
		names = append(names, f.w.launch(ctx, scenarioBatch, targetKubernetes, fmt.Sprintf("dev-%d", i), 15*time.Second))
	}
	expires, err := f.waitAllActive(ctx, names)
	if err != nil {
		f.fail(err)
		return
	}
	// The leader starts a revocation --expiry-lead (1 s) before expiresAt;
	// killing it 500 ms before that leaves every revocation of the batch due
	// to a leader that is gone, so the standby must take over to do them.
	sleep(ctx, time.Until(expires.Add(-killBeforeExpiry)))
	leader := f.rs.leader(ctx)
	if leader < 0 {
		f.fail(fmt.Errorf("failover: no replica reports itself leader"))
		return
	}
	step("failover: kill -9 the leader (replica %d) %s before %d requests expire at %s", leader, killBeforeExpiry, failoverBatch, expires.Format("15:04:05"))
	if err := f.rs.kill(leader, false); err != nil {
		f.fail(err)
	}
	f.count(faultFailover)
	// Back after the standby took over, as a crashed pod restarts.
	f.restartAfter(ctx, leader, leaseDuration+2*time.Second)
	f.collectLags(ctx, names)
	f.restarts.Wait()
}

// waitAllActive waits until every named request is Active and returns the
// earliest expiresAt.
func (f *faults) waitAllActive(ctx context.Context, names []string) (time.Time, error) {
	first, _, err := f.expiryRange(ctx, names)
	return first, err
}

// errNotActive is activeUntil's error for a request not Active in time.
var errNotActive = errors.New("did not become Active")

// activeUntil waits up to within for the request to be Active and returns
// its expiresAt.
func (f *faults) activeUntil(ctx context.Context, name string, within time.Duration) (time.Time, error) {
	if !f.w.waitPhase(ctx, name, accessv1alpha1.PhaseActive, within) {
		return time.Time{}, fmt.Errorf("request %s: %w", name, errNotActive)
	}
	er := &accessv1alpha1.ElevationRequest{}
	if err := f.w.e.admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, er); err != nil {
		return time.Time{}, fmt.Errorf("read %s: %w", name, err)
	}
	return er.Status.ExpiresAt.Time, nil
}

// collectLags waits up to a minute for the batch to be verified revoked and
// records each request's lag.
func (f *faults) collectLags(ctx context.Context, names []string) {
	lags, ok := f.waitLags(ctx, names)
	if !ok {
		f.fail(fmt.Errorf("failover: the batch was not revoked and verified within a minute"))
		return
	}
	f.mu.Lock()
	f.failoverLags = append(f.failoverLags, lags...)
	f.mu.Unlock()
}

// waitLags waits up to a minute for the batch to be verified revoked and
// returns each request's expiry → verified; false if it was not.
func (f *faults) waitLags(ctx context.Context, names []string) ([]time.Duration, bool) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if lags, done := f.c.lags(names); done {
			return lags, true
		}
		sleep(ctx, checkInterval)
	}
	return nil, false
}

// rollout replaces each replica in turn, as a Deployment rollout does:
// SIGTERM the old one, start the new one, wait until it is ready.
func (f *faults) rollout(ctx context.Context) {
	for i := range replicaCount {
		f.waitBothUp(ctx)
		step("rollout: SIGTERM replica %d (leader: %d), then start its replacement", i, f.rs.leader(ctx))
		if err := f.rs.kill(i, true); err != nil {
			f.fail(err)
		}
		f.count(faultRollout)
		if err := f.rs.start(ctx, i); err != nil {
			f.fail(err)
		}
		sleep(ctx, 5*time.Second)
	}
}
