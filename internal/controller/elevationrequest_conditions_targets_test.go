package controller

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// multiRequest is a two-target request whose targets have the given states.
func multiRequest(phase accessv1alpha1.Phase, a, b accessv1alpha1.TargetStatus) *accessv1alpha1.ElevationRequest {
	a.Connection, a.Role, b.Connection, b.Role = "cluster", "edit", "pg", "rw"
	return &accessv1alpha1.ElevationRequest{
		Spec: accessv1alpha1.ElevationRequestSpec{Subject: "alice", Duration: "1h", Justification: "x",
			Targets: []accessv1alpha1.Target{{Connection: "cluster", Role: "edit"}, {Connection: "pg", Role: "rw"}}},
		Status: accessv1alpha1.ElevationRequestStatus{Phase: phase, Targets: []accessv1alpha1.TargetStatus{a, b},
			TargetState: accessv1alpha1.TargetState{Revocation: &accessv1alpha1.Revocation{Reason: accessv1alpha1.RevocationExpired}}},
	}
}

func verifiedTarget(residual ...accessv1alpha1.ResidualAccessPath) accessv1alpha1.TargetStatus {
	at := metav1.NewTime(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	return accessv1alpha1.TargetStatus{Phase: accessv1alpha1.PhaseRevoked, TargetState: accessv1alpha1.TargetState{
		Grant: &accessv1alpha1.GrantAttempt{}, GrantedAt: &at, ResidualAccess: residual,
		Revocation: &accessv1alpha1.Revocation{Reason: accessv1alpha1.RevocationExpired, VerifiedAt: &at, Method: "read", Detail: "gone"},
	}}
}

func retryingTarget() accessv1alpha1.TargetStatus {
	at := metav1.NewTime(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	return accessv1alpha1.TargetStatus{Phase: accessv1alpha1.PhaseRevoking,
		Blocked: &accessv1alpha1.Blocker{Reason: accessv1alpha1.ReasonStillPresent, Message: "still a member"},
		TargetState: accessv1alpha1.TargetState{Grant: &accessv1alpha1.GrantAttempt{}, GrantedAt: &at,
			Revocation: &accessv1alpha1.Revocation{Reason: accessv1alpha1.RevocationExpired, Attempts: 2}}}
}

func TestConditionsForTargets(t *testing.T) {
	backdoor := accessv1alpha1.ResidualAccessPath{Name: "RoleBinding payments/backdoor"}
	tests := []struct {
		name       string
		er         *accessv1alpha1.ElevationRequest
		condType   string
		wantStatus metav1.ConditionStatus // "" when the condition must be absent
		wantReason string
		wantIn     string // a phrase the message holds
	}{
		{"verified only once every target is", multiRequest(accessv1alpha1.PhaseRevoking, verifiedTarget(), retryingTarget()),
			accessv1alpha1.ConditionRevocationVerified, metav1.ConditionFalse, accessv1alpha1.ReasonStillPresent, "pg/rw: still a member"},
		{"verified when both are", multiRequest(accessv1alpha1.PhaseRevoked, verifiedTarget(), verifiedTarget()),
			accessv1alpha1.ConditionRevocationVerified, metav1.ConditionTrue, accessv1alpha1.ReasonVerified, "cluster/edit: read: gone"},
		{"not revoked while one target retries", multiRequest(accessv1alpha1.PhaseRevoking, verifiedTarget(), retryingTarget()),
			accessv1alpha1.ConditionRevoked, "", "", ""},
		{"residual access on one target is residual access", multiRequest(accessv1alpha1.PhaseRevoked, verifiedTarget(), verifiedTarget(backdoor)),
			accessv1alpha1.ConditionResidualAccess, metav1.ConditionTrue, accessv1alpha1.ReasonResidualAccess, "pg/rw: "},
		{"no residual access anywhere", multiRequest(accessv1alpha1.PhaseRevoked, verifiedTarget(), verifiedTarget()),
			accessv1alpha1.ConditionResidualAccess, metav1.ConditionFalse, accessv1alpha1.ReasonNoResidualAccess, ""},
		{"no residual verdict until every removal is verified", multiRequest(accessv1alpha1.PhaseRevoking, verifiedTarget(), retryingTarget()),
			accessv1alpha1.ConditionResidualAccess, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := meta.FindStatusCondition(conditionsForTargets(tt.er), tt.condType)
			if tt.wantStatus == "" {
				if c != nil {
					t.Fatalf("%s = %+v, want none", tt.condType, *c)
				}
				return
			}
			if c == nil {
				t.Fatalf("%s missing", tt.condType)
			}
			if c.Status != tt.wantStatus || c.Reason != tt.wantReason {
				t.Errorf("%s = %s/%s, want %s/%s (%s)", tt.condType, c.Status, c.Reason, tt.wantStatus, tt.wantReason, c.Message)
			}
			if !strings.Contains(c.Message, tt.wantIn) {
				t.Errorf("%s message %q lacks %q", tt.condType, c.Message, tt.wantIn)
			}
		})
	}
}

func TestSummariseRevocation(t *testing.T) {
	er := multiRequest(accessv1alpha1.PhaseRevoking, verifiedTarget(), retryingTarget())
	er.Status.Revocation.StartedAt = &metav1.Time{Time: time.Date(2026, 12, 2, 8, 59, 0, 0, time.UTC)}
	summariseRevocation(er)
	if er.Status.Phase != accessv1alpha1.PhaseRevoking || er.Status.Revocation.VerifiedAt != nil {
		t.Fatalf("one target still revoking: phase %s, verifiedAt %v", er.Status.Phase, er.Status.Revocation.VerifiedAt)
	}
	if er.Status.Revocation.Attempts != 2 || er.Status.Blocked == nil || er.Status.Blocked.Message != "pg/rw: still a member" {
		t.Errorf("the summary must carry the attempts and what blocks the target: %+v, %+v", er.Status.Revocation, er.Status.Blocked)
	}

	er = multiRequest(accessv1alpha1.PhaseRevoking, verifiedTarget(), verifiedTarget())
	er.Status.Revocation.StartedAt = &metav1.Time{Time: time.Date(2026, 12, 2, 8, 59, 0, 0, time.UTC)}
	summariseRevocation(er)
	if er.Status.Phase != accessv1alpha1.PhaseRevoked || er.Status.Revocation.VerifiedAt == nil || er.Status.RevokedAt == nil {
		t.Errorf("both verified: want Revoked with verifiedAt, got %s, %+v", er.Status.Phase, er.Status.Revocation)
	}

	standing := verifiedTarget()
	standing.Grant.Preexisting, standing.Revocation.VerifiedAt = true, nil
	er = multiRequest(accessv1alpha1.PhaseRevoking, verifiedTarget(), standing)
	er.Status.Revocation.StartedAt = &metav1.Time{Time: time.Date(2026, 12, 2, 8, 59, 0, 0, time.UTC)}
	summariseRevocation(er)
	if er.Status.Phase != accessv1alpha1.PhaseRevoked || er.Status.Revocation.VerifiedAt != nil {
		t.Errorf("standing access left on one target: want Revoked without verifiedAt, got %s, %+v", er.Status.Phase, er.Status.Revocation)
	}
}

func TestTargetColumns(t *testing.T) {
	compact, list := targetColumns([]accessv1alpha1.Target{{Connection: "prod", Role: "admin"}, {Connection: "pg", Role: "rw"}, {Connection: "scim", Role: "billing"}})
	if compact != "prod/admin +2" || list != "prod/admin, pg/rw, scim/billing" {
		t.Errorf("columns = %q, %q", compact, list)
	}
	if compact, _ := targetColumns([]accessv1alpha1.Target{{Connection: "prod", Role: "admin"}}); compact != "prod/admin" {
		t.Errorf("one target: %q", compact)
	}
}
