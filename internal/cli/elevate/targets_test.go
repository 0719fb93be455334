package elevate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

var (
	clusterAdmin = accessv1alpha1.Target{Connection: "prod-cluster", Role: "namespace-admin"}
	dbWriter     = accessv1alpha1.Target{Connection: "payments-db", Role: "payments_rw"}
	billingAdmin = accessv1alpha1.Target{Connection: "billing-scim", Role: "billing-admins"}
)

// multiRequest is request() asking for the three targets above.
func multiRequest(name string, phase accessv1alpha1.Phase, subject, requester string, created time.Duration) accessv1alpha1.ElevationRequest {
	er := request(name, phase, subject, requester, created)
	er.Spec.Connection, er.Spec.Role = "", ""
	er.Spec.Targets = []accessv1alpha1.Target{clusterAdmin, dbWriter, billingAdmin}
	return er
}

// targetStatus is the operator's status of target t with approvals of
// required counted.
func targetStatus(t accessv1alpha1.Target, phase accessv1alpha1.Phase, approvals, required int32) accessv1alpha1.TargetStatus {
	return accessv1alpha1.TargetStatus{Connection: t.Connection, Role: t.Role, Phase: phase, Approvals: approvals, RequiredApprovals: required}
}

func TestRequestPlanRefusesBadTargetsNamingTheArgumentAndTheLimit(t *testing.T) {
	good := requestFlags{duration: "30m", reason: "INC-1: fix it", timeout: "5m"}
	seventeen := make([]string, accessv1alpha1.MaxTargets+1)
	for i := range seventeen {
		seventeen[i] = fmt.Sprintf("conn-%d/admin", i)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"none", nil, "CONNECTION/ROLE: give at least one"},
		{"seventeen", seventeen, "CONNECTION/ROLE: at most 16 targets in one request (spec.targets), got 17"},
		{"the same twice", []string{"prod-cluster/admin", "db/rw", "prod-cluster/admin"},
			"CONNECTION/ROLE argument 3 of 3: prod-cluster/admin is also argument 1: name each connection and role once"},
		{"a bad second", []string{"prod-cluster/admin", "db"}, "CONNECTION/ROLE argument 2 of 2: want the SaaSConnection's name and the role's name separated by one slash"},
		{"a bad connection", []string{"a/b", "Payments_DB/rw"}, `CONNECTION/ROLE argument 2 of 2: connection "Payments_DB" is not a valid object name`},
		{"a long role", []string{"a/" + strings.Repeat("r", 64)}, "CONNECTION/ROLE: role \"" + strings.Repeat("r", 64) + "\" is 64 bytes long, at most 63 are allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := good.plan(tc.args); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("plan(%q) error = %v, want one starting %q", tc.args, err, tc.want)
			}
		})
	}
	// The same role of two connections, and two roles of one connection,
	// are different targets.
	if _, err := good.plan([]string{"a/admin", "b/admin", "a/viewer"}); err != nil {
		t.Errorf("plan of distinct targets: %v", err)
	}
	if _, err := good.plan(seventeen[:16]); err != nil {
		t.Errorf("plan of 16 targets: %v", err)
	}
}

func TestRequestPlanOfSeveralTargetsUsesSpecTargets(t *testing.T) {
	f := requestFlags{duration: "30m", reason: "INC-4711: roll back", ticket: "INC-4711", subject: "alice", timeout: "5m"}
	p, err := f.plan([]string{"prod-cluster/namespace-admin", "payments-db/payments_rw", "billing-scim/billing-admins"})
	if err != nil {
		t.Fatal(err)
	}
	er := p.object("payments")
	want := accessv1alpha1.ElevationRequestSpec{
		Subject: "alice", Targets: []accessv1alpha1.Target{clusterAdmin, dbWriter, billingAdmin},
		Duration: "30m", Justification: "INC-4711: roll back", Ticket: "INC-4711",
	}
	if !reflect.DeepEqual(er.Spec, want) {
		t.Errorf("spec = %+v, want %+v", er.Spec, want)
	}
	if er.Name != "" || er.GenerateName != "namespace-admin-plus2-" {
		t.Errorf("name %q generateName %q, want none and namespace-admin-plus2-", er.Name, er.GenerateName)
	}
	if got, want := accessText(p.targets), "3 targets (prod-cluster/namespace-admin, payments-db/payments_rw, billing-scim/billing-admins)"; got != want {
		t.Errorf("accessText = %q, want %q", got, want)
	}
}

