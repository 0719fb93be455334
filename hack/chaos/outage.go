package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// outageBatch is how many requests of an outage batch are left to expire
// while their server is down; one more is given the role by another path
// while it is down (the re-add), where the server has another path.
const outageBatch = 3

const (
	// outageLead is how long before the batch's expiry the server stops.
	outageLead = 3 * time.Second
	// downCheckAfter is when, after the expiry, the state while down is
	// asserted: after several failed attempts.
	downCheckAfter = 10 * time.Second
	faultOutage    = "downstream outage"
)

// outageResult is what one outage measured.
type outageResult struct {
	kind string
	down time.Duration
	// lags are restore → the checker's first read of each request Revoked
	// and verified.
	lags []time.Duration
	// overdue is elevator_revocations_overdue on the leader while down.
	overdue float64
	// readd is the other path given while down ("" if none) and whether the
	// verified revocation named it as residual access.
	readd        string
	readdCaught  bool
	downFindings []string
}

// outage grants a batch on one server, stops the server shortly before the
// batch expires, asserts while it is down that every request is Revoking
// with RevocationVerified=False, a Warning Event and the overdue metric above
// 0, brings the server back after hold and measures restore → verified.
func (f *faults) outage(ctx context.Context, d *downstream, hold time.Duration) {
	f.waitBothUp(ctx)
	subs := outageSubjects()
	var names []string
	for i := range outageBatch {
		names = append(names, f.w.launch(ctx, scenarioOutage, d.kind(), subs[i], 15*time.Second))
	}
	readd := ""
	if d.kind() != targetSCIM {
		readd = f.w.launch(ctx, scenarioReadd, d.kind(), subs[outageBatch], 15*time.Second)
		names = append(names, readd)
	}
	expires, err := f.waitAllActive(ctx, names)
	if err != nil {
		f.fail(fmt.Errorf("outage of %s: %w", d.kind(), err))
		return
	}
	sleep(ctx, time.Until(expires.Add(-outageLead)))
	res := outageResult{kind: d.kind()}
	step("outage: stop the %s server for %s, %s before %d requests expire at %s", d.kind(), hold, outageLead, len(names), expires.Format("15:04:05"))
	downAt := time.Now()
	if err := d.stopServer(); err != nil {
		f.fail(err)
		return
	}
	f.count(faultOutage)
	if readd != "" {
		if res.readd, err = d.addOtherPath(ctx, subs[outageBatch]); err != nil {
			f.fail(fmt.Errorf("outage of %s: give %s the role by another path: %w", d.kind(), subs[outageBatch], err))
		}
	}
	sleep(ctx, time.Until(expires.Add(downCheckAfter)))
	res.overdue, res.downFindings = f.checkWhileDown(ctx, "outage of "+d.kind(), names)
	sleep(ctx, time.Until(downAt.Add(hold)))
	if err := d.startServer(ctx); err != nil {
		f.fail(err)
		return
	}
	upAt := time.Now()
	res.down = upAt.Sub(downAt)
	step("outage: the %s server is back after %s", d.kind(), res.down.Round(100*time.Millisecond))
	res.lags = f.collectRestoreLags(ctx, d.kind(), names, upAt)
	if res.readd != "" {
		res.readdCaught = f.checkReadd(ctx, d, readd, res.readd)
	}
	f.mu.Lock()
	f.outages = append(f.outages, res)
	f.mu.Unlock()
}

