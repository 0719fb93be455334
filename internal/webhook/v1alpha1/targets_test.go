package v1alpha1

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/policy"
)

// Unit tests of requests with spec.targets (issue 18): the create policy per
// target, approvals per connection, deny, revoke and break-glass, and the
// pending timeout. The envtest suite checks the same against the real
// authorizer ("Multi-target requests").

// unitReader serves objs, and lists requests through the index the webhook
// set-up registers, as the manager's cache does.
func unitReader(t *testing.T, objs ...client.Object) client.Reader {
	t.Helper()
	s := runtime.NewScheme()
	if err := accessv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithIndex(&accessv1alpha1.ElevationRequest{}, subjectConnectionIndex, subjectConnectionKeys).Build()
}

// connectionApprovers answers from the connections each user may approve
// for; under "breakglass:" + a name, those the user may break the glass for.
type connectionApprovers map[string][]string

func (a connectionApprovers) MayApprove(_ context.Context, user authenticationv1.UserInfo, _, connection string) (bool, error) {
	return slices.Contains(a[user.Username], connection), nil
}

func (a connectionApprovers) MayBreakGlass(_ context.Context, user authenticationv1.UserInfo, _, connection string) (bool, error) {
	return slices.Contains(a[BreakGlassVerb+":"+user.Username], connection), nil
}

var multiAuthz = connectionApprovers{
	"anna": {"cluster"}, "abe": {"cluster", "pg"}, "carol": {"pg"}, "sam": {"cluster", "pg"},
	BreakGlassVerb + ":sam": {"cluster", "pg"},
}

// created is when the unit tests' requests were created.
var created = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

func unitConnections() []client.Object {
	root := role("root", "", 1)
	root.Kubernetes.ClusterRole = "cluster-admin"
	cluster := connection("cluster", "4h", role("admin", "1h", 1), role("viewer", "", 1), root)
	cluster.Spec.PendingTimeout = "3h"
	pg := connection("pg", "2h", role("rw", "", 1), role("ro", "", 1), role("self", "", 0))
	pg.Spec.Subjects.Pattern = `[a-z]+@example\.com`
	pg.Spec.PendingTimeout = "1h"
	return []client.Object{cluster, pg}
}

func targets(list ...string) []accessv1alpha1.Target {
	out := make([]accessv1alpha1.Target, 0, len(list))
	for _, s := range list {
		conn, r, _ := strings.Cut(s, "/")
		out = append(out, accessv1alpha1.Target{Connection: conn, Role: r})
	}
	return out
}

func multiRequest(list ...string) *accessv1alpha1.ElevationRequest {
	return &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "multi", Namespace: ns, UID: "uid-multi", CreationTimestamp: metav1.NewTime(created)},
		Spec: accessv1alpha1.ElevationRequestSpec{
			Subject: "sam@example.com", Targets: targets(list...), Duration: "30m", Justification: "INC-4711: roll back the billing config",
		},
	}
}

