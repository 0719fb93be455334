package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/testenv"
)

// createInterval is the pace of the workload: a lifecycle (two for an
// overlap) every 700 ms.
const createInterval = 700 * time.Millisecond

// apiserverDown is how long the kube-apiserver stays stopped: longer than
// the renew deadline, so the leader loses its lease.
const apiserverDown = 10 * time.Second

// drainTimeout bounds the wait, after the last fault, for every request to end.
const drainTimeout = 90 * time.Second

func run(ctx context.Context, cfg config, rng *rand.Rand) (res *result, err error) {
	began := time.Now()
	e, stop, err := start(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, stop()) }()
	api, err := newAPIServer(e)
	if err != nil {
		return nil, err
	}
	var et *etcd
	if cfg.runs(phaseEtcd) {
		if et, err = newEtcd(api); err != nil {
			return nil, err
		}
		// After the replicas, the servers and the apiserver stop, before
		// the cluster does (it removes etcd's data directory).
		defer func() { err = errors.Join(err, et.shutdownAfter(context.WithoutCancel(ctx), api)) }()
	}
	// After the replicas and the servers stop, before etcd.
	defer func() { err = errors.Join(err, api.shutdown()) }()
	step("starting slapd, PostgreSQL and the SCIM server")
	servers, err := startServers(ctx, e.dir)
	defer func() { err = errors.Join(err, closeServers(servers)) }()
	if err != nil {
		return nil, err
	}
	rs, err := newReplicas(e, filepath.Join(testenv.ModuleRoot(), cfg.logDir))
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, rs.stopAll()) }()
	if err := startReplicas(ctx, rs); err != nil {
		return nil, err
	}
	if err := e.installFixture(ctx); err != nil {
		return nil, err
	}
	if err := e.installDownstream(ctx, servers); err != nil {
		return nil, err
	}
	w := newWorkload(e, rng, servers)
	c := newChecker(e, w, rs, servers)
	f := newFaults(rs, w, c)
	checkCtx, stopChecking := context.WithCancel(ctx)
	defer stopChecking()
	if err := c.watchRequests(checkCtx); err != nil {
		return nil, err
	}
	go c.run(checkCtx)

	creating, stopCreating := context.WithCancel(ctx)
	defer stopCreating()
	go w.run(ctx, creating, createInterval)
	driven := time.Now()
	injectFaults(ctx, cfg, f, faultTargets{servers: servers, api: api, etcd: et, logDir: rs.logDir})
	stopCreating()
	step("faults done; waiting for every lifecycle to end")
	w.wg.Wait()
	drained := c.drain(ctx)
	stopChecking()
	res = &result{cfg: cfg, total: time.Since(began), driven: time.Since(driven), f: f, w: w, c: c, rs: rs}
	if err := c.final(ctx, drained); err != nil {
		return res, err
	}
	return res, errors.Join(f.errs...)
}

// faultTargets are what the faults stop: the servers and the control plane.
type faultTargets struct {
	servers map[string]*downstream
	api     *apiserver
	etcd    *etcd
	logDir  string
}

// injectFaults runs the scenarios of the form (or those -only picked), in
// order, while the workload runs.
func injectFaults(ctx context.Context, cfg config, f *faults, t faultTargets) {
	if cfg.runs(phaseSweep) {
		step("workload running; sweep of %d kills over %s", cfg.kills, cfg.duration)
		f.sweep(ctx, cfg.kills, cfg.duration)
	}
	if cfg.runs(phaseFailover) {
		failovers := 1
		if !cfg.short {
			failovers = 3
		}
		for k := range failovers {
			step("failover %d/%d", k+1, failovers)
			f.failover(ctx)
		}
	}
	if cfg.runs(phaseOutage) {
		for _, o := range outagePlan(cfg, f.w) {
			f.outage(ctx, t.servers[o.kind], o.hold)
		}
	}
	if cfg.runs(phaseHang) {
		f.hang(ctx, t.servers[targetLDAP], hangHold)
	}
	if cfg.runs(phaseAPIServer) {
		f.apiserverRestart(ctx, t.api, apiserverDown, filepath.Join(t.logDir, "kube-apiserver.log"))
	}
	if cfg.runs(phaseEtcd) {
		f.etcdRestart(ctx, t.etcd, t.api, etcdDown, filepath.Join(t.logDir, "etcd.log"))
	}
	if cfg.runs(phaseBacklog) {
		step("backlog: %d requests on the cluster and %d on each server expire while no replica runs", backlogBatch, outageBatch)
		f.backlog(ctx)
	}
	if cfg.runs(phaseRollout) {
		f.rollout(ctx)
	}
}

