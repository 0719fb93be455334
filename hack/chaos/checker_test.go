package main

import (
	"context"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestEndIsTheFirstOfExpiryEarlyEndAndTerminal(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		s    seen
		t    tracked
		want time.Time
	}{
		{"nothing known yet", seen{}, tracked{}, time.Time{}},
		{"expiry only", seen{expiresAt: t0.Add(10 * time.Second)}, tracked{}, t0.Add(10 * time.Second)},
		{"revoked before expiry", seen{expiresAt: t0.Add(10 * time.Second)}, tracked{endAsked: t0.Add(3 * time.Second)}, t0.Add(3 * time.Second)},
		{"never granted, seen terminal", seen{terminalAt: t0.Add(8 * time.Second)}, tracked{}, t0.Add(8 * time.Second)},
		{"terminal after expiry", seen{expiresAt: t0, terminalAt: t0.Add(time.Second)}, tracked{}, t0},
	} {
		s := tc.s
		if got := end(&s, tc.t); !got.Equal(tc.want) {
			t.Errorf("%s: end = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestOverdueCountsFromTheLaterOfEndAndLeadership(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name        string
		leading     bool
		leaderSince time.Time
		end, now    time.Time
		want        bool
	}{
		{"within the bound", true, t0.Add(-time.Hour), t0, t0.Add(accessBound), false},
		{"past the bound", true, t0.Add(-time.Hour), t0, t0.Add(accessBound + time.Millisecond), true},
		{"no leader: not counted", false, t0.Add(-time.Hour), t0, t0.Add(time.Hour), false},
		{"leader since after the end: bound from then", true, t0.Add(10 * time.Second), t0, t0.Add(10*time.Second + accessBound), false},
		{"leader since after the end, past its bound", true, t0.Add(10 * time.Second), t0, t0.Add(11*time.Second + accessBound), true},
		{"end unknown", true, t0.Add(-time.Hour), time.Time{}, t0, false},
	} {
		c := &checker{leading: tc.leading, leaderSince: tc.leaderSince}
		if got := c.overdue(tc.end, tc.now); got != tc.want {
			t.Errorf("%s: overdue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseFlagsShortAndFull(t *testing.T) {
	short, err := parseFlags([]string{"-short", "-seed", "7"})
	if err != nil {
		t.Fatal(err)
	}
	if short.duration != time.Minute || short.kills != 10 || short.seed != 7 {
		t.Errorf("short: duration %s, kills %d, seed %d; want 1m, 10, 7", short.duration, short.kills, short.seed)
	}
	full, err := parseFlags([]string{"-duration", "10m"})
	if err != nil {
		t.Fatal(err)
	}
	if full.kills != 100 || full.seed == 0 {
		t.Errorf("full over 10m: kills %d (want one per 6 s, 100), seed %d (want one picked)", full.kills, full.seed)
	}
}

func TestOnlyPicksScenariosAndTheShortFormHasNeitherHangNorEtcd(t *testing.T) {
	full, err := parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	short, err := parseFlags([]string{"-short"})
	if err != nil {
		t.Fatal(err)
	}
	for _, phase := range phases {
		if !full.runs(phase) {
			t.Errorf("the full form does not run %s", phase)
		}
		if want := !fullOnly[phase]; short.runs(phase) != want {
			t.Errorf("the short form runs %s: %v, want %v", phase, short.runs(phase), want)
		}
	}
	only, err := parseFlags([]string{"-only", "etcd, hang"})
	if err != nil {
		t.Fatal(err)
	}
	if !only.runs(phaseEtcd) || !only.runs(phaseHang) || only.runs(phaseSweep) || only.runs(phaseRollout) {
		t.Errorf("-only etcd,hang: runs etcd %v, hang %v, sweep %v, rollout %v; want true, true, false, false",
			only.runs(phaseEtcd), only.runs(phaseHang), only.runs(phaseSweep), only.runs(phaseRollout))
	}
	if _, err := parseFlags([]string{"-only", "etcd,partition"}); err == nil {
		t.Error("-only accepted an unknown scenario")
	}
}

// fakeServer answers members from m, after release is closed if it is set
// (a hung server until then). Only kind and members are called.
type fakeServer struct {
	server
	name    string
	m       map[string]bool
	release chan struct{}
}

func (s *fakeServer) kind() string { return s.name }

func (s *fakeServer) members(context.Context) (map[string]bool, error) {
	if s.release != nil {
		<-s.release
	}
	return s.m, nil
}

func TestReadMembersGivesUpOnAHungServerOnly(t *testing.T) {
	hung := &fakeServer{name: targetLDAP, release: make(chan struct{})}
	slow := &fakeServer{name: targetSCIM, m: map[string]bool{"dev-1": true}, release: make(chan struct{})}
	c := &checker{downReads: map[string]int{}, servers: map[string]*downstream{
		targetLDAP: {server: hung},             // marked down (not up): hung
		targetSCIM: {server: slow, isUp: true}, // up, answers late
	}}
	time.AfterFunc(memberReadWait+300*time.Millisecond, func() { close(slow.release) })
	began := time.Now()
	got := c.readMembers(context.Background())
	if took := time.Since(began); took > memberReadWait+time.Second {
		t.Errorf("the pass took %s: it waited for the hung server", took)
	}
	if _, ok := got[targetLDAP]; ok || !got[targetSCIM]["dev-1"] {
		t.Errorf("members = %v, want the slow but reachable SCIM server's only", got)
	}
	// The hung read is still in flight: the next pass does not start another.
	began = time.Now()
	c.readMembers(context.Background())
	if took := time.Since(began); took > 500*time.Millisecond {
		t.Errorf("the second pass took %s: it waited on the hung server again", took)
	}
	if c.downReads[targetLDAP] != 2 || c.downReads[targetSCIM] != 0 {
		t.Errorf("failed reads = %v, want ldap 2, scim 0", c.downReads)
	}
	close(hung.release)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c.servers[targetLDAP].startRead() {
			return // the late answer ended the read in flight
		}
	}
	t.Error("the hung read never ended after the server answered")
}

func TestEndToVerifiedCountsTheTargetsRequestsEndedInTheWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	w := &workload{all: map[string]*tracked{
		"expired":  {target: targetKubernetes},
		"ahead":    {target: targetKubernetes},
		"early":    {target: targetKubernetes, endAsked: t0.Add(5 * time.Second)},
		"server":   {target: targetLDAP},
		"before":   {target: targetKubernetes},
		"unproven": {target: targetKubernetes},
	}}
	c := &checker{w: w, requests: map[string]*seen{
		"expired": {expiresAt: t0.Add(10 * time.Second), verifiedAt: t0.Add(13 * time.Second)},
		// Revoked ahead of its expiry (the expiry lead): a negative lag, not
		// the 0 that the moment it was seen terminal would give.
		"ahead":    {expiresAt: t0.Add(20 * time.Second), terminalAt: t0.Add(19 * time.Second), verifiedAt: t0.Add(19 * time.Second)},
		"early":    {expiresAt: t0.Add(time.Hour), verifiedAt: t0.Add(6 * time.Second)},
		"server":   {expiresAt: t0.Add(10 * time.Second), verifiedAt: t0.Add(40 * time.Second)},
		"before":   {expiresAt: t0.Add(-time.Second), verifiedAt: t0.Add(time.Second)},
		"unproven": {expiresAt: t0.Add(10 * time.Second)},
	}}
	got := c.endToVerified(t0, t0.Add(30*time.Second), targetKubernetes)
	slices.Sort(got)
	if want := []time.Duration{-time.Second, time.Second, 3 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("end → verified = %v, want %v (ahead, early revoke, expiry; not another target's, one ended before, one never verified)", got, want)
	}
}

func TestOverdueAtCountsFromTheRestoreAndNotWhileDown(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		up           bool
		upSince      time.Time
		afterRestore time.Duration
		now          time.Time
		want         bool
	}{
		{"down: never overdue", false, time.Time{}, restoreBound, t0.Add(time.Hour), false},
		{"up all along, past the bound", true, t0.Add(-time.Hour), restoreBound, t0.Add(accessBound + time.Millisecond), true},
		{"restored after the end, within the restore bound", true, t0.Add(30 * time.Second), restoreBound, t0.Add(30*time.Second + restoreBound), false},
		{"restored after the end, past the restore bound", true, t0.Add(30 * time.Second), restoreBound, t0.Add(30*time.Second + restoreBound + time.Millisecond), true},
		{"resumed after a hang, past the outage bound but within the hang's", true, t0.Add(30 * time.Second), hangRestoreBound, t0.Add(30*time.Second + restoreBound + time.Second), false},
		{"resumed after a hang, past its bound", true, t0.Add(30 * time.Second), hangRestoreBound, t0.Add(30*time.Second + hangRestoreBound + time.Millisecond), true},
	} {
		c := &checker{leading: true, leaderSince: t0.Add(-time.Hour)}
		if got := c.overdueAt(t0, tc.now, tc.up, tc.upSince, tc.afterRestore); got != tc.want {
			t.Errorf("%s: overdueAt = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestJustifyMember(t *testing.T) {
	t0 := time.Now().Add(-time.Hour)
	ended := &seen{expiresAt: t0}
	revoked := func(name string) *accessv1alpha1.ElevationRequest {
		er := &accessv1alpha1.ElevationRequest{ObjectMeta: metav1.ObjectMeta{Name: name}}
		er.Status.Phase = accessv1alpha1.PhaseRevoked
		er.Status.Conditions = []metav1.Condition{{Type: accessv1alpha1.ConditionRevocationVerified, Status: metav1.ConditionTrue}}
		return er
	}
	revoking := &accessv1alpha1.ElevationRequest{ObjectMeta: metav1.ObjectMeta{Name: "r"}}
	revoking.Status.Phase = accessv1alpha1.PhaseRevoking
	for _, tc := range []struct {
		name          string
		tracked       map[string]tracked
		before        map[string]*accessv1alpha1.ElevationRequest
		up            bool
		wantJustified bool
		wantVerified  string
	}{
		{"revoking long past its end, server up: late", map[string]tracked{"r": {target: targetLDAP, subject: "ops-0"}},
			map[string]*accessv1alpha1.ElevationRequest{"r": revoking}, true, false, ""},
		{"revoking long past its end, server down: not counted", map[string]tracked{"r": {target: targetLDAP, subject: "ops-0"}},
			map[string]*accessv1alpha1.ElevationRequest{"r": revoking}, false, true, ""},
		{"verified and nothing else open: verified while present", map[string]tracked{"v": {target: targetLDAP, subject: "ops-0"}},
			map[string]*accessv1alpha1.ElevationRequest{"v": revoked("v")}, true, false, "v"},
		{"verified, but another request not read yet: it may hold it", map[string]tracked{
			"v": {target: targetLDAP, subject: "ops-0"}, "new": {target: targetLDAP, subject: "ops-0"},
		}, map[string]*accessv1alpha1.ElevationRequest{"v": revoked("v")}, true, true, ""},
		{"deleted, its finalizer gone: verified while present", map[string]tracked{"d": {target: targetLDAP, subject: "ops-0", deleted: true}},
			map[string]*accessv1alpha1.ElevationRequest{}, true, false, "d"},
		{"another target's request does not count", map[string]tracked{"k": {target: targetKubernetes, subject: "ops-0"}},
			map[string]*accessv1alpha1.ElevationRequest{}, true, false, ""},
	} {
		c := &checker{leading: true, leaderSince: t0.Add(-time.Hour), requests: map[string]*seen{}}
		for name := range tc.tracked {
			if name != "new" {
				c.requests[name] = ended
			}
		}
		justified, verifiedName := c.justifyMember(targetLDAP, "ops-0", tc.before, tc.tracked, time.Now(), reach{tc.up, t0.Add(-time.Hour), restoreBound})
		if justified != tc.wantJustified || verifiedName != tc.wantVerified {
			t.Errorf("%s: justified %v, verified %q; want %v, %q", tc.name, justified, verifiedName, tc.wantJustified, tc.wantVerified)
		}
	}
}

func TestLDAPSubjectsOfComparesDNsAsTheServerDoes(t *testing.T) {
	got := ldapSubjectsOf([]string{"UID=ops-1, ou=People,dc=example,dc=org", "uid=bystander,ou=people,dc=example,dc=org", "not a dn"})
	if len(got) != 1 || !got["ops-1"] {
		t.Errorf("subjects = %v, want only ops-1", got)
	}
}

func TestGateRefusesWhileClosedAndForwardsAgainOnTheSameAddress(t *testing.T) {
	upstream, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = upstream.Close() }()
	go func() {
		for {
			c, err := upstream.Accept()
			if err != nil {
				return
			}
			go func() { defer func() { _ = c.Close() }(); _, _ = io.Copy(c, c) }()
		}
	}()
	g, err := newGate(upstream.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	echo := func() error {
		c, err := net.DialTimeout("tcp", g.addr, time.Second)
		if err != nil {
			return err
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 4)
		_, err = io.ReadFull(c, buf)
		return err
	}
	if err := echo(); err != nil {
		t.Fatalf("through the open gate: %v", err)
	}
	held, err := net.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Close() }()
	time.Sleep(100 * time.Millisecond) // the gate tracks the connection
	if err := g.closeGate(); err != nil {
		t.Fatal(err)
	}
	if err := echo(); err == nil {
		t.Fatal("the closed gate forwarded a connection")
	}
	_ = held.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := held.Read(make([]byte, 1)); err == nil {
		t.Error("a connection open when the gate closed was not cut")
	}
	if err := g.openGate(); err != nil {
		t.Fatal(err)
	}
	if err := echo(); err != nil {
		t.Fatalf("through the reopened gate: %v", err)
	}
	if err := g.closeGate(); err != nil {
		t.Fatal(err)
	}
}

func TestProcReadsThisProcess(t *testing.T) {
	if got, want := parent(os.Getpid()), strconv.Itoa(os.Getppid()); got != want {
		t.Errorf("parent = %q, want %q", got, want)
	}
	args := procArgs(os.Getpid())
	if len(args) != len(os.Args) || args[0] != os.Args[0] {
		t.Errorf("procArgs = %q, want %q", args, os.Args)
	}
	if !processExists(os.Getpid()) {
		t.Error("this process does not exist, says processExists")
	}
	if !hasArg([]string{"kube-apiserver", "--secure-port=6443"}, "--secure-port=6443") || hasArg([]string{"--secure-port=64430"}, "--secure-port=6443") {
		t.Error("hasArg matches a flag only exactly")
	}
}

func TestControlPlaneDownStopsTheClockAndItsReturnRestartsIt(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	c := &checker{leading: true, leaderSince: t0.Add(-time.Hour), planeDown: true}
	if c.overdue(t0, t0.Add(time.Hour)) {
		t.Error("overdue while the control plane is down")
	}
	c.planeDown, c.planeUpSince = false, t0.Add(30*time.Second)
	if c.overdue(t0, t0.Add(30*time.Second+accessBound)) {
		t.Error("overdue within the bound of the apiserver's return")
	}
	if !c.overdue(t0, t0.Add(30*time.Second+accessBound+time.Millisecond)) {
		t.Error("not overdue past the bound of the apiserver's return")
	}
}

// A request created, granted and deleted while one pass ran is in none of its
// lists of requests, though its binding was in its list of bindings: not a
// deletion while the binding exists. One seen before the pass is.
func TestBindingOfARequestMissingFromThePassCountsOnlyIfSeenBefore(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 21, 12, 59, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		firstSeen time.Time
		want      int
	}{
		{"created during the pass", t0.Add(300 * time.Millisecond), 0},
		{"seen before the pass", t0.Add(-time.Second), 1},
	} {
		c := &checker{leading: true, leaderSince: t0.Add(-time.Hour), reported: map[string]bool{},
			requests: map[string]*seen{"c-1": {firstSeen: tc.firstSeen}}}
		tracked := map[string]tracked{"c-1": {name: "c-1", target: targetKubernetes, deleted: true}}
		c.checkBindings(map[string]*accessv1alpha1.ElevationRequest{}, t0, map[string]int{"c-1": 1}, tracked, t0.Add(time.Second))
		if len(c.violations) != tc.want {
			t.Errorf("%s: violations %q, want %d", tc.name, c.violations, tc.want)
		}
	}
}
