package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// checkInterval is how often the checker reads the targets.
const checkInterval = 250 * time.Millisecond

// seen is what the checker learnt of one request over the run, by its own clock.
type seen struct {
	expiresAt time.Time
	// terminalAt is when it was first seen terminal; verifiedAt when first
	// seen Revoked with RevocationVerified=True.
	terminalAt time.Time
	verifiedAt time.Time
	hadBinding bool
	goneAt     time.Time // first read without its binding after one was seen
	approvals  int
	phase      accessv1alpha1.Phase
	grantedAt  time.Time
	// firstSeen is when the checker first saw the request at all.
	firstSeen time.Time
}

// checker reads the targets fresh, never from a cache, and records every
// invariant violation once per request and kind.
type checker struct {
	e       *env
	w       *workload
	rs      *replicas
	servers map[string]*downstream
	// downReads counts reads of a server that failed, by kind (while it is
	// down, every read fails).
	downReads  map[string]int
	mu         sync.Mutex
	requests   map[string]*seen
	violations []string
	reported   map[string]bool
	ticks      int
	readErrors int
	// passes is how long each pass took, from its first read to its last
	// list of the requests.
	passes []time.Duration
	// lateApprovals counts approvals admitted after the pending timeout of a
	// request not yet marked Expired (not a violation: it expires).
	lateApprovals int
	// leading says a replica led at the last pass, since leaderSince.
	leading     bool
	leaderSince time.Time
	// planeDown says the control plane cannot serve: the kube-apiserver is
	// stopped, or etcd is (the apiserver runs but answers nothing that needs
	// storage). planeUpSince is when the apiserver last served again (zero:
	// it never stopped).
	planeDown    bool
	planeUpSince time.Time
}

// setControlPlaneUp records the control plane going down or serving again.
func (c *checker) setControlPlaneUp(up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.planeDown = !up
	if up {
		c.planeUpSince = time.Now()
	}
}

func newChecker(e *env, w *workload, rs *replicas, servers map[string]*downstream) *checker {
	return &checker{e: e, w: w, rs: rs, servers: servers, downReads: map[string]int{}, requests: map[string]*seen{}, reported: map[string]bool{}}
}

func (c *checker) violate(key, format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reported[key] {
		return
	}
	c.reported[key] = true
	msg := time.Now().Format("15:04:05.000") + " " + fmt.Sprintf(format, args...)
	c.violations = append(c.violations, msg)
	step("VIOLATION %s", msg)
}

func (c *checker) run(ctx context.Context) {
	tick := time.NewTicker(checkInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := c.check(ctx); err != nil && ctx.Err() == nil {
			c.mu.Lock()
			c.readErrors++
			c.mu.Unlock()
		}
	}
}

// check is one pass: the requests, then the bindings, then the access of
// every subject, then the requests again. The order matters: a request seen
// verified in the first read whose binding is still there in the second was
// marked verified while the entitlement was present.
//
// Each list of requests is observed at the time it returned, not at the end
// of the pass: a state it shows held by then, so the time is an upper bound,
// and the pass's other reads (a SubjectAccessReview per subject, every
// server's members) do not add to the lags measured from it.
func (c *checker) check(ctx context.Context) error {
	start := time.Now()
	before, err := c.listRequests(ctx)
	if err != nil {
		return err
	}
	beforeAt := time.Now()
	bindings, err := c.listBindings(ctx)
	if err != nil {
		return err
	}
	allowed, err := c.subjectAccess(ctx)
	if err != nil {
		return err
	}
	members := c.readMembers(ctx)
	after, err := c.listRequests(ctx)
	if err != nil {
		return err
	}
	afterAt := time.Now()
	leading, since := c.rs.observeLeader(ctx)
	now := time.Now()
	c.mu.Lock()
	c.leading, c.leaderSince = leading, since
	c.passes = append(c.passes, afterAt.Sub(start))
	c.mu.Unlock()
	c.observe(before, beforeAt)
	c.observe(after, afterAt)
	tracked := c.w.snapshot()
	c.checkBindings(before, start, bindings, tracked, now)
	c.checkSubjects(after, allowed, tracked, now)
	c.checkMembers(before, members, tracked, now)
	c.mu.Lock()
	c.ticks++
	c.mu.Unlock()
	return nil
}

