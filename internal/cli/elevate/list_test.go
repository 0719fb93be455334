package elevate

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func request(name string, phase accessv1alpha1.Phase, subject, requester string, created time.Duration) accessv1alpha1.ElevationRequest {
	return accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: name, CreationTimestamp: at(created)},
		Spec:       accessv1alpha1.ElevationRequestSpec{Subject: subject, Connection: "prod-cluster", Role: "namespace-admin", Duration: "30m"},
		Status:     accessv1alpha1.ElevationRequestStatus{Phase: phase, RequestedBy: requester},
	}
}

func TestRenderListColumnsAndTimeLeft(t *testing.T) {
	active := request("active", accessv1alpha1.PhaseActive, "alice", "alice", 10*time.Minute)
	active.Status.ExpiresAt = milliAt(70 * time.Minute)
	pending := request("pending", accessv1alpha1.PhasePending, "bob", "bob", 55*time.Minute)
	revoked := request("revoked", accessv1alpha1.PhaseRevoked, "carol", "carol", 0)
	revoked.Status.ExpiresAt, revoked.Status.RevokedAt = milliAt(30*time.Minute), milliAt(30*time.Minute)
	fresh := request("fresh", "", "dave", "", 59*time.Minute)

	var out bytes.Buffer
	items := []accessv1alpha1.ElevationRequest{active, pending, revoked, fresh}
	if err := renderList(&out, listView{items: items}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := `NAME      PHASE     SUBJECT   TARGET                         EXPIRES/TIME LEFT   AGE
revoked   Revoked   carol     prod-cluster/namespace-admin   ended 30m ago       60m
active    Active    alice     prod-cluster/namespace-admin   10m left            50m
pending   Pending   bob       prod-cluster/namespace-admin   -                   5m
fresh     -         dave      prod-cluster/namespace-admin   -                   60s
`
	if got := out.String(); got != want {
		t.Errorf("ls:\n%s\nwant:\n%s", got, want)
	}

	out.Reset()
	if err := renderList(&out, listView{items: items[:1], withNamespace: true}, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(out.String(), "\n"); !strings.HasPrefix(lines[0], "NAMESPACE   NAME") || !strings.HasPrefix(lines[1], "payments    active ") {
		t.Errorf("ls -A:\n%s", out.String())
	}

	out.Reset()
	if err := renderList(&out, listView{}, t0); err != nil || out.String() != "No elevation requests found.\n" {
		t.Errorf("ls of nothing = %q, %v", out.String(), err)
	}
}

func TestWhatAwaitsWhoseApproval(t *testing.T) {
	pending := request("p", accessv1alpha1.PhasePending, "alice", "ci-bot", 0)
	approvedByBob := request("q", accessv1alpha1.PhasePending, "alice", "alice", 0)
	approvedByBob.Status.Approvals = []accessv1alpha1.ApprovalRecord{{User: "bob", At: at(time.Minute)}}
	active := request("r", accessv1alpha1.PhaseActive, "alice", "alice", 0)
	noStatusYet := request("s", "", "alice", "", 0)
	noStatusYet.Annotations = map[string]string{accessv1alpha1.AnnotationRequestedBy: "erin"}

	cases := []struct {
		er        accessv1alpha1.ElevationRequest
		user      string
		awaits    bool
		involvesU bool
	}{
		{pending, "bob", true, false},
		{pending, "Alice", false, true},  // the subject, compared as the webhook does
		{pending, "ci-bot", false, true}, // the requester
		{approvedByBob, "bob", false, false},
		{approvedByBob, "carol", true, false},
		{active, "bob", false, false},
		{noStatusYet, "erin", false, true}, // requester from the webhook's record
	}
	for _, tc := range cases {
		if got := awaitsApprovalFrom(&tc.er, tc.user); got != tc.awaits {
			t.Errorf("awaitsApprovalFrom(%s, %s) = %v, want %v", tc.er.Name, tc.user, got, tc.awaits)
		}
		if got := involves(&tc.er, tc.user); got != tc.involvesU {
			t.Errorf("involves(%s, %s) = %v, want %v", tc.er.Name, tc.user, got, tc.involvesU)
		}
	}
}

func TestOutcomeOfWaiting(t *testing.T) {
	denied := request("d", accessv1alpha1.PhaseDenied, "alice", "alice", 0)
	denied.Status.Denial = &accessv1alpha1.DenialRecord{User: "bob", Reason: "not during the freeze"}
	expired := request("e", accessv1alpha1.PhaseExpired, "alice", "alice", 0)
	expired.Status.Message = "not approved within the pending timeout of 10s"
	failed := request("f", accessv1alpha1.PhaseFailed, "alice", "alice", 0)
	cases := []struct {
		er      accessv1alpha1.ElevationRequest
		done    bool
		wantErr string
	}{
		{request("a", accessv1alpha1.PhaseActive, "alice", "alice", 0), true, ""},
		{request("p", accessv1alpha1.PhasePending, "alice", "alice", 0), false, ""},
		{request("g", accessv1alpha1.PhaseApproved, "alice", "alice", 0), false, ""},
		{request("n", "", "alice", "alice", 0), false, ""},
		{denied, true, "d was denied by bob: not during the freeze"},
		{expired, true, "e is Expired: not approved within the pending timeout of 10s"},
		{failed, true, "f is Failed: (no reason given)"},
	}
	for _, tc := range cases {
		done, err := outcome(&tc.er)
		if done != tc.done || (tc.wantErr == "") != (err == nil) || (err != nil && err.Error() != tc.wantErr) {
			t.Errorf("outcome(%s) = %v, %v; want %v, %q", tc.er.Name, done, err, tc.done, tc.wantErr)
		}
	}
}

func TestTimedOutSaysWhatIsMissing(t *testing.T) {
	er := request("p", accessv1alpha1.PhasePending, "alice", "alice", 0)
	er.Status.RequiredApprovals = 2
	er.Status.Approvals = []accessv1alpha1.ApprovalRecord{{User: "bob"}}
	err := timedOut("p", 5*time.Minute, &er)
	want := "--timeout: 5m0s passed and p is still Pending: 1 of 2 approvals; an approver runs: kubectl elevate approve p -n payments"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("timedOut = %v, want it to start with %q", err, want)
	}
}

func TestActiveLine(t *testing.T) {
	er := request("a", accessv1alpha1.PhaseActive, "alice", "alice", 0)
	er.Status.ExpiresAt = milliAt(30 * time.Minute)
	if got, want := activeLine(&er, t0.Add(10*time.Minute)), "a is Active: expiresAt 2026-12-02T09:30:00Z (20m left)"; got != want {
		t.Errorf("activeLine = %q, want %q", got, want)
	}
}

func TestFollowOn(t *testing.T) {
	orig := request("inc-1", accessv1alpha1.PhaseActive, "alice", "alice", 0)
	orig.Spec.Ticket = "INC-1"
	next, err := followOn(&orig, "45m", "needs longer")
	if err != nil {
		t.Fatal(err)
	}
	if next.Annotations[accessv1alpha1.AnnotationExtends] != "inc-1" || next.Namespace != "payments" || next.GenerateName != "namespace-admin-" {
		t.Errorf("follow-on metadata = %+v", next.ObjectMeta)
	}
	want := accessv1alpha1.ElevationRequestSpec{Subject: "alice", Connection: "prod-cluster", Role: "namespace-admin", Duration: "45m", Justification: "needs longer", Ticket: "INC-1"}
	if !reflect.DeepEqual(next.Spec, want) {
		t.Errorf("follow-on spec = %+v, want %+v", next.Spec, want)
	}
	for _, phase := range []accessv1alpha1.Phase{accessv1alpha1.PhaseRevoked, accessv1alpha1.PhaseRevoking, accessv1alpha1.PhaseDenied, accessv1alpha1.PhaseExpired} {
		ended := request("inc-1", phase, "alice", "alice", 0)
		if _, err := followOn(&ended, "45m", "x"); err == nil || !strings.Contains(err.Error(), "no access left to keep") {
			t.Errorf("followOn of a %s request: %v", phase, err)
		}
	}
}

func TestTriggerPatchIsWhatKubectlAnnotateSends(t *testing.T) {
	body, err := approveTrigger.patch(`ok "quoted"`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(body), `{"metadata":{"annotations":{"elevator.dev/approve":"ok \"quoted\""}}}`; got != want {
		t.Errorf("approve patch = %s, want %s", got, want)
	}
	if body, err := revokeTrigger.patch(""); err != nil || string(body) != `{"metadata":{"annotations":{"elevator.dev/revoke":""}}}` {
		t.Errorf("revoke with no reason = %s, %v", body, err)
	}
	if _, err := denyTrigger.patch(""); err == nil || !strings.HasPrefix(err.Error(), "--reason: required") {
		t.Errorf("deny with no reason: %v", err)
	}
	if _, err := approveTrigger.patch(strings.Repeat("x", accessv1alpha1.MaxRecordText+1)); err == nil || !strings.HasPrefix(err.Error(), "--comment: must be valid UTF-8 of at most 1024 bytes") {
		t.Errorf("approve with a long comment: %v", err)
	}
}

func TestExplainShowsTheWebhooksRefusal(t *testing.T) {
	refusal := apierrors.NewForbidden(schema.GroupResource{Group: "access.elevator.dev", Resource: "elevationrequests"}, "p",
		errors.New(`admission webhook "melevationrequest.access.elevator.dev" denied the request: elevator.dev/approve: user "erin" is the subject of this request`))
	// What the API server sends for a webhook's denial: the message alone.
	webhook := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden,
		Message: `admission webhook "melevationrequest.access.elevator.dev" denied the request: elevator.dev/approve: user "erin" is the subject of this request`}}
	for _, err := range []error{refusal, webhook} {
		got := explain("approve payments/p", err).Error()
		if want := `approve payments/p: refused by the elevator admission webhook: elevator.dev/approve: user "erin" is the subject of this request`; got != want {
			t.Errorf("explain = %q, want %q", got, want)
		}
	}
	rbac := apierrors.NewForbidden(schema.GroupResource{Group: "access.elevator.dev", Resource: "elevationrequests"}, "p", errors.New("RBAC: no"))
	if got := explain("approve payments/p", rbac); !strings.HasPrefix(got.Error(), "approve payments/p: forbidden by the API server's RBAC: ") || !apierrors.IsForbidden(got) {
		t.Errorf("explain(RBAC) = %v", got)
	}
	other := fmt.Errorf("connection refused")
	if got := explain("x", other); !errors.Is(got, other) {
		t.Errorf("explain does not wrap %v", other)
	}
}
