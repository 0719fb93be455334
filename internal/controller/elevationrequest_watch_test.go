package controller

import (
	"encoding/json"
	"testing"

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
