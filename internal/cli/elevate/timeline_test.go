package elevate

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }
func atp(d time.Duration) *metav1.Time {
	t := at(d)
	return &t
}
func milliAt(d time.Duration) *accessv1alpha1.MilliTime {
	return accessv1alpha1.NewMilliTime(t0.Add(d))
}

// revokedRequest is a request approved by two approvers, granted, revoked
// early by its subject, verified gone, with a residual path made while
// elevated and a complete activity record.
func revokedRequest() *accessv1alpha1.ElevationRequest {
	return &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "payments", Name: "inc-4711-alice", CreationTimestamp: at(0),
			Annotations: map[string]string{
				accessv1alpha1.AnnotationRevocation: `{"user":"alice","at":"2026-12-02T09:20:00Z","reason":"done early"}`,
			},
		},
		Spec: accessv1alpha1.ElevationRequestSpec{
			Subject: "alice", Connection: "prod-cluster", Role: "namespace-admin", Duration: "30m",
			Justification: "INC-4711: roll back the billing config", Ticket: "INC-4711",
		},
		Status: accessv1alpha1.ElevationRequestStatus{
			Phase: accessv1alpha1.PhaseRevoked, RequestedBy: "alice", RequiredApprovals: 2,
			Approvals: []accessv1alpha1.ApprovalRecord{
				{User: "bob", At: at(2 * time.Minute), Comment: "looks right"},
				{User: "carol", At: at(3 * time.Minute)},
			},
			ApprovedAt: atp(3 * time.Minute), ExpiresAt: milliAt(33*time.Minute + time.Second),
			// The controller stores revokedAt to the millisecond and verifiedAt
			// to the second: the same instant, one line.
			RevokedAt: milliAt(20*time.Minute + 2*time.Second + 345*time.Millisecond),
			Message:   "access removed (EarlyRevoke) and verified gone at 2026-12-02T09:20:02Z",
			TargetState: accessv1alpha1.TargetState{GrantedAt: atp(3*time.Minute + time.Second), Revocation: &accessv1alpha1.Revocation{
				Reason: "EarlyRevoke", RequestedBy: "alice", StartedAt: atp(20*time.Minute + time.Second),
				VerifiedAt: atp(20*time.Minute + 2*time.Second), Method: "SubjectAccessReview",
				Detail: "RoleBinding payments/elevator-inc-4711-alice gone; alice may not delete deployments",
			},
				ResidualAccess: []accessv1alpha1.ResidualAccessPath{{
					Name: "RoleBinding payments/backdoor", CreatedAt: atp(10 * time.Minute), InsideWindow: true,
					MadeWhileElevated: "create RoleBinding payments/backdoor",
				}},
				Activity: &accessv1alpha1.Activity{
					State: accessv1alpha1.ActivityComplete, Source: "kube-apiserver audit webhook",
					Counts: accessv1alpha1.ActivityCounts{Total: 3, Config: 1, Access: 1, Data: 1, Denied: 1},
					AccessChanges: []accessv1alpha1.ActivityAction{{
						At: metav1.NewMicroTime(t0.Add(10 * time.Minute)), ID: "a2", Category: accessv1alpha1.ActivityAccess,
						Action: "create", Object: "RoleBinding payments/backdoor",
					}},
					Recent: []accessv1alpha1.ActivityAction{
						{At: metav1.NewMicroTime(t0.Add(5 * time.Minute)), ID: "a1", Category: accessv1alpha1.ActivityConfig, Action: "update", Object: "ConfigMap payments/billing"},
						{At: metav1.NewMicroTime(t0.Add(12 * time.Minute)), ID: "a3", Category: accessv1alpha1.ActivityData, Action: "delete", Object: "Secret payments/db", Denied: true},
					},
				}},
		},
	}
}

func TestRenderStatusOfARevokedRequest(t *testing.T) {
	var out bytes.Buffer
	if err := renderStatus(&out, revokedRequest(), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := `Request:       payments/inc-4711-alice
Phase:         Revoked
Subject:       alice
Access:        prod-cluster/namespace-admin for 30m
Justification: INC-4711: roll back the billing config
Ticket:        INC-4711
Requested by:  alice
Expires at:    2026-12-02T09:33:01Z (ended early)
Message:       access removed (EarlyRevoke) and verified gone at 2026-12-02T09:20:02Z

Timeline:
  2026-12-02T09:00:00Z  requested by alice
  2026-12-02T09:02:00Z  approved by bob: "looks right"
  2026-12-02T09:03:00Z  approved by carol
  2026-12-02T09:03:00Z  approved: 2 of 2 approvals
  2026-12-02T09:03:01Z  granted for 30m
  2026-12-02T09:20:01Z  revoked early by alice: "done early"; revocation started
  2026-12-02T09:20:02Z  access verified gone (SubjectAccessReview); ended Revoked

Revocation:
  Reason:       EarlyRevoke
  Verified at:  2026-12-02T09:20:02Z
  Method:       SubjectAccessReview
  Detail:       RoleBinding payments/elevator-inc-4711-alice gone; alice may not delete deployments

Residual access (the subject still holds the role's access by these paths):
  RoleBinding payments/backdoor, created 2026-12-02T09:10:00Z, INSIDE the window, made while elevated by create RoleBinding payments/backdoor

Activity: Complete (from kube-apiserver audit webhook)
  3 actions: 1 config, 1 access, 1 data, 0 other; 1 denied, 0 not via the elevation, 0 dropped
  Access changes:
    2026-12-02T09:10:00Z  Access create RoleBinding payments/backdoor
  Recent:
    2026-12-02T09:05:00Z  Config update ConfigMap payments/billing
    2026-12-02T09:12:00Z  Data   delete Secret payments/db (denied)
`
	if got := out.String(); got != want {
		t.Errorf("status of a revoked request:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderStatusOfAnActiveRequestShowsTimeLeft(t *testing.T) {
	er := revokedRequest()
	er.Status.Phase = accessv1alpha1.PhaseActive
	er.Status.RevokedAt, er.Status.Revocation, er.Status.ResidualAccess, er.Status.Activity = nil, nil, nil, nil
	var out bytes.Buffer
	if err := renderStatus(&out, er, t0.Add(20*time.Minute+time.Second)); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"Phase:         Active\n", "Expires at:    2026-12-02T09:33:01Z (13m left)\n", "  2026-12-02T09:03:01Z  granted for 30m\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %q:\n%s", want, got)
		}
	}
	for _, absent := range []string{"Revocation:", "Residual access", "Activity:", "revoked early"} {
		if strings.Contains(got, absent) {
			t.Errorf("status of an Active request shows %q:\n%s", absent, got)
		}
	}
}