// The generated prefix leaves the API server room for its five random
// characters within a name of 63, whatever the role is called.
func TestGenerateNameForManyTargetsStaysAValidName(t *testing.T) {
	targets := []accessv1alpha1.Target{{Connection: "a", Role: strings.Repeat("Long_Role", 10)}}
	for i := range accessv1alpha1.MaxTargets - 1 {
		targets = append(targets, accessv1alpha1.Target{Connection: fmt.Sprintf("c%d", i), Role: "r"})
	}
	prefix := generateNameForTargets(targets)
	if want := strings.TrimSuffix(generateNameFor(targets[0].Role), "-") + "-plus15-"; prefix != want {
		t.Errorf("generateNameForTargets = %q, want %q", prefix, want)
	}
	if name := prefix + "x7k2p"; len(name) > 63 || checkName(name) != nil {
		t.Errorf("generated name %q (%d bytes) is not a valid name of at most 63: %v", name, len(name), checkName(name))
	}
}

func TestRequestTakesSeveralTargetsAndChecksThemBeforeConnecting(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"request", "a/b", "a/b", "--for", "30m", "--reason", "x"}, "CONNECTION/ROLE argument 2 of 2: a/b is also argument 1"},
		{[]string{"request", "a/b", "c", "--for", "30m", "--reason", "x"}, "CONNECTION/ROLE argument 2 of 2: want"},
		{append([]string{"request", "--for", "30m", "--reason", "x"}, strings.Fields(strings.Repeat("c/r ", 17))...), "at most 16 targets"},
		// Several well-formed targets pass every check; only then is the
		// kubeconfig read.
		{[]string{"request", "a/b", "c/d", "--for", "30m", "--reason", "x"}, "read the kubeconfig"},
	}
	for _, tc := range cases {
		var out, errOut bytes.Buffer
		cmd := NewCommand(&out, &errOut)
		cmd.SetArgs(append(tc.args, "--kubeconfig", "/nonexistent/kubeconfig"))
		if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error = %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestTargetColumn(t *testing.T) {
	single := request("s", accessv1alpha1.PhasePending, "alice", "alice", 0)
	multi := multiRequest("m", "", "alice", "", 0)
	written := multiRequest("w", accessv1alpha1.PhasePending, "alice", "alice", 0)
	written.Status.Target = "prod-cluster/namespace-admin +2 (operator)"
	for _, tc := range []struct {
		er   accessv1alpha1.ElevationRequest
		want string
	}{
		{single, "prod-cluster/namespace-admin"},
		{multi, "prod-cluster/namespace-admin +2"}, // the spec, before the operator wrote status.target
		{written, "prod-cluster/namespace-admin +2 (operator)"},
	} {
		if got := targetColumn(&tc.er); got != tc.want {
			t.Errorf("targetColumn(%s) = %q, want %q", tc.er.Name, got, tc.want)
		}
	}
}

func TestRenderListToApproveShowsWhichTargets(t *testing.T) {
	multi := multiRequest("incident", accessv1alpha1.PhasePending, "alice", "alice", 0)
	single := request("viewer", accessv1alpha1.PhasePending, "bob", "bob", time.Minute)
	view := listView{
		items: []accessv1alpha1.ElevationRequest{single, multi},
		approveFor: map[string][]accessv1alpha1.Target{
			"payments/incident": {dbWriter, billingAdmin},
			"payments/viewer":   {clusterAdmin},
		},
	}
	var out bytes.Buffer
	if err := renderList(&out, view, t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	want := `NAME       PHASE     SUBJECT   TARGET                            APPROVE FOR                                           EXPIRES/TIME LEFT   AGE
incident   Pending   alice     prod-cluster/namespace-admin +2   payments-db/payments_rw,billing-scim/billing-admins   -                   5m
viewer     Pending   bob       prod-cluster/namespace-admin      prod-cluster/namespace-admin                          -                   4m
`
	if got := out.String(); got != want {
		t.Errorf("ls --to-approve:\n%s\nwant:\n%s", got, want)
	}

	// With one target each, APPROVE FOR would repeat TARGET: not shown.
	out.Reset()
	view.items = view.items[:1]
	if err := renderList(&out, view, t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Contains(got, "APPROVE FOR") || !strings.HasPrefix(got, "NAME     PHASE     SUBJECT   TARGET                         EXPIRES/TIME LEFT   AGE\n") {
		t.Errorf("ls --to-approve of single-target requests:\n%s", got)
	}
}

// fakeApprover answers the SelfSubjectAccessReview from a set of
// connections and counts the questions.
type fakeApprover struct {
	may   map[string]bool // namespace/connection
	asked map[string]int
}

func (f *fakeApprover) check(_ context.Context, namespace, connection string) (bool, error) {
	key := namespace + "/" + connection
	f.asked[key]++
	return f.may[key], nil
}

func TestApprovableAsksOncePerConnectionAndKeepsTargetsStillAwaiting(t *testing.T) {
	// Counted by the operator: the cluster target has its approval, the
	// database and billing targets wait.
	counted := multiRequest("counted", accessv1alpha1.PhasePending, "alice", "alice", 0)
	counted.Status.Targets = []accessv1alpha1.TargetStatus{
		targetStatus(clusterAdmin, accessv1alpha1.PhaseApproved, 1, 1),
		targetStatus(dbWriter, accessv1alpha1.PhasePending, 0, 1),
		targetStatus(billingAdmin, accessv1alpha1.PhasePending, 1, 2),
	}
	// Not counted yet: every target may need an approval.
	fresh := multiRequest("fresh", accessv1alpha1.PhasePending, "alice", "alice", 0)
	// Only the cluster target is bob's, and it has its approvals.
	notMine := multiRequest("not-mine", accessv1alpha1.PhasePending, "alice", "alice", 0)
	notMine.Spec.Targets = []accessv1alpha1.Target{clusterAdmin, {Connection: "hr-ldap", Role: "hr-admins"}}
	notMine.Status.Targets = []accessv1alpha1.TargetStatus{
		targetStatus(clusterAdmin, accessv1alpha1.PhasePending, 1, 1),
		targetStatus(notMine.Spec.Targets[1], accessv1alpha1.PhasePending, 0, 1),
	}
	single := request("single", accessv1alpha1.PhasePending, "alice", "alice", 0)
	own := multiRequest("own", accessv1alpha1.PhasePending, "bob", "bob", 0) // bob may not approve his own

	f := &fakeApprover{may: map[string]bool{"payments/prod-cluster": true, "payments/billing-scim": true}, asked: map[string]int{}}
	items := []accessv1alpha1.ElevationRequest{counted, fresh, notMine, single, own}
	out, approveFor, err := approvable(context.Background(), items, "bob", f.check)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, er := range out {
		names = append(names, er.Name)
	}
	if want := []string{"counted", "fresh", "single"}; !reflect.DeepEqual(names, want) {
		t.Errorf("listed %v, want %v", names, want)
	}
	wantFor := map[string][]accessv1alpha1.Target{
		"payments/counted": {billingAdmin},
		"payments/fresh":   {clusterAdmin, billingAdmin},
		"payments/single":  {clusterAdmin},
	}
	if !reflect.DeepEqual(approveFor, wantFor) {
		t.Errorf("approve for = %v, want %v", approveFor, wantFor)
	}
	for key, n := range f.asked {
		if n != 1 {
			t.Errorf("asked %d times about %s, want once", n, key)
		}
	}
	if want := 4; len(f.asked) != want { // prod-cluster, payments-db, billing-scim, hr-ldap
		t.Errorf("asked about %v, want %d connections", f.asked, want)
	}
}

func TestApprovableStopsAtTheFirstFailedReview(t *testing.T) {
	boom := errors.New("SelfSubjectAccessReview: connection refused")
	_, _, err := approvable(context.Background(), []accessv1alpha1.ElevationRequest{multiRequest("m", accessv1alpha1.PhasePending, "alice", "alice", 0)}, "bob",
		func(context.Context, string, string) (bool, error) { return false, boom })
	if !errors.Is(err, boom) {
		t.Errorf("approvable = %v, want %v", err, boom)
	}
}

// A status.targets that does not match spec.targets one for one is not
// read as theirs.
func TestTargetStatusesMustMatchTheSpec(t *testing.T) {
	er := multiRequest("m", accessv1alpha1.PhasePending, "alice", "alice", 0)
	er.Status.Targets = []accessv1alpha1.TargetStatus{
		targetStatus(dbWriter, accessv1alpha1.PhasePending, 1, 1),
		targetStatus(clusterAdmin, accessv1alpha1.PhasePending, 0, 1),
		targetStatus(billingAdmin, accessv1alpha1.PhasePending, 0, 1),
	}
	if got := targetStatuses(&er); got != nil {
		t.Errorf("targetStatuses of another order = %v, want nil", got)
	}
	if got := targetsAwaitingApprovals(&er); len(got) != 3 {
		t.Errorf("targets awaiting with an unmatched status = %v, want all three", got)
	}
}

func TestTimedOutOfSeveralTargetsSaysWhoseApproversAreAwaited(t *testing.T) {
	er := multiRequest("m", accessv1alpha1.PhasePending, "alice", "alice", 0)
	er.Status.Targets = []accessv1alpha1.TargetStatus{
		targetStatus(clusterAdmin, accessv1alpha1.PhasePending, 1, 1),
		targetStatus(dbWriter, accessv1alpha1.PhasePending, 0, 1),
		targetStatus(billingAdmin, accessv1alpha1.PhasePending, 1, 2),
	}
	want := "--timeout: 5m0s passed and m is still Pending: 1 of 3 targets have their approvals, waiting for approvers of payments-db, billing-scim; an approver runs: kubectl elevate approve m -n payments"
	if err := timedOut("m", 5*time.Minute, &er); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("timedOut = %v, want it to start with %q", err, want)
	}
	er.Status.Targets[1].Approvals, er.Status.Targets[2].Approvals = 1, 2
	if got, want := approvalProgress(&er), "3 of 3 targets have their approvals"; got != want {
		t.Errorf("approvalProgress with every target approved = %q, want %q", got, want)
	}
}

func TestFollowOnOfSeveralTargetsCarriesThem(t *testing.T) {
	orig := multiRequest("inc-1", accessv1alpha1.PhaseActive, "alice", "alice", 0)
	next, err := followOn(&orig, "45m", "needs longer")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(next.Spec.Targets, orig.Spec.Targets) || next.Spec.Connection != "" || next.Spec.Role != "" {
		t.Errorf("follow-on spec = %+v, want the targets %v and no connection or role", next.Spec, orig.Spec.Targets)
	}
	if next.GenerateName != "namespace-admin-plus2-" {
		t.Errorf("follow-on generateName = %q", next.GenerateName)
	}
	next.Spec.Targets[0].Role = "changed"
	if orig.Spec.Targets[0].Role != "namespace-admin" {
		t.Error("the follow-on shares its targets with the original")
	}
	orig.Status.Phase = accessv1alpha1.PhaseRevoked
	want := "ask anew with kubectl elevate request prod-cluster/namespace-admin payments-db/payments_rw billing-scim/billing-admins"
	if _, err := followOn(&orig, "45m", "x"); err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("followOn of a Revoked request = %v, want it to end %q", err, want)
	}
}

func TestTriggerScopeOfSeveralTargets(t *testing.T) {
	before := multiRequest("m", accessv1alpha1.PhasePending, "alice", "alice", 0)
	before.Annotations = map[string]string{accessv1alpha1.AnnotationApprovals: `[{"user":"carol","at":"2026-12-02T09:01:00Z","connections":["prod-cluster"]}]`}
	after := before.DeepCopy()
	after.Annotations = map[string]string{accessv1alpha1.AnnotationApprovals: `[{"user":"carol","at":"2026-12-02T09:01:00Z","connections":["prod-cluster"]},` +
		`{"user":"bob","at":"2026-12-02T09:02:00Z","connections":["billing-scim","prod-cluster"]}]`}
	cases := []struct {
		t             trigger
		before, after *accessv1alpha1.ElevationRequest
		want          string
	}{
		{approveTrigger, &before, after, " for 2 of its 3 targets (prod-cluster/namespace-admin, billing-scim/billing-admins: the connections you approve for); each target is approved once its role's approvals are met"},
		// No new record to read (the webhook is not there): say the rule.
		{approveTrigger, &before, &before, "; on a request with 3 targets an approval counts for the targets of the connections you approve for"},
		{denyTrigger, &before, &before, ": all 3 targets"},
		{revokeTrigger, &before, &before, ": all 3 targets, each removal verified on its own"},
	}
	for _, tc := range cases {
		if got := tc.t.scope(tc.before, tc.after); got != tc.want {
			t.Errorf("%s scope = %q, want %q", tc.t.verb, got, tc.want)
		}
	}
	single := request("s", accessv1alpha1.PhasePending, "alice", "alice", 0)
	for _, tr := range []trigger{approveTrigger, denyTrigger, revokeTrigger} {
		if got := tr.scope(&single, &single); got != "" {
			t.Errorf("%s scope of a single-target request = %q, want none", tr.verb, got)
		}
	}
}
