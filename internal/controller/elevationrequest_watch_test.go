package controller

import (
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestUpdateWakes(t *testing.T) {
	revokeRecord, _ := json.Marshal(accessv1alpha1.RevokeRecord{User: "alice", At: metav1.Now(), Reason: "done"})
	base := func() *accessv1alpha1.ElevationRequest {
		er := request(accessv1alpha1.PhaseActive)
		er.ResourceVersion = "1"
		er.Generation = 1
		er.Annotations = map[string]string{accessv1alpha1.AnnotationRequestedBy: "alice"}
		er.Finalizers = []string{accessv1alpha1.Finalizer}
		return er
	}
	cases := []struct {
		name         string
		change       func(*accessv1alpha1.ElevationRequest)
		wantWake     bool
		wantPriority *int
	}{
		{"a resync (same resourceVersion) is looked at again", func(*accessv1alpha1.ElevationRequest) {}, true, nil},
		{"a status-only write (the operator's own) is skipped", func(er *accessv1alpha1.ElevationRequest) {
			er.ResourceVersion = "2"
			er.Status.Phase = accessv1alpha1.PhaseRevoked
		}, false, nil},
		{"a deletion jumps the queue with the expiry priority", func(er *accessv1alpha1.ElevationRequest) {
			er.ResourceVersion = "2"
			now := metav1.Now()
			er.DeletionTimestamp = &now
		}, true, new(expiryPriority)},
		{"an early revocation jumps the queue with the expiry priority", func(er *accessv1alpha1.ElevationRequest) {
			er.ResourceVersion = "2"
			er.Annotations[accessv1alpha1.AnnotationRevocation] = string(revokeRecord)
		}, true, new(expiryPriority)},
		{"an approval comes ahead of new requests", func(er *accessv1alpha1.ElevationRequest) {
			er.ResourceVersion = "2"
			er.Annotations[accessv1alpha1.AnnotationApprovals] = `[{"user":"bob"}]`
		}, true, new(approvalPriority)},
		{"a finalizer removed by someone else wakes it", func(er *accessv1alpha1.ElevationRequest) {
			er.ResourceVersion = "2"
			er.Finalizers = nil
		}, true, nil},
		{"a spec change (a new generation) wakes it", func(er *accessv1alpha1.ElevationRequest) {
			er.ResourceVersion = "2"
			er.Generation = 2
		}, true, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := base()
			cur := old.DeepCopy()
			tc.change(cur)
			wake, priority := updateWakes(old, cur)
			if wake != tc.wantWake {
				t.Fatalf("wake = %v, want %v", wake, tc.wantWake)
			}
			switch {
			case tc.wantPriority == nil && priority != nil:
				t.Errorf("priority = %d, want the queue's default", *priority)
			case tc.wantPriority != nil && (priority == nil || *priority != *tc.wantPriority):
				t.Errorf("priority = %v, want %d", priority, *tc.wantPriority)
			}
		})
	}
}

func TestFirstSightPriority(t *testing.T) {
	now := grantedAtNoon.Add(time.Hour)
	expiringAt := func(phase accessv1alpha1.Phase, at time.Time) *accessv1alpha1.ElevationRequest {
		return request(phase, func(er *accessv1alpha1.ElevationRequest) { er.Status.ExpiresAt = accessv1alpha1.NewMilliTime(at) })
	}
	cases := []struct {
		name string
		er   *accessv1alpha1.ElevationRequest
		want *int
	}{
		{"Active past its expiry: ahead with the expiries", expiringAt(accessv1alpha1.PhaseActive, now.Add(-time.Minute)), new(expiryPriority)},
		{"Active at its expiry", expiringAt(accessv1alpha1.PhaseActive, now), new(expiryPriority)},
		{"Active before its expiry: its own look is scheduled when it is reconciled", expiringAt(accessv1alpha1.PhaseActive, now.Add(time.Millisecond)), nil},
		{"Active and being deleted", request(accessv1alpha1.PhaseActive, func(er *accessv1alpha1.ElevationRequest) {
			er.Status.ExpiresAt = accessv1alpha1.NewMilliTime(now.Add(time.Hour))
			er.DeletionTimestamp = &metav1.Time{Time: now}
		}), new(expiryPriority)},
		{"Revoking: a removal not verified yet", expiringAt(accessv1alpha1.PhaseRevoking, now.Add(time.Hour)), new(expiryPriority)},
		{"Pending", request(accessv1alpha1.PhasePending), nil},
		{"Revoked past its expiry: nothing left to do soon", expiringAt(accessv1alpha1.PhaseRevoked, now.Add(-time.Minute)), nil},
	}
	for _, c := range cases {
		got := firstSightPriority(c.er, now)
		if (got == nil) != (c.want == nil) || (got != nil && *got != *c.want) {
			t.Errorf("%s: priority %v, want %v", c.name, deref(got), deref(c.want))
		}
	}
}

func deref(p *int) any {
	if p == nil {
		return "default"
	}
	return *p
}
