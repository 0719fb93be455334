package activity

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

var t0 = time.Date(2026, 12, 2, 14, 2, 0, 0, time.UTC)

func action(i int, category accessv1alpha1.ActivityCategory) provider.Action {
	return provider.Action{At: t0.Add(time.Duration(i) * time.Second), ID: fmt.Sprintf("id-%d", i), Category: category, Action: "create", Object: fmt.Sprintf("ConfigMap ns/cm-%d", i)}
}

func TestAddCountsByCategoryAndKeepsTheLastActions(t *testing.T) {
	rec := Collecting("test source")
	var actions []provider.Action
	for i := range 14 {
		category := []accessv1alpha1.ActivityCategory{accessv1alpha1.ActivityConfig, accessv1alpha1.ActivityData, accessv1alpha1.ActivityData}[i%3]
		actions = append(actions, action(i, category))
	}
	denied := action(14, accessv1alpha1.ActivityAccess)
	denied.Denied = true
	other := action(15, accessv1alpha1.ActivityConfig)
	other.NotViaElevation = true
	actions = append(actions, denied, other)

	changes := Add(rec, provider.ActivityPage{Actions: actions, Cursor: "c1", Through: t0.Add(time.Minute)})

	want := accessv1alpha1.ActivityCounts{Total: 16, Config: 6, Data: 9, Denied: 1, NotViaElevation: 1}
	if rec.Counts != want {
		t.Errorf("counts = %+v, want %+v", rec.Counts, want)
	}
	if len(changes) != 0 {
		t.Errorf("a denied access change was returned as an access change: %v", changes)
	}
	if len(rec.Recent) != accessv1alpha1.MaxRecentActions || rec.Recent[0].ID != "id-6" || rec.Recent[9].ID != "id-15" {
		t.Errorf("recent = %d actions from %s, want the last %d (id-6 … id-15)", len(rec.Recent), rec.Recent[0].ID, accessv1alpha1.MaxRecentActions)
	}
	if rec.Cursor != "c1" || !rec.CollectedThrough.Equal(t0.Add(time.Minute)) {
		t.Errorf("cursor %q through %v, want c1 through %v", rec.Cursor, rec.CollectedThrough, t0.Add(time.Minute))
	}
	if rec.State != accessv1alpha1.ActivityCollecting {
		t.Errorf("state = %s, want Collecting", rec.State)
	}
}

func TestAddFlagsAccessChangesAndBoundsThem(t *testing.T) {
	rec := Collecting("s")
	var actions []provider.Action
	for i := range 12 {
		actions = append(actions, action(i, accessv1alpha1.ActivityAccess))
	}
	changes := Add(rec, provider.ActivityPage{Actions: actions})
	if len(changes) != 12 {
		t.Errorf("%d access changes returned to flag, want all 12", len(changes))
	}
	if len(rec.AccessChanges) != accessv1alpha1.MaxRecentActions || rec.AccessChanges[0].ID != "id-0" {
		t.Errorf("accessChanges keeps %d from %s, want the first %d", len(rec.AccessChanges), rec.AccessChanges[0].ID, accessv1alpha1.MaxRecentActions)
	}
	if rec.Counts.Access != 12 {
		t.Errorf("access count = %d, want 12", rec.Counts.Access)
	}
}

func TestCollectedThroughNeverMovesBack(t *testing.T) {
	rec := Collecting("s")
	Add(rec, provider.ActivityPage{Through: t0.Add(time.Minute)})
	Add(rec, provider.ActivityPage{Through: t0})
	if !rec.CollectedThrough.Equal(t0.Add(time.Minute)) {
		t.Errorf("collectedThrough moved back to %v", rec.CollectedThrough)
	}
}

func TestGapsAndDropsMakeThePartialRecordFinal(t *testing.T) {
	tests := []struct {
		name       string
		pages      []provider.ActivityPage
		wantReason string
		wantInMsg  string
		wantDrop   int64
	}{
		{"gap", []provider.ActivityPage{{Gap: "the receiver started at 14:05, after the window began"}}, accessv1alpha1.ReasonActivitySourceGap, "14:05", 0},
		{"dropped", []provider.ActivityPage{{Dropped: 3}, {Dropped: 2}}, accessv1alpha1.ReasonActivityDropped, "3 actions", 5},
		{"the first reason stays", []provider.ActivityPage{{Gap: "rotated away"}, {Dropped: 2}}, accessv1alpha1.ReasonActivitySourceGap, "rotated away", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := Collecting("s")
			for _, p := range tt.pages {
				Add(rec, p)
			}
			Finish(rec, "alice", t0)
			if rec.State != accessv1alpha1.ActivityPartial || rec.Reason != tt.wantReason || !strings.Contains(rec.Message, tt.wantInMsg) {
				t.Errorf("state %s reason %s message %q, want Partial %s containing %q", rec.State, rec.Reason, rec.Message, tt.wantReason, tt.wantInMsg)
			}
			if rec.Counts.Dropped != tt.wantDrop || rec.FinishedAt == nil {
				t.Errorf("dropped %d finishedAt %v, want %d and set", rec.Counts.Dropped, rec.FinishedAt, tt.wantDrop)
			}
		})
	}
}