func TestCheckPolicyChecksEveryTarget(t *testing.T) {
	reader := unitReader(t, unitConnections()...)
	caps := RequestPolicy{MaxDuration: 8 * time.Hour, Grantable: policy.GrantableClusterRoles{"admin", "edit", "view"}}
	tooMany := make([]string, accessv1alpha1.MaxTargets+1)
	for i := range tooMany {
		tooMany[i] = "pg/r" + string(rune('a'+i))
	}
	grantRefusal := `role "root" cannot be granted: SaaSConnection "cluster" spec.roles[2].kubernetes.clusterRole: ClusterRole "cluster-admin" may not be handed out: the operator's --grantable-cluster-roles allows only admin, edit, view`
	cases := []struct {
		name     string
		req      *accessv1alpha1.ElevationRequest
		duration string
		subject  string
		caps     *RequestPolicy
		want     string
	}{
		{name: "every target within its policy", req: multiRequest("cluster/admin", "pg/rw", "pg/ro")},
		{name: "a role missing in one target", req: multiRequest("cluster/admin", "pg/rw", "pg/x"),
			want: `spec.targets[2].role: role "x" does not exist in SaaSConnection "pg" (roles: [rw ro self])`},
		{name: "a connection missing", req: multiRequest("cluster/admin", "nope/rw"),
			want: `spec.targets[1].connection: SaaSConnection "nope" not found in namespace "payments"`},
		{name: "the duration over one target's role cap", req: multiRequest("pg/rw", "cluster/admin"), duration: "90m",
			want: `spec.duration: 1h30m0s exceeds the maxDuration 1h0m0s of role "admin" (spec.targets[1]: cluster/admin)`},
		{name: "the duration over the smallest connection cap", req: multiRequest("cluster/viewer", "pg/rw"), duration: "3h",
			want: `spec.duration: 3h0m0s exceeds the connection's maxDuration 2h0m0s (spec.targets[1]: pg/rw)`},
		{name: "the duration at the smallest cap", req: multiRequest("cluster/viewer", "pg/rw"), duration: "2h"},
		{name: "a connection over the operator's cap", req: multiRequest("pg/rw", "cluster/admin"), caps: &RequestPolicy{MaxDuration: 3 * time.Hour, Grantable: caps.Grantable},
			want: `spec.targets[1].connection: the connection's maxDuration 4h0m0s exceeds the operator's --max-duration 3h0m0s`},
		{name: "the subject policy of one connection", req: multiRequest("cluster/admin", "pg/rw"), subject: "sam",
			want: `spec.subject: "sam" does not match the subject pattern "[a-z]+@example\\.com" of SaaSConnection "pg" (spec.subjects.pattern) (spec.targets[1]: pg/rw)`},
		{name: "a ClusterRole not grantable", req: multiRequest("pg/rw", "cluster/root"), want: "spec.targets[1].role: " + grantRefusal},
		{name: "a role needing no approval asked for someone else", req: multiRequest("cluster/admin", "pg/self"),
			want: `spec.subject: role "self" needs no approval, so only its subject may request it: user "rita" asked for "sam@example.com" (spec.targets[1]: pg/self)`},
		{name: "more targets than the limit", req: multiRequest(tooMany...),
			want: `spec.targets: 17 targets, the limit is 16: one request reaches at most 16 systems; split it into several requests`},
		{name: "a target twice", req: multiRequest("pg/rw", "cluster/admin", "pg/rw"),
			want: `spec.targets[2]: pg/rw is already spec.targets[0]; name each connection and role once`},
		{name: "a target without a role", req: multiRequest("pg/rw", "cluster/"), want: `spec.targets[1].role: must name a role of the connection, got ""`},
		{name: "both forms", req: func() *accessv1alpha1.ElevationRequest {
			r := multiRequest("pg/rw")
			r.Spec.Connection = "cluster"
			return r
		}(), want: `spec: give either connection and role, or targets, not both (connection "cluster", role "", 1 targets)`},
		{name: "one connection and a ClusterRole not grantable", req: func() *accessv1alpha1.ElevationRequest {
			r := multiRequest()
			r.Spec.Targets, r.Spec.Connection, r.Spec.Role = nil, "cluster", "root"
			return r
		}(), want: "spec.role: " + grantRefusal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, p := tc.req, caps
			if tc.duration != "" {
				req.Spec.Duration = tc.duration
			}
			if tc.subject != "" {
				req.Spec.Subject = tc.subject
			}
			if tc.caps != nil {
				p = *tc.caps
			}
			err := CheckPolicy(context.Background(), reader, req, "rita", p)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "":
			case err == nil:
				t.Fatalf("admitted; want %q", tc.want)
			case !isRejection(err) || err.Error() != tc.want:
				t.Fatalf("got %q (rejection: %v)\nwant %q", err, isRejection(err), tc.want)
			}
		})
	}
}

func TestOpenRequestsAreCountedOnEachConnectionOfTheTargets(t *testing.T) {
	onPG := multiRequest()
	onPG.Name, onPG.Spec.Targets, onPG.Spec.Connection, onPG.Spec.Role = "on-pg", nil, "pg", "rw"
	both := multiRequest("cluster/admin", "pg/ro")
	both.Name = "on-both"
	reader := unitReader(t, onPG, both)
	ctx := context.Background()

	next := multiRequest("cluster/admin", "pg/rw")
	next.Name = "next"
	err := checkOpenRequests(ctx, reader, next, 2)
	want := `spec.subject: "sam@example.com" already has 2 open requests on connection "pg" (on-both, on-pg), the limit is 2 (--max-open-requests-per-subject): wait for one to end or revoke one (spec.targets[1]: pg/rw)`
	if err == nil || !isRejection(err) || err.Error() != want {
		t.Fatalf("got %v\nwant %q", err, want)
	}
	onCluster := multiRequest()
	onCluster.Name, onCluster.Spec.Targets, onCluster.Spec.Connection, onCluster.Spec.Role = "on-cluster", nil, "cluster", "admin"
	if err := checkOpenRequests(ctx, reader, onCluster, 1); err == nil || !strings.Contains(err.Error(), `1 open requests on connection "cluster" (on-both)`) {
		t.Fatalf("a request with targets must count on each of its connections: %v", err)
	}
	if err := checkOpenRequests(ctx, reader, onCluster, 2); err != nil {
		t.Fatalf("under the cap: %v", err)
	}
}