func TestRenderStatusOfAPendingRequestSaysWhatItWaitsFor(t *testing.T) {
	er := revokedRequest()
	er.Annotations = nil
	er.Status = accessv1alpha1.ElevationRequestStatus{
		Phase: accessv1alpha1.PhasePending, RequestedBy: "alice", RequiredApprovals: 2,
		Approvals: []accessv1alpha1.ApprovalRecord{{User: "bob", At: at(2 * time.Minute)}},
	}
	var out bytes.Buffer
	if err := renderStatus(&out, er, t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	want := "Requested by:  alice\nApprovals:     1 of 2; an approver runs: kubectl elevate approve inc-4711-alice -n payments\n\nTimeline:\n" +
		"  2026-12-02T09:00:00Z  requested by alice\n  2026-12-02T09:02:00Z  approved by bob\n"
	if got := out.String(); !strings.HasSuffix(got, want) {
		t.Errorf("status of a pending request:\n%s\nwant it to end with:\n%s", got, want)
	}
}

// A window that ran out is not "ended early", even when the expiry lead
// started its revocation a moment before expiresAt.
func TestRenderStatusOfAnExpiredWindow(t *testing.T) {
	er := revokedRequest()
	er.Annotations = nil
	er.Status.Revocation.Reason, er.Status.Revocation.RequestedBy = accessv1alpha1.RevocationExpired, ""
	er.Status.Revocation.StartedAt, er.Status.RevokedAt = atp(33*time.Minute), milliAt(33*time.Minute)
	er.Status.Revocation.VerifiedAt = atp(33 * time.Minute)
	var out bytes.Buffer
	if err := renderStatus(&out, er, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"Expires at:    2026-12-02T09:33:01Z\n", "  2026-12-02T09:33:00Z  revocation started (Expired)\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %q:\n%s", want, got)
		}
	}
}

// A revocation reason typed into the record by someone other than the user
// the operator recorded is not shown as that user's.
func TestRenderStatusIgnoresARevocationRecordOfAnotherUser(t *testing.T) {
	er := revokedRequest()
	er.Annotations[accessv1alpha1.AnnotationRevocation] = `{"user":"mallory","at":"2026-12-02T09:20:00Z","reason":"forged"}`
	var out bytes.Buffer
	if err := renderStatus(&out, er, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Contains(got, "forged") || !strings.Contains(got, "revoked early by alice; revocation started") {
		t.Errorf("status shows another user's reason:\n%s", got)
	}
}

func TestRenderStatusOfADeniedRequest(t *testing.T) {
	er := revokedRequest()
	er.Annotations = nil
	er.Status = accessv1alpha1.ElevationRequestStatus{
		Phase: accessv1alpha1.PhaseDenied, RequestedBy: "alice",
		Denial: &accessv1alpha1.DenialRecord{User: "bob", At: at(time.Minute), Reason: "not during the freeze"},
	}
	var out bytes.Buffer
	if err := renderStatus(&out, er, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "  2026-12-02T09:01:00Z  denied by bob: \"not during the freeze\"\n") || strings.Contains(out.String(), "Expires at") {
		t.Errorf("status of a denied request:\n%s", out.String())
	}
}

// An activity record the target cannot give says so, with no counts that
// would read as "did nothing".
func TestRenderStatusOfUnavailableActivity(t *testing.T) {
	er := revokedRequest()
	er.Status.Activity = &accessv1alpha1.Activity{State: accessv1alpha1.ActivityUnavailable, Reason: accessv1alpha1.ReasonNoActivitySource,
		Message: "the kubernetes provider keeps no audit log Elevator can read"}
	var out bytes.Buffer
	if err := renderStatus(&out, er, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !strings.HasSuffix(got, "\nActivity: Unavailable\n  the kubernetes provider keeps no audit log Elevator can read\n") || strings.Contains(got, "actions:") {
		t.Errorf("status with unavailable activity:\n%s", got)
	}
}

func TestPrintObjectAsJSONAndYAML(t *testing.T) {
	er := revokedRequest()
	er.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	for _, format := range []string{"json", "yaml"} {
		var out bytes.Buffer
		if err := printObject(&out, er, format); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		for _, want := range []string{"access.elevator.dev/v1alpha1", "ElevationRequest", "inc-4711-alice", "SubjectAccessReview"} {
			if !strings.Contains(got, want) {
				t.Errorf("-o %s lacks %q:\n%s", format, want, got)
			}
		}
		if strings.Contains(got, "managedFields") {
			t.Errorf("-o %s shows managedFields", format)
		}
	}
	if er.Kind != "" {
		t.Error("printObject changed the request it printed")
	}
}