func (c *checker) listRequests(ctx context.Context) (map[string]*accessv1alpha1.ElevationRequest, error) {
	var list accessv1alpha1.ElevationRequestList
	if err := c.e.admin.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	out := make(map[string]*accessv1alpha1.ElevationRequest, len(list.Items))
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out, nil
}

// listBindings counts the operator's RoleBindings by the request they serve.
func (c *checker) listBindings(ctx context.Context) (map[string]int, error) {
	var list rbacv1.RoleBindingList
	if err := c.e.admin.List(ctx, &list, client.InNamespace(namespace), client.HasLabels{accessv1alpha1.LabelRequestName}); err != nil {
		return nil, fmt.Errorf("list RoleBindings: %w", err)
	}
	out := map[string]int{}
	for _, rb := range list.Items {
		out[rb.Labels[accessv1alpha1.LabelRequestName]]++
	}
	return out, nil
}

// subjectAccess asks the apiserver's authorizer, per subject, whether it may
// create pods in the namespace (the ClusterRole admin allows it; nothing else
// gives it to the workload's subjects).
func (c *checker) subjectAccess(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	for i := range subjects {
		subject := fmt.Sprintf("dev-%d", i)
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               subject,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: "create", Resource: "pods"},
		}}
		if err := c.e.admin.Create(ctx, sar); err != nil {
			return nil, fmt.Errorf("SubjectAccessReview for %s: %w", subject, err)
		}
		out[subject] = sar.Status.Allowed
	}
	return out, nil
}

func (c *checker) observe(reqs map[string]*accessv1alpha1.ElevationRequest, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, er := range reqs {
		s := c.requests[name]
		if s == nil {
			s = &seen{firstSeen: now}
			c.requests[name] = s
		}
		st := er.Status
		s.phase, s.approvals = st.Phase, len(st.Approvals)
		if st.ExpiresAt != nil {
			s.expiresAt = st.ExpiresAt.Time
		}
		if st.GrantedAt != nil {
			s.grantedAt = st.GrantedAt.Time
		}
		if st.Phase.IsTerminal() && s.terminalAt.IsZero() {
			s.terminalAt = now
		}
		if verified(er) && s.verifiedAt.IsZero() {
			s.verifiedAt = now
		}
	}
}

func verified(er *accessv1alpha1.ElevationRequest) bool {
	return er.Status.Phase == accessv1alpha1.PhaseRevoked &&
		apimeta.IsStatusConditionTrue(er.Status.Conditions, accessv1alpha1.ConditionRevocationVerified)
}

// end is when the request's access had to end: the first of its expiry, the
// driver's early revoke or deletion, and (for one never granted) when it was
// seen terminal. Zero: not yet known.
func end(s *seen, t tracked) time.Time {
	var out time.Time
	for _, at := range []time.Time{s.expiresAt, t.endAsked, s.terminalAt} {
		if !at.IsZero() && (out.IsZero() || at.Before(out)) {
			out = at
		}
	}
	return out
}

// overdue says whether access that had to end at endAt is past the bound at
// now; the caller holds mu. The bound counts from when the current leader
// was first seen leading if that is later: while no replica leads (both
// killed in turn faster than a lease) no operator is up to revoke, and the
// failover measurement bounds that gap on its own.
func (c *checker) overdue(endAt, now time.Time) bool {
	return c.overdueBy(endAt, now, accessBound)
}

func (c *checker) overdueBy(endAt, now time.Time, bound time.Duration) bool {
	if !c.leading || c.planeDown || endAt.IsZero() {
		return false
	}
	// No operator can act while the control plane is down: from the
	// apiserver's return on, a leader has the bound again, as after a failover.
	for _, since := range []time.Time{c.leaderSince, c.planeUpSince} {
		if since.After(endAt) {
			endAt = since
		}
	}
	return now.After(endAt.Add(bound))
}

// overdueAt is overdue for a target reachable since upSince: nothing is
// overdue while the target is down, and access that had to end before the
// restore may last afterRestore past it (restoreBound after an outage, more
// after a hang); the caller holds mu.
func (c *checker) overdueAt(endAt, now time.Time, up bool, upSince time.Time, afterRestore time.Duration) bool {
	if !up {
		return false
	}
	if !endAt.IsZero() && upSince.After(endAt) {
		return c.overdueBy(upSince, now, afterRestore)
	}
	return c.overdue(endAt, now)
}