// checkWhileDown asserts the state of every request of the batch while its
// server is down or hung (fault says which, e.g. "outage of ldap"), as
// violations, and returns the leader's overdue metric.
func (f *faults) checkWhileDown(ctx context.Context, fault string, names []string) (float64, []string) {
	var findings []string
	for _, name := range names {
		if problem := f.downState(ctx, name); problem != "" {
			findings = append(findings, name+": "+problem)
			f.c.violate("down-state/"+name, "%s: request %s while its server does not answer: %s", fault, name, problem)
		}
	}
	overdue := -1.0
	if leader := f.rs.leader(ctx); leader >= 0 {
		if v, err := f.rs.overdue(ctx, leader); err == nil {
			overdue = v
		}
	}
	if overdue <= 0 {
		findings = append(findings, fmt.Sprintf("elevator_revocations_overdue %g", overdue))
		f.c.violate("down-metric/"+fault, "%s: elevator_revocations_overdue on the leader is %g while revocations are due, want > 0", fault, overdue)
	}
	return overdue, findings
}

// downState is "" when the request is Revoking, RevocationVerified=False and
// has a Warning Event of a failed revoke or verification; else what is wrong.
func (f *faults) downState(ctx context.Context, name string) string {
	er := &accessv1alpha1.ElevationRequest{}
	if err := f.w.e.admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, er); err != nil {
		return "read: " + err.Error()
	}
	var problems []string
	if er.Status.Phase != accessv1alpha1.PhaseRevoking {
		problems = append(problems, "phase "+string(er.Status.Phase)+", want Revoking")
	}
	if cond := apimeta.FindStatusCondition(er.Status.Conditions, accessv1alpha1.ConditionRevocationVerified); cond == nil || cond.Status != metav1.ConditionFalse {
		problems = append(problems, "RevocationVerified is not False")
	}
	warned, err := f.hasRevokeWarning(ctx, name)
	switch {
	case err != nil:
		problems = append(problems, "list Events: "+err.Error())
	case !warned:
		problems = append(problems, "no Warning Event of a failed revoke or verification")
	}
	return strings.Join(problems, "; ")
}

func (f *faults) hasRevokeWarning(ctx context.Context, name string) (bool, error) {
	var list eventsv1.EventList
	if err := f.w.e.admin.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return false, fmt.Errorf("list Events: %w", err)
	}
	for _, ev := range list.Items {
		if ev.Regarding.Name != name || ev.Type != corev1.EventTypeWarning {
			continue
		}
		switch ev.Reason {
		case accessv1alpha1.ReasonRevokeFailed, accessv1alpha1.ReasonVerifyFailed:
			return true, nil
		}
	}
	return false, nil
}

// collectRestoreLags waits up to two minutes for the batch to be read
// Revoked and verified and returns restore → that read, per request.
func (f *faults) collectRestoreLags(ctx context.Context, kind string, names []string, upAt time.Time) []time.Duration {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if at, done := f.c.verifiedTimes(names); done {
			lags := make([]time.Duration, 0, len(at))
			for _, t := range at {
				lags = append(lags, t.Sub(upAt))
			}
			return lags
		}
		sleep(ctx, checkInterval)
	}
	f.fail(fmt.Errorf("outage of %s: the batch was not revoked and verified within two minutes of the restore", kind))
	return nil
}

// checkReadd checks the request whose subject was given the role by another
// path while the server was down: its own membership is gone and verified,
// and the other path is recorded as residual access, not hidden behind
// RevocationVerified=True. It then removes that path, as its owner would.
func (f *faults) checkReadd(ctx context.Context, d *downstream, name, path string) bool {
	er := &accessv1alpha1.ElevationRequest{}
	err := f.w.e.admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, er)
	caught := false
	if err == nil {
		for _, p := range er.Status.ResidualAccess {
			caught = caught || strings.Contains(strings.ToLower(p.Name), strings.ToLower(path))
		}
	}
	if err == nil && !caught {
		f.c.violate("readd/"+name, "outage of %s: request %s is %s with RevocationVerified=True, but its status names no residual access through %s, which its subject holds (residualAccess %+v)",
			d.kind(), name, er.Status.Phase, path, er.Status.ResidualAccess)
	}
	if rerr := d.removeOtherPath(ctx, path); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		f.fail(fmt.Errorf("outage of %s: re-add check of %s: %w", d.kind(), name, err))
	}
	return caught
}