func decideAs(authz Authorizer, er *accessv1alpha1.ElevationRequest, rec Records, user string, trig Trigger, at time.Time) (Decision, error) {
	return Decide(context.Background(), authz, er, rec, authenticationv1.UserInfo{Username: user}, trig, metav1.NewTime(at))
}

func TestApprovalsRecordTheConnectionsTheApproverMayApproveFor(t *testing.T) {
	approve := Trigger{Key: accessv1alpha1.AnnotationApprove, Value: "ok"}
	at := created.Add(time.Minute)
	cases := []struct {
		user string
		want []string
		err  string
	}{
		{user: "anna", want: []string{"cluster"}},
		{user: "carol", want: []string{"pg"}},
		{user: "abe", want: []string{"cluster", "pg"}},
		{user: "otto", err: `elevator.dev/approve: user "otto" is not an approver of any connection of this request: it needs RBAC verb "approve" on resource "saasconnections" (group access.elevator.dev) named one of "cluster", "pg" in namespace "payments"`},
		{user: "sam@example.com", err: `elevator.dev/approve: user "sam@example.com" is the subject of this request (spec.subject) and cannot approve it: self-approval is not allowed`},
		{user: "rita", err: `elevator.dev/approve: user "rita" created this request (requested-by) and cannot approve it: self-approval is not allowed`},
	}
	authz := maps.Clone(multiAuthz)
	authz["sam@example.com"], authz["rita"] = []string{"cluster", "pg"}, []string{"cluster", "pg"}
	for _, tc := range cases {
		t.Run(tc.user, func(t *testing.T) {
			er := multiRequest("pg/rw", "cluster/admin", "pg/ro")
			d, err := decideAs(authz, er, Records{RequestedBy: "rita"}, tc.user, approve, at)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got %v\nwant %q", err, tc.err)
				}
				return
			}
			if err != nil || len(d.Records.Approvals) != 1 {
				t.Fatalf("refused: %v (%+v)", err, d.Records)
			}
			if a := d.Records.Approvals[0]; a.User != tc.user || !slices.Equal(a.Connections, tc.want) || !a.At.Time.Equal(at) {
				t.Fatalf("approval %+v: want by %s for %v at %s", a, tc.user, tc.want, at)
			}
		})
	}
}

