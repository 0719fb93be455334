package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// TestApprovedInTime is the regression test of an approval lost across a leader
// failover (found by hack/chaos): a request approved within its pending
// timeout, seen by the controller only after it, must be granted, not expired.
func TestApprovedInTime(t *testing.T) {
	created := time.Date(2026, 12, 2, 3, 24, 19, 0, time.UTC)
	deadline := created.Add(8 * time.Second)
	two := int32(2)
	conn := &accessv1alpha1.SaaSConnection{Spec: accessv1alpha1.SaaSConnectionSpec{Roles: []accessv1alpha1.Role{
		{Name: "one"}, {Name: "two", RequiredApprovals: &two}, {Name: "auto", RequiredApprovals: new(int32)},
	}}}
	approval := func(user string, after time.Duration) accessv1alpha1.ApprovalRecord {
		return accessv1alpha1.ApprovalRecord{User: user, At: metav1.NewTime(created.Add(after))}
	}
	for _, tc := range []struct {
		name      string
		role      string
		approvals []accessv1alpha1.ApprovalRecord
		conn      *accessv1alpha1.SaaSConnection
		want      bool
	}{
		{"approved in time", "one", []accessv1alpha1.ApprovalRecord{approval("bob", time.Second)}, conn, true},
		{"approved after the deadline", "one", []accessv1alpha1.ApprovalRecord{approval("bob", 9*time.Second)}, conn, false},
		{"approved exactly at the deadline", "one", []accessv1alpha1.ApprovalRecord{approval("bob", 8*time.Second)}, conn, false},
		{"no approval", "one", nil, conn, false},
		{"one of two", "two", []accessv1alpha1.ApprovalRecord{approval("bob", time.Second)}, conn, false},
		{"second of two after the deadline", "two", []accessv1alpha1.ApprovalRecord{approval("bob", time.Second), approval("carol", 9*time.Second)}, conn, false},
		{"two of three in time", "two", []accessv1alpha1.ApprovalRecord{approval("dave", 10*time.Second), approval("bob", time.Second), approval("carol", 2*time.Second)}, conn, true},
		{"the subject's own approval does not count", "one", []accessv1alpha1.ApprovalRecord{approval("alice@example.com", time.Second)}, conn, false},
		{"auto-approved roles are not rescued", "auto", nil, conn, false},
		{"unknown role", "gone", []accessv1alpha1.ApprovalRecord{approval("bob", time.Second)}, conn, false},
		{"no connection", "one", []accessv1alpha1.ApprovalRecord{approval("bob", time.Second)}, nil, false},
	} {
		er := &accessv1alpha1.ElevationRequest{
			ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(created)},
			Spec:       accessv1alpha1.ElevationRequestSpec{Subject: "alice@example.com", Role: tc.role},
			Status:     accessv1alpha1.ElevationRequestStatus{RequestedBy: "alice", Approvals: tc.approvals},
		}
		if got := approvedInTime(er, tc.conn, deadline); got != tc.want {
			t.Errorf("%s: approvedInTime = %v, want %v", tc.name, got, tc.want)
		}
	}
}