// reqs were listed from listedAt on, before the bindings: a request missing
// from them counts as deleted only if it was seen before that list began
// (one created, granted and deleted during the pass was never in it).
func (c *checker) checkBindings(reqs map[string]*accessv1alpha1.ElevationRequest, listedAt time.Time, bindings map[string]int, tracked map[string]tracked, now time.Time) {
	c.mu.Lock()
	for name, s := range c.requests {
		if bindings[name] > 0 {
			s.hadBinding = true
		} else if s.hadBinding && s.goneAt.IsZero() {
			s.goneAt = now
		}
	}
	c.mu.Unlock()
	for name, n := range bindings {
		t, ours := tracked[name]
		if !ours {
			continue
		}
		if n > 1 {
			c.violate("dup/"+name, "invariant 3: %d RoleBindings for request %s (a duplicate grant)", n, name)
		}
		er, exists := reqs[name]
		var seenBefore, late bool
		var endAt time.Time
		c.mu.Lock()
		if s := c.requests[name]; s != nil {
			seenBefore = s.firstSeen.Before(listedAt)
			endAt = end(s, t)
			late = c.overdue(endAt, now)
		}
		c.mu.Unlock()
		switch {
		case !exists && t.deleted && seenBefore:
			c.violate("leak/"+name, "invariant 2: request %s is deleted (its finalizer removed) while its RoleBinding exists", name)
		case exists && verified(er):
			c.violate("verified/"+name, "invariant 2: request %s is Revoked with RevocationVerified=True while its RoleBinding exists", name)
		}
		if late {
			c.violate("late/"+name, "invariant 1: request %s still has its RoleBinding %s after its end (%s), bound %s",
				name, now.Sub(endAt).Round(time.Millisecond), endAt.Format("15:04:05.000"), accessBound)
		}
	}
}

// checkSubjects flags a subject the authorizer allows when none of its
// requests may still give access.
func (c *checker) checkSubjects(reqs map[string]*accessv1alpha1.ElevationRequest, allowed map[string]bool, tracked map[string]tracked, now time.Time) {
	for subject, ok := range allowed {
		if !ok {
			continue
		}
		justified, verifiedName := c.justify(subject, reqs, tracked, now)
		switch {
		case justified:
		case verifiedName != "":
			c.violate("sar-verified/"+subject, "invariant 2: %s may still create pods (SubjectAccessReview) though request %s is Revoked with RevocationVerified=True", subject, verifiedName)
		default:
			c.violate("sar-late/"+subject, "invariant 1: %s may still create pods (SubjectAccessReview) past the end of all its requests plus %s", subject, accessBound)
		}
	}
}

// justify says whether one of the subject's requests may still give access
// (open, or ended less than the bound ago); if none may, it names one that is
// Revoked and verified, if any.
func (c *checker) justify(subject string, reqs map[string]*accessv1alpha1.ElevationRequest, tracked map[string]tracked, now time.Time) (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	verifiedName := ""
	for name, t := range tracked {
		if t.subject != subject || t.target != targetKubernetes {
			continue
		}
		er, exists := reqs[name]
		s := c.requests[name]
		if (exists && !er.Status.Phase.IsTerminal()) || s == nil || !c.overdue(end(s, t), now) {
			return true, ""
		}
		if exists && verified(er) {
			verifiedName = name
		}
	}
	return false, verifiedName
}

// lags is, for each named request, the checker's first read of it Revoked
// and verified minus its expiresAt; done once every one was read so.
func (c *checker) lags(names []string) ([]time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, name := range names {
		s := c.requests[name]
		if s == nil || s.verifiedAt.IsZero() || s.expiresAt.IsZero() {
			return nil, false
		}
		out = append(out, s.verifiedAt.Sub(s.expiresAt))
	}
	return out, true
}

// countVerified counts the named requests the checker has read Revoked and
// verified.
func (c *checker) countVerified(names []string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, name := range names {
		if s := c.requests[name]; s != nil && !s.verifiedAt.IsZero() {
			n++
		}
	}
	return n
}

// verifiedTimes is, for each named request, when the checker first read it
// Revoked and verified (or saw it deleted once it was); done once every one was.
func (c *checker) verifiedTimes(names []string) ([]time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Time, 0, len(names))
	for _, name := range names {
		s := c.requests[name]
		if s == nil || s.verifiedAt.IsZero() {
			return nil, false
		}
		out = append(out, s.verifiedAt)
	}
	return out, true
}