func TestFinishIsCompleteWithTheSummary(t *testing.T) {
	rec := Collecting("s")
	Add(rec, provider.ActivityPage{Actions: []provider.Action{action(0, accessv1alpha1.ActivityConfig), action(1, accessv1alpha1.ActivityAccess)}})
	Finish(rec, "alice", t0)
	if rec.State != accessv1alpha1.ActivityComplete || rec.Message != "alice made 2 changes while elevated: 1 config, 1 access, 0 data" {
		t.Errorf("state %s message %q", rec.State, rec.Message)
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		counts accessv1alpha1.ActivityCounts
		want   string
	}{
		{accessv1alpha1.ActivityCounts{}, "alice made no changes while elevated"},
		{accessv1alpha1.ActivityCounts{Total: 14, Config: 3, Access: 2, Data: 9}, "alice made 14 changes while elevated: 3 config, 2 access, 9 data"},
		{accessv1alpha1.ActivityCounts{Total: 1, Data: 1}, "alice made 1 change while elevated: 0 config, 0 access, 1 data"},
		{accessv1alpha1.ActivityCounts{Total: 4, Other: 2, Denied: 1, NotViaElevation: 1, Config: 1}, "alice made 1 change while elevated: 1 config, 0 access, 0 data; 2 other actions; 1 denied attempt; 1 allowed by access other than the elevation"},
	}
	for _, tt := range tests {
		if got := Summary("alice", tt.counts); got != tt.want {
			t.Errorf("Summary(%+v) = %q, want %q", tt.counts, got, tt.want)
		}
	}
}

// A window that ends in the middle of a second (revokedAt is stored to the
// millisecond) is done once the source delivered through it, also after the
// record went through the API server and back.
func TestDoneWithAWindowEndingWithinASecondAfterARoundTrip(t *testing.T) {
	end := t0.Add(2*time.Second + 345*time.Millisecond)
	rec := Collecting("s")
	Add(rec, provider.ActivityPage{Through: end})
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var stored accessv1alpha1.Activity
	if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	until := CollectUntil(end, time.Second)
	if !Done(&stored, end, until, until) {
		t.Errorf("not done with collectedThrough %v stored for a window ending at %v", stored.CollectedThrough, end)
	}
}

func TestDoneOnlyOnceTheWindowIsDeliveredAndTheDelayPassed(t *testing.T) {
	until := CollectUntil(t0, 5*time.Second)
	rec := Collecting("s")
	if Done(rec, t0, until, until) {
		t.Error("a record with nothing collected is done")
	}
	Add(rec, provider.ActivityPage{Through: t0.Add(-time.Second)})
	if Done(rec, t0, until, until) {
		t.Error("done while the source has not delivered the window's end")
	}
	Add(rec, provider.ActivityPage{Through: t0.Add(time.Second)})
	if Done(rec, t0, until, until.Add(-time.Millisecond)) {
		t.Error("done before the delivery delay passed")
	}
	if !Done(rec, t0, until, until) {
		t.Error("not done once the window's end was delivered and the delay passed")
	}
}

func TestActionTextIsBounded(t *testing.T) {
	long := strings.Repeat("é", accessv1alpha1.MaxActivityText)
	rec := Collecting("s")
	Add(rec, provider.ActivityPage{Actions: []provider.Action{{At: t0, ID: long, Action: long, Object: long, ImpersonatedBy: long}}})
	got := rec.Recent[0]
	for name, s := range map[string]string{"id": got.ID, "action": got.Action, "object": got.Object, "impersonatedBy": got.ImpersonatedBy} {
		if len(s) > accessv1alpha1.MaxActivityText || !strings.HasPrefix(long, s) || strings.ContainsRune(s, '\uFFFD') {
			t.Errorf("%s is %d bytes or cut inside a rune", name, len(s))
		}
	}
	if got.Category != accessv1alpha1.ActivityOther {
		t.Errorf("an action without a category is %q, want Other", got.Category)
	}
}

func TestLinkResidualNamesTheActionThatMadeAPath(t *testing.T) {
	at := metav1.NewMicroTime(t0)
	changes := []accessv1alpha1.ActivityAction{{At: at, ID: "a1", Action: "create", Object: "RoleBinding payments/backdoor", Category: accessv1alpha1.ActivityAccess}}
	paths := []accessv1alpha1.ResidualAccessPath{
		{Name: "RoleBinding payments/backdoor"},
		{Name: "RoleBinding payments/old-standing"},
		{Name: "RoleBinding payments/backdoor2", MadeWhileElevated: "kept"},
		{Name: "RoleBinding payments/backdoor-two"},
		{Name: "LDAP group cn=sub,RoleBinding payments/backdoor has member"},
	}
	if !LinkResidual(paths, changes) {
		t.Fatal("nothing linked")
	}
	if paths[0].MadeWhileElevated != "create RoleBinding payments/backdoor at 2026-12-02T14:02:00Z (a1)" {
		t.Errorf("backdoor linked as %q", paths[0].MadeWhileElevated)
	}
	if paths[1].MadeWhileElevated != "" || paths[2].MadeWhileElevated != "kept" || paths[3].MadeWhileElevated != "" || paths[4].MadeWhileElevated != "" {
		t.Errorf("other paths changed: %q, %q, %q, %q", paths[1].MadeWhileElevated, paths[2].MadeWhileElevated, paths[3].MadeWhileElevated, paths[4].MadeWhileElevated)
	}
	if LinkResidual(paths, changes) {
		t.Error("linked again")
	}
}
