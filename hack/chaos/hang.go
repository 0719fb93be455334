package main

import (
	"context"
	"fmt"
	"time"
)

const faultHang = "hung server (SIGSTOP)"

const (
	// hangHold is how long the server stays hung.
	hangHold = 30 * time.Second
	// hangRestoreBound is how long past SIGCONT access that had to end while
	// the server was hung may last: an attempt that started just before
	// SIGCONT may still time out (the connection's timeout), the next comes
	// within the retry cap, and the revoke, its verification and the
	// checker's poll take 2 s (restoreBound is the cap plus those 2 s).
	hangRestoreBound = ldapTimeout + restoreBound
	// hangOthers is how many requests on the cluster target are granted with
	// the hung server's batch and expire while it hangs.
	hangOthers = 4
	// hangOthersLater is how much longer than the hung server's batch they
	// run: they expire 5 s into its revocation attempts.
	hangOthersLater = 5 * time.Second
)

// freezer is a server that can be hung: it accepts connections (the kernel
// completes the handshake) and never answers, until thawed.
type freezer interface {
	freeze() error
	thaw() error
}

// hangResult is what one hang measured.
type hangResult struct {
	kind string
	hung time.Duration
	// lags are SIGCONT → the checker's first read of each request of the
	// batch Revoked and verified.
	lags         []time.Duration
	overdue      float64
	downFindings []string
	// others are expiry → verified of the cluster requests that expired
	// during the hang; othersInHang how many were verified before SIGCONT.
	others       []time.Duration
	othersInHang int
	// elsewhere are end → verified of every request on the cluster target
	// (the random workload's too) whose window ended during the hang.
	elsewhere []time.Duration
}

// hang grants a batch on one server (subjects the random workload never
// uses) and a batch on the cluster that expires a little later, hangs the
// server with SIGSTOP shortly before its batch expires, asserts while it
// hangs that every request of its batch is Revoking with
// RevocationVerified=False, a Warning Event and the overdue metric above 0,
// resumes it after hold and measures SIGCONT → verified; and it measures
// whether the operator kept revoking on the cluster target meanwhile (a
// worker held by a hung connection must not stall the others).
func (f *faults) hang(ctx context.Context, d *downstream, hold time.Duration) {
	fr, ok := d.server.(freezer)
	if !ok {
		f.fail(fmt.Errorf("hang: the %s server cannot be hung", d.kind()))
		return
	}
	f.waitBothUp(ctx)
	subs := outageSubjects()
	var names, others []string
	for i := range outageBatch {
		names = append(names, f.w.launch(ctx, scenarioHang, d.kind(), subs[i], 15*time.Second))
	}
	for i := range hangOthers {
		others = append(others, f.w.launch(ctx, scenarioHangOther, targetKubernetes, fmt.Sprintf("dev-%d", i), 15*time.Second+hangOthersLater))
	}
	expires, err := f.waitAllActive(ctx, names)
	if err == nil {
		_, err = f.waitAllActive(ctx, others)
	}
	if err != nil {
		f.fail(fmt.Errorf("hang of %s: %w", d.kind(), err))
		return
	}
	sleep(ctx, time.Until(expires.Add(-outageLead)))
	step("hang: SIGSTOP the %s server for %s, %s before %d requests expire at %s", d.kind(), hold, outageLead, len(names), expires.Format("15:04:05"))
	d.setUp(false)
	if err := fr.freeze(); err != nil {
		f.fail(fmt.Errorf("hang the %s server: %w", d.kind(), err))
		return
	}
	frozenAt := time.Now()
	f.count(faultHang)
	res := hangResult{kind: d.kind()}
	sleep(ctx, time.Until(expires.Add(downCheckAfter)))
	res.overdue, res.downFindings = f.checkWhileDown(ctx, "hang of "+d.kind(), names)
	sleep(ctx, time.Until(frozenAt.Add(hold)))
	if err := fr.thaw(); err != nil {
		f.fail(fmt.Errorf("resume the %s server: %w", d.kind(), err))
		return
	}
	d.setUpWithin(true, hangRestoreBound)
	thawAt := time.Now()
	res.hung = thawAt.Sub(frozenAt)
	step("hang: the %s server resumed after %s", d.kind(), res.hung.Round(100*time.Millisecond))
	res.lags = f.collectRestoreLags(ctx, d.kind()+" (hung)", names, thawAt)
	res.others, res.othersInHang = f.othersDuringHang(ctx, others, thawAt)
	res.elsewhere = f.c.endToVerified(frozenAt, thawAt, targetKubernetes)
	f.mu.Lock()
	f.hangs = append(f.hangs, res)
	f.mu.Unlock()
}

// othersDuringHang waits for the cluster batch to be verified and returns
// expiry → verified per request and how many were verified before thawAt.
func (f *faults) othersDuringHang(ctx context.Context, names []string, thawAt time.Time) ([]time.Duration, int) {
	lags, ok := f.waitLags(ctx, names)
	if !ok {
		f.fail(fmt.Errorf("hang: the cluster batch was not revoked and verified within a minute"))
		return nil, 0
	}
	at, _ := f.c.verifiedTimes(names)
	inHang := 0
	for _, t := range at {
		if t.Before(thawAt) {
			inHang++
		}
	}
	return lags, inHang
}

// endToVerified is end → the checker's first read Revoked and verified of
// every request on target whose window ended (its expiry, or the driver's
// early revoke or deletion) between from and to and that was read verified
// (a deleted one is gone before). On the cluster each request has a binding
// of its own: on the servers, a membership another request still holds is
// verified only when that one ends, which would hide the operator's lag.
func (c *checker) endToVerified(from, to time.Time, target string) []time.Duration {
	tracked := c.w.snapshot()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for name, t := range tracked {
		s := c.requests[name]
		if t.target != target || s == nil || s.verifiedAt.IsZero() {
			continue
		}
		if at := windowEnd(s, t); !at.IsZero() && !at.Before(from) && !at.After(to) {
			out = append(out, s.verifiedAt.Sub(at))
		}
	}
	return out
}

// windowEnd is the first of the request's expiry and the driver's early
// revoke or deletion; zero if neither is known.
func windowEnd(s *seen, t tracked) time.Time {
	if !t.endAsked.IsZero() && (s.expiresAt.IsZero() || t.endAsked.Before(s.expiresAt)) {
		return t.endAsked
	}
	return s.expiresAt
}
