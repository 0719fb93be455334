package controller

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestWakeupRelayCoalescesRepeatsWhileQueued(t *testing.T) {
	from := make(chan string)
	to := make(chan event.GenericEvent)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = wakeupRelay{from: from, to: to}.Start(ctx) }()
	for _, s := range []string{"alice", "alice", "bob", "alice", "bob"} {
		from <- s
	}
	var got []string
	for range 2 {
		select {
		case e := <-to:
			got = append(got, e.Object.GetName())
		case <-time.After(5 * time.Second):
			t.Fatalf("relayed only %v", got)
		}
	}
	if len(got) != 2 || got[0] != "alice" || got[1] != "bob" {
		t.Errorf("relayed %v, want [alice bob]: one wakeup per subject while queued", got)
	}
	select {
	case e := <-to:
		t.Errorf("a repeat was relayed: %s", e.Object.GetName())
	case <-time.After(100 * time.Millisecond):
	}
	from <- "alice"
	select {
	case e := <-to:
		if e.Object.GetName() != "alice" {
			t.Errorf("relayed %s, want alice again once delivered", e.Object.GetName())
		}
	case <-time.After(5 * time.Second):
		t.Error("a subject is not relayed again after its wakeup was delivered")
	}
}

func TestWorthWritingSkipsACursorThatMovedWithoutNews(t *testing.T) {
	now := metav1.Now()
	base := accessv1alpha1.Activity{State: accessv1alpha1.ActivityCollecting, Reason: accessv1alpha1.ReasonActivityCollecting, Cursor: "a", Counts: accessv1alpha1.ActivityCounts{Total: 1, Data: 1}}
	moved := base
	moved.Cursor, moved.CollectedThrough = "b", accessv1alpha1.NewMilliTime(now.Time)
	counted := moved
	counted.Counts = accessv1alpha1.ActivityCounts{Total: 2, Data: 2}
	finished := base
	finished.State, finished.FinishedAt = accessv1alpha1.ActivityComplete, &now
	emptyCollecting := accessv1alpha1.Activity{State: accessv1alpha1.ActivityCollecting, Cursor: "c"}
	unavailable := accessv1alpha1.Activity{State: accessv1alpha1.ActivityUnavailable, FinishedAt: &now}
	status := func(a *accessv1alpha1.Activity) accessv1alpha1.ElevationRequestStatus {
		return accessv1alpha1.ElevationRequestStatus{TargetState: accessv1alpha1.TargetState{Activity: a}}
	}
	tests := []struct {
		name          string
		before, after *accessv1alpha1.Activity
		want          bool
	}{
		{"only the cursor and collectedThrough moved", &base, &moved, false},
		{"a new action", &base, &counted, true},
		{"finished", &base, &finished, true},
		{"a first look that found nothing", nil, &emptyCollecting, false},
		{"a first look that found the source unavailable", nil, &unavailable, true},
	}
	for _, tt := range tests {
		if got := worthWriting(status(tt.before), status(tt.after)); got != tt.want {
			t.Errorf("%s: worthWriting = %v, want %v", tt.name, got, tt.want)
		}
	}
	linked := status(&moved)
	linked.ResidualAccess = []accessv1alpha1.ResidualAccessPath{{Name: "RoleBinding ns/x", MadeWhileElevated: "create ..."}}
	before := status(&base)
	before.ResidualAccess = []accessv1alpha1.ResidualAccessPath{{Name: "RoleBinding ns/x"}}
	if !worthWriting(before, linked) {
		t.Error("a residual path newly linked to its action is not written")
	}
}