func TestApprovalsOfARequestWithOneConnectionNameNoConnection(t *testing.T) {
	er := multiRequest()
	er.Spec.Targets, er.Spec.Connection, er.Spec.Role = nil, "pg", "rw"
	d, err := decideAs(multiAuthz, er, Records{RequestedBy: "rita"}, "carol", Trigger{Key: accessv1alpha1.AnnotationApprove}, created)
	if err != nil || len(d.Records.Approvals) != 1 || d.Records.Approvals[0].Connections != nil {
		t.Fatalf("got %+v, %v; want carol's approval with no connections", d.Records.Approvals, err)
	}
	_, err = decideAs(multiAuthz, er, Records{RequestedBy: "rita"}, "anna", Trigger{Key: accessv1alpha1.AnnotationApprove}, created)
	want := `elevator.dev/approve: user "anna" is not an approver: it needs RBAC verb "approve" on resource "saasconnections" (group access.elevator.dev) named "pg" in namespace "payments"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %q", err, want)
	}
}

func TestARepeatedApprovalOfATargetRequestIsANoOp(t *testing.T) {
	er := multiRequest("cluster/admin", "pg/rw")
	first, err := decideAs(multiAuthz, er, Records{RequestedBy: "rita"}, "anna", Trigger{Key: accessv1alpha1.AnnotationApprove, Value: "first"}, created)
	if err != nil {
		t.Fatal(err)
	}
	again, err := decideAs(multiAuthz, er, first.Records, "anna", Trigger{Key: accessv1alpha1.AnnotationApprove, Value: "again"}, created.Add(time.Minute))
	if err != nil || !again.NoOp || !sameRecords(again.Records, first.Records) {
		t.Fatalf("repeat: NoOp=%v err=%v records %+v", again.NoOp, err, again.Records)
	}
}

func TestDenyRevokeAndBreakGlassOnARequestWithTargets(t *testing.T) {
	er := multiRequest("cluster/admin", "pg/rw")
	rec := Records{RequestedBy: "rita"}
	at := created.Add(time.Minute)
	if d, err := decideAs(multiAuthz, er, rec, "carol", Trigger{Key: accessv1alpha1.AnnotationDeny, Value: "no"}, at); err != nil || d.Records.Denial == nil || d.Records.Denial.User != "carol" {
		t.Errorf("deny by an approver of one target: %v, %+v", err, d.Records.Denial)
	}
	_, err := decideAs(multiAuthz, er, rec, "otto", Trigger{Key: accessv1alpha1.AnnotationDeny}, at)
	if err == nil || !strings.Contains(err.Error(), `elevator.dev/deny: user "otto" is not an approver of any connection of this request`) {
		t.Errorf("deny by an outsider: %v", err)
	}
	for _, user := range []string{"carol", "anna", "sam@example.com", "rita"} {
		if d, err := decideAs(multiAuthz, er, rec, user, Trigger{Key: accessv1alpha1.AnnotationRevoke}, at); err != nil || d.Records.Revocation.User != user {
			t.Errorf("revoke by %s: %v", user, err)
		}
	}
	_, err = decideAs(multiAuthz, er, rec, "otto", Trigger{Key: accessv1alpha1.AnnotationRevoke}, at)
	if err == nil || !strings.HasSuffix(err.Error(), `named one of "cluster", "pg" in namespace "payments"; the subject "sam@example.com" and the requester "rita" may also revoke`) {
		t.Errorf("revoke by an outsider: %v", err)
	}
	_, err = decideAs(multiAuthz, er, rec, "sam@example.com", Trigger{Key: accessv1alpha1.AnnotationBreakGlass, Value: "down"}, at)
	want := `elevator.dev/break-glass: break-glass is for a request with one connection, and this one has 2 targets (spec.targets); create one request per system (spec.connection and spec.role) to break the glass for it`
	if err == nil || err.Error() != want {
		t.Errorf("break-glass on targets: %v\nwant %q", err, want)
	}
}

// Issue 16: an approval admitted after the pending timeout, before the
// controller wrote Expired, looked as if it counted. It is refused; an
// approval admitted in time still counts.
func TestApprovalAfterThePendingTimeoutIsRefused(t *testing.T) {
	hourOfPG := Trigger{Key: accessv1alpha1.AnnotationApprove, PendingTimeout: time.Hour, PendingTimeoutOf: "pg"}
	single := multiRequest()
	single.Spec.Targets, single.Spec.Connection, single.Spec.Role = nil, "pg", "rw"
	late := `elevator.dev/approve: the request's pending timeout of 1h0m0s (spec.pendingTimeout of SaaSConnection "pg") has passed: created at 2026-06-01T10:00:00Z, it had to be approved before 2026-06-01T11:00:00Z; an approval after that does not count and the request expires without being granted: create a new request`
	cases := []struct {
		name  string
		phase accessv1alpha1.Phase
		after time.Duration
		want  string
	}{
		{name: "a second before the deadline", after: time.Hour - time.Second},
		{name: "at the deadline", after: time.Hour, want: late},
		{name: "after the deadline, not yet reconciled", phase: "", after: 2 * time.Hour, want: late},
		{name: "after the deadline, still Pending", phase: accessv1alpha1.PhasePending, after: 2 * time.Hour, want: late},
		{name: "after the deadline, already Active", phase: accessv1alpha1.PhaseActive, after: 2 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			er := single.DeepCopy()
			er.Status.Phase = tc.phase
			d, err := decideAs(multiAuthz, er, Records{RequestedBy: "rita"}, "carol", hourOfPG, created.Add(tc.after))
			if tc.want == "" {
				if err != nil || len(d.Records.Approvals) != 1 {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v\nwant %q", err, tc.want)
			}
		})
	}
	inTime, err := decideAs(multiAuthz, single, Records{RequestedBy: "rita"}, "carol", hourOfPG, created.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if again, err := decideAs(multiAuthz, single, inTime.Records, "carol", hourOfPG, created.Add(2*time.Hour)); err != nil || !again.NoOp {
		t.Fatalf("a repeat of an approval admitted in time must stay a no-op after the deadline: %v", err)
	}
	glass := Trigger{Key: accessv1alpha1.AnnotationBreakGlass, PendingTimeout: time.Hour, PendingTimeoutOf: "pg", Role: breakGlassRole()}
	single.Spec.Justification = longEnough
	if _, err := decideAs(multiAuthz, single, Records{RequestedBy: "sam@example.com"}, "sam@example.com", glass, created.Add(time.Hour)); err == nil ||
		!strings.HasPrefix(err.Error(), `elevator.dev/break-glass: the request's pending timeout of 1h0m0s`) {
		t.Fatalf("break-glass after the deadline: %v", err)
	}
}

// signedFor signs rec for er with the unit tests' key.
func signedFor(t *testing.T, er *accessv1alpha1.ElevationRequest, rec Records) map[string]string {
	t.Helper()
	ann, err := unitSigner.Encode(er, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ann
}

// The mutating and the validating webhook read the connections' pending
// timeouts themselves: pg's 1h is the smallest of the request's.
func TestTheWebhooksRefuseAnApprovalAfterTheSmallestPendingTimeout(t *testing.T) {
	reader := unitReader(t, unitConnections()...)
	stored := multiRequest("cluster/admin", "pg/rw")
	stored.Annotations = signedFor(t, stored, Records{RequestedBy: "rita"})
	want := `elevator.dev/approve: the request's pending timeout of 1h0m0s (spec.pendingTimeout of SaaSConnection "pg", the smallest among the request's connections) has passed: created at 2026-06-01T10:00:00Z, it had to be approved before 2026-06-01T11:00:00Z`
	for _, now := range []time.Time{created.Add(30 * time.Minute), created.Add(90 * time.Minute)} {
		clock := func() time.Time { return now }
		m := &Mutator{Authorizer: multiAuthz, Signer: unitSigner, Reader: reader, Now: clock}
		v := &Validator{Authorizer: multiAuthz, Signer: unitSigner, Reader: reader, Now: clock}
		sent := stored.DeepCopy()
		sent.Annotations[accessv1alpha1.AnnotationApprove] = "ok"
		resp := m.Handle(context.Background(), updateRequest(t, "anna", stored, sent))
		if now.Before(created.Add(time.Hour)) {
			if !resp.Allowed || len(resp.Patches) != 1 {
				t.Fatalf("in time: allowed=%v result=%v", resp.Allowed, resp.Result)
			}
			written := stored.DeepCopy()
			written.Annotations = resp.Patches[0].Value.(map[string]string)
			if resp = v.Handle(context.Background(), updateRequest(t, "anna", stored, written)); !resp.Allowed {
				t.Fatalf("the validator refused the mutator's approval in time: %s", resp.Result.Message)
			}
			continue
		}
		if resp.Allowed || !strings.HasPrefix(resp.Result.Message, want) {
			t.Fatalf("mutator after the deadline: allowed=%v message %q\nwant prefix %q", resp.Allowed, resp.Result.Message, want)
		}
		late := stored.DeepCopy()
		late.Annotations = signedFor(t, stored, Records{RequestedBy: "rita", Approvals: []accessv1alpha1.ApprovalRecord{
			{User: "anna", At: metav1.NewTime(now), Connections: []string{"cluster"}}}})
		if resp = v.Handle(context.Background(), updateRequest(t, "anna", stored, late)); resp.Allowed || !strings.HasPrefix(resp.Result.Message, want) {
			t.Fatalf("validator after the deadline: allowed=%v message %q", resp.Allowed, resp.Result.Message)
		}
	}
}

// An approval record claiming a connection its approver may not approve for
// is refused even when signed with the operator's key.
func TestValidatorRefusesAnApprovalClaimingAConnectionItsApproverDoesNotHold(t *testing.T) {
	stored := multiRequest("cluster/admin", "pg/rw")
	stored.Annotations = signedFor(t, stored, Records{RequestedBy: "rita"})
	v := &Validator{Authorizer: multiAuthz, Signer: unitSigner, Reader: unitReader(t, unitConnections()...), Now: func() time.Time { return created.Add(time.Minute) }}
	claimed := stored.DeepCopy()
	claimed.Annotations = signedFor(t, stored, Records{RequestedBy: "rita", Approvals: []accessv1alpha1.ApprovalRecord{
		{User: "anna", At: metav1.NewTime(created.Add(time.Minute)), Connections: []string{"cluster", "pg"}}}})
	resp := v.Handle(context.Background(), updateRequest(t, "anna", stored, claimed))
	if resp.Allowed || !strings.Contains(resp.Result.Message, `the records changed in a way no elevator.dev/approve by user "anna" explains`) {
		t.Fatalf("allowed=%v message %q", resp.Allowed, resp.Result.Message)
	}
}
