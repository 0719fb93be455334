package elevate

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// revokedMultiRequest asks for the cluster and the database for 30m: bob
// approves for both connections, carol for the cluster only; both targets
// are granted, expire, and are verified gone; the cluster target leaves a
// residual binding made while elevated.
func revokedMultiRequest() *accessv1alpha1.ElevationRequest {
	er := revokedRequest()
	er.Annotations = nil
	er.Spec.Connection, er.Spec.Role = "", ""
	er.Spec.Targets = []accessv1alpha1.Target{clusterAdmin, dbWriter}
	cluster := revokedRequest().Status.TargetState
	cluster.Revocation.Reason, cluster.Revocation.RequestedBy = accessv1alpha1.RevocationExpired, ""
	cluster.Revocation.StartedAt, cluster.Revocation.VerifiedAt = atp(33*time.Minute+time.Second), atp(33*time.Minute+2*time.Second)
	db := accessv1alpha1.TargetState{
		GrantedAt: atp(3*time.Minute + 2*time.Second),
		Revocation: &accessv1alpha1.Revocation{
			Reason: accessv1alpha1.RevocationExpired, StartedAt: atp(33*time.Minute + time.Second), VerifiedAt: atp(33*time.Minute + 3*time.Second),
			Method: "pg_has_role", Detail: `pg_has_role('alice', 'payments_rw', 'MEMBER') = false`,
		},
		Activity: &accessv1alpha1.Activity{State: accessv1alpha1.ActivityPartial, Source: "pgaudit jsonlog",
			Message: "2 lines could not be read", Counts: accessv1alpha1.ActivityCounts{Total: 4, Data: 4}},
	}
	er.Status = accessv1alpha1.ElevationRequestStatus{
		Phase: accessv1alpha1.PhaseRevoked, RequestedBy: "alice", RequiredApprovals: 2,
		Approvals: []accessv1alpha1.ApprovalRecord{
			{User: "bob", At: at(2 * time.Minute), Comment: "looks right", Connections: []string{"payments-db", "prod-cluster"}},
			{User: "carol", At: at(3 * time.Minute), Connections: []string{"prod-cluster"}},
		},
		ApprovedAt: atp(3 * time.Minute), ExpiresAt: milliAt(33*time.Minute + time.Second),
		RevokedAt: milliAt(33*time.Minute + 3*time.Second),
		Message:   "access to 2 targets removed (Expired) and verified gone at 2026-12-02T09:33:03Z",
		TargetState: accessv1alpha1.TargetState{GrantedAt: atp(3*time.Minute + 2*time.Second), Revocation: &accessv1alpha1.Revocation{
			Reason: accessv1alpha1.RevocationExpired, StartedAt: atp(33*time.Minute + time.Second), VerifiedAt: atp(33*time.Minute + 3*time.Second),
		}},
		Targets: []accessv1alpha1.TargetStatus{
			{Connection: clusterAdmin.Connection, Role: clusterAdmin.Role, Phase: accessv1alpha1.PhaseRevoked, RequiredApprovals: 2, Approvals: 2, TargetState: cluster},
			{Connection: dbWriter.Connection, Role: dbWriter.Role, Phase: accessv1alpha1.PhaseRevoked, RequiredApprovals: 1, Approvals: 1, TargetState: db},
		},
		Target: "prod-cluster/namespace-admin +1", TargetList: "prod-cluster/namespace-admin,payments-db/payments_rw",
	}
	return er
}