// startReplicas starts the webhook forwarder and both replicas.
func startReplicas(ctx context.Context, rs *replicas) error {
	if err := rs.serveWebhooks(); err != nil {
		return err
	}
	for i := range replicaCount {
		step("starting replica %d", i)
		if err := rs.start(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// drain waits until every request is terminal or gone and no binding is
// left, and says whether that happened within drainTimeout.
func (c *checker) drain(ctx context.Context) bool {
	deadline := time.Now().Add(drainTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		reqs, err := c.listRequests(ctx)
		bindings, berr := c.listBindings(ctx)
		if err == nil && berr == nil && len(bindings) == 0 && allTerminal(reqs) && c.noMembers(ctx) {
			return true
		}
		sleep(ctx, time.Second)
	}
	return false
}

func allTerminal(reqs map[string]*accessv1alpha1.ElevationRequest) bool {
	for _, er := range reqs {
		if !er.Status.Phase.IsTerminal() {
			return false
		}
	}
	return true
}

// final checks invariants 3 and 4 on the end state.
func (c *checker) final(ctx context.Context, drained bool) error {
	reqs, err := c.listRequests(ctx)
	if err != nil {
		return err
	}
	// The last read counts too: a request may have ended after the last pass.
	c.observe(reqs, time.Now())
	var list rbacv1.RoleBindingList
	if err := c.e.admin.List(ctx, &list, client.HasLabels{accessv1alpha1.LabelRequestName}); err != nil {
		return fmt.Errorf("list RoleBindings: %w", err)
	}
	for _, rb := range list.Items {
		c.violate("final-leak/"+rb.Namespace+"/"+rb.Name, "invariant 3: RoleBinding %s/%s (request %s) is left at the end", rb.Namespace, rb.Name, rb.Labels[accessv1alpha1.LabelRequestName])
	}
	c.checkMembersLeft(ctx)
	if !drained {
		c.violate("drain", "invariant 3: not every request ended within %s of the last fault", drainTimeout)
	}
	for name, er := range reqs {
		if !er.Status.Phase.IsTerminal() {
			c.violate("final-open/"+name, "invariant 3: request %s is %s past its window", name, er.Status.Phase)
		}
	}
	c.checkApprovals(reqs, c.w.snapshot())
	return c.checkOverdueMetric(ctx)
}

// checkApprovals: an admitted approval is in status exactly once, and one
// never made is not (invariant 4).
func (c *checker) checkApprovals(reqs map[string]*accessv1alpha1.ElevationRequest, tracked map[string]tracked) {
	c.mu.Lock()
	maxSeen := map[string]int{}
	for name, s := range c.requests {
		maxSeen[name] = s.approvals
	}
	c.mu.Unlock()
	for name, t := range tracked {
		want := 0
		if t.approved {
			want = 1
		}
		if er, ok := reqs[name]; ok {
			if got := len(er.Status.Approvals); got != want {
				c.violate("approvals/"+name, "invariant 4: request %s has %d approvals in status, %d admitted", name, got, want)
			}
			if t.approved && er.Status.Phase == accessv1alpha1.PhaseExpired && er.Status.GrantedAt == nil {
				c.expiredApproved(er)
			}
		}
		if maxSeen[name] > 1 {
			c.violate("approvals-double/"+name, "invariant 4: request %s showed %d approvals, 1 admitted", name, maxSeen[name])
		}
	}
}

// checkOverdueMetric waits for a leader and reads elevator_revocations_overdue
// from it: 0 once every revocation is verified.
func (c *checker) checkOverdueMetric(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if leader := c.rs.leader(ctx); leader >= 0 {
			v, err := c.rs.overdue(ctx, leader)
			if err != nil {
				return err
			}
			if v != 0 {
				c.violate("overdue-metric", "invariant 3: elevator_revocations_overdue is %g on the leader (replica %d) at the end", v, leader)
			}
			return nil
		}
		sleep(ctx, 500*time.Millisecond)
	}
	return fmt.Errorf("no replica reports itself leader at the end")
}

// expiredApproved judges a request that expired unapproved although the
// webhook admitted an approval: a lost approval if the approval is older than
// the pending timeout (by the stored times, which the controller goes by);
// otherwise the approval came too late, which the webhook still admits while
// the request is not yet marked Expired.
func (c *checker) expiredApproved(er *accessv1alpha1.ElevationRequest) {
	deadline := er.CreationTimestamp.Add(pendingTimeout)
	for _, a := range er.Status.Approvals {
		if a.At.Time.Before(deadline) {
			c.violate("approval-lost/"+er.Name, "invariant 4: request %s was approved at %s, before its pending timeout (%s), but expired unapproved",
				er.Name, a.At.Format(time.RFC3339), deadline.Format(time.RFC3339))
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lateApprovals++
}

// plannedOutage is one server to stop, for how long.
type plannedOutage struct {
	kind string
	hold time.Duration
}

// outagePlan is one 30 s outage of a server picked by the seed in the short
// form, and each server in turn for 30–60 s in the full form.
func outagePlan(cfg config, w *workload) []plannedOutage {
	kinds := []string{targetLDAP, targetPostgres, targetSCIM}
	if cfg.short {
		return []plannedOutage{{kind: kinds[cfg.seed%uint64(len(kinds))], hold: 30 * time.Second}}
	}
	out := make([]plannedOutage, 0, len(kinds))
	for _, kind := range kinds {
		out = append(out, plannedOutage{kind: kind, hold: w.between(30*time.Second, 60*time.Second)})
	}
	return out
}

// noMembers says whether every server could be read and showed none of the
// workload's subjects in its role.
func (c *checker) noMembers(ctx context.Context) bool {
	for _, d := range c.servers {
		m, err := d.members(ctx)
		if err != nil || len(m) > 0 {
			return false
		}
	}
	return true
}

// checkMembersLeft flags every membership left in a server at the end
// (invariant 3).
func (c *checker) checkMembersLeft(ctx context.Context) {
	for kind, d := range c.servers {
		m, err := d.members(ctx)
		if err != nil {
			c.violate("final-read/"+kind, "invariant 3: the %s server cannot be read at the end: %v", kind, err)
			continue
		}
		for subject := range m {
			c.violate("final-member/"+kind+"/"+subject, "invariant 3: %s is left a member of the %s role at the end", subject, kind)
		}
	}
}