func TestRenderStatusOfARevokedMultiTargetRequest(t *testing.T) {
	var out bytes.Buffer
	if err := renderStatus(&out, revokedMultiRequest(), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	want := `Request:       payments/inc-4711-alice
Phase:         Revoked
Subject:       alice
Access:        2 targets for 30m (see Targets below)
Justification: INC-4711: roll back the billing config
Ticket:        INC-4711
Requested by:  alice
Expires at:    2026-12-02T09:33:01Z
Message:       access to 2 targets removed (Expired) and verified gone at 2026-12-02T09:33:03Z

Timeline:
  2026-12-02T09:00:00Z  requested by alice
  2026-12-02T09:02:00Z  approved by bob for payments-db, prod-cluster: "looks right"
  2026-12-02T09:03:00Z  approved by carol for prod-cluster
  2026-12-02T09:03:00Z  approved: every target has its approvals
  2026-12-02T09:03:01Z  prod-cluster/namespace-admin granted
  2026-12-02T09:03:02Z  payments-db/payments_rw granted
  2026-12-02T09:03:02Z  all 2 targets granted, for 30m
  2026-12-02T09:33:01Z  revocation started (Expired)
  2026-12-02T09:33:02Z  prod-cluster/namespace-admin verified gone (SubjectAccessReview)
  2026-12-02T09:33:03Z  payments-db/payments_rw verified gone (pg_has_role)
  2026-12-02T09:33:03Z  access verified gone on all 2 targets; ended Revoked

Revocation (of all targets; each target's below):
  Reason:       Expired
  Verified at:  2026-12-02T09:33:03Z

Targets:
  prod-cluster/namespace-admin: Revoked
    Approvals:    2 of 2
    Granted at:   2026-12-02T09:03:01Z
    Revocation:   Expired, verified gone at 2026-12-02T09:33:02Z
    Method:       SubjectAccessReview
    Detail:       RoleBinding payments/elevator-inc-4711-alice gone; alice may not delete deployments
    Residual access (the subject still holds the role's access by these paths):
      RoleBinding payments/backdoor, created 2026-12-02T09:10:00Z, INSIDE the window, made while elevated by create RoleBinding payments/backdoor
    Activity: Complete (from kube-apiserver audit webhook)
      3 actions: 1 config, 1 access, 1 data, 0 other; 1 denied, 0 not via the elevation, 0 dropped
      Access changes:
        2026-12-02T09:10:00Z  Access create RoleBinding payments/backdoor
  payments-db/payments_rw: Revoked
    Approvals:    1 of 1
    Granted at:   2026-12-02T09:03:02Z
    Revocation:   Expired, verified gone at 2026-12-02T09:33:03Z
    Method:       pg_has_role
    Detail:       pg_has_role('alice', 'payments_rw', 'MEMBER') = false
    Activity: Partial (from pgaudit jsonlog)
      2 lines could not be read
      4 actions: 0 config, 0 access, 4 data, 0 other; 0 denied, 0 not via the elevation, 0 dropped
`
	if got := out.String(); got != want {
		t.Errorf("status of a revoked multi-target request:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderStatusOfAPendingMultiTargetRequest(t *testing.T) {
	er := revokedMultiRequest()
	er.Status = accessv1alpha1.ElevationRequestStatus{
		Phase: accessv1alpha1.PhasePending, RequestedBy: "alice", RequiredApprovals: 2,
		Approvals: []accessv1alpha1.ApprovalRecord{{User: "carol", At: at(time.Minute), Connections: []string{"prod-cluster"}}},
		Targets: []accessv1alpha1.TargetStatus{
			targetStatus(clusterAdmin, accessv1alpha1.PhasePending, 1, 2),
			targetStatus(dbWriter, accessv1alpha1.PhasePending, 0, 1),
		},
	}
	var out bytes.Buffer
	if err := renderStatus(&out, er, t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	want := "Requested by:  alice\n" +
		"Approvals:     0 of 2 targets have their approvals, waiting for approvers of prod-cluster, payments-db; an approver runs: kubectl elevate approve inc-4711-alice -n payments\n" +
		"\nTimeline:\n" +
		"  2026-12-02T09:00:00Z  requested by alice\n" +
		"  2026-12-02T09:01:00Z  approved by carol for prod-cluster\n" +
		"\nTargets:\n" +
		"  prod-cluster/namespace-admin: Pending\n    Approvals:    1 of 2\n" +
		"  payments-db/payments_rw: Pending\n    Approvals:    0 of 1\n"
	if got := out.String(); !strings.HasSuffix(got, want) {
		t.Errorf("status of a pending multi-target request:\n%s\nwant it to end with:\n%s", got, want)
	}
}

// A grant that failed for good names its target and shows the other
// target rolled back and verified gone.
func TestRenderStatusOfAFailedMultiTargetRequest(t *testing.T) {
	er := revokedMultiRequest()
	er.Status.Phase = accessv1alpha1.PhaseFailed
	er.Status.ExpiresAt, er.Status.GrantedAt = nil, nil
	er.Status.Message = "grant of payments-db/payments_rw failed: role \"payments_rw\" does not exist; the other targets were revoked and verified gone"
	er.Status.Revocation.Reason = accessv1alpha1.RevocationGrantUndo
	cluster := &er.Status.Targets[0]
	cluster.ResidualAccess, cluster.Activity = nil, nil
	cluster.Revocation.Reason = accessv1alpha1.RevocationGrantUndo
	db := &er.Status.Targets[1]
	db.Phase, db.GrantedAt, db.Revocation, db.Activity = accessv1alpha1.PhaseFailed, nil, nil, nil
	db.Grant = &accessv1alpha1.GrantAttempt{StartedAt: at(3 * time.Minute), Error: `role "payments_rw" does not exist`}
	db.Blocked = &accessv1alpha1.Blocker{Reason: "GrantFailed", Message: "the role is missing in the database"}

	var out bytes.Buffer
	if err := renderStatus(&out, er, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"Phase:         Failed\n",
		"Message:       grant of payments-db/payments_rw failed: role \"payments_rw\" does not exist; the other targets were revoked and verified gone\n",
		"  2026-12-02T09:03:01Z  prod-cluster/namespace-admin granted\n",
		"  2026-12-02T09:33:02Z  prod-cluster/namespace-admin verified gone (SubjectAccessReview)\n",
		"  prod-cluster/namespace-admin: Revoked\n    Approvals:    2 of 2\n    Granted at:   2026-12-02T09:03:01Z\n    Revocation:   GrantFailed, verified gone at 2026-12-02T09:33:02Z\n",
		"  payments-db/payments_rw: Failed\n    Approvals:    1 of 1\n    Grant error:  role \"payments_rw\" does not exist\n    Blocked:      GrantFailed: the role is missing in the database\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "all 2 targets granted") || strings.Contains(got, "Expires at") {
		t.Errorf("status of a failed request says it was granted:\n%s", got)
	}
}

// A revocation still being retried says so per target, and the request's
// own summary is not verified.
func TestRenderStatusOfAMultiTargetRevocationNotYetVerified(t *testing.T) {
	er := revokedMultiRequest()
	er.Status.Phase, er.Status.RevokedAt = accessv1alpha1.PhaseRevoking, nil
	er.Status.Revocation.VerifiedAt, er.Status.Revocation.Attempts = nil, 3
	db := &er.Status.Targets[1]
	db.Phase = accessv1alpha1.PhaseRevoking
	db.Revocation.VerifiedAt, db.Revocation.Attempts, db.Revocation.Method, db.Revocation.Detail = nil, 3, "", ""
	db.Revocation.RetainedBy = "payments/inc-4711-alice-2"
	var out bytes.Buffer
	if err := renderStatus(&out, er, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"Expires at:    2026-12-02T09:33:01Z (revoking)\n",
		"  Verified:     not yet (3 failed attempts)\n",
		"  payments-db/payments_rw: Revoking\n    Approvals:    1 of 1\n    Granted at:   2026-12-02T09:03:02Z\n" +
			"    Revocation:   Expired, not verified yet (3 failed attempts)\n" +
			"    Retained by:  payments/inc-4711-alice-2 (holds the same access; removed when it ends)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("status lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "verified gone on all") || strings.Contains(got, "payments-db/payments_rw verified gone") {
		t.Errorf("status claims an unverified removal:\n%s", got)
	}
}

// Before the operator writes status.targets, the targets are listed as
// asked for, and the TARGET summary comes from the spec.
func TestRenderStatusOfAMultiTargetRequestNotYetSeen(t *testing.T) {
	er := revokedMultiRequest()
	er.Status = accessv1alpha1.ElevationRequestStatus{}
	er.CreationTimestamp = metav1.NewTime(t0)
	var out bytes.Buffer
	if err := renderStatus(&out, er, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	want := "Phase:         -\n"
	tail := "\nTargets:\n  prod-cluster/namespace-admin: not looked at by the operator yet\n  payments-db/payments_rw: not looked at by the operator yet\n"
	if got := out.String(); !strings.Contains(got, want) || !strings.HasSuffix(got, tail) || strings.Contains(got, "Approvals:") {
		t.Errorf("status of a new multi-target request:\n%s", got)
	}
}
