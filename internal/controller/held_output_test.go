package controller

import (
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/audit"
)

// A reconcile whose status write loses a conflict is repeated: what it held
// must be dropped, not written, or every audit line of the transition would
// be written twice (once per attempt). Regression test for issue 16.
func TestHeldAuditLinesAreWrittenOnlyOnceStored(t *testing.T) {
	var out strings.Builder
	r := &ElevationRequestReconciler{Audit: audit.New(funcr.NewJSON(func(obj string) { out.WriteString(obj + "\n") }, funcr.Options{}))}
	er := &accessv1alpha1.ElevationRequest{ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "inc-1", UID: "u1"},
		Status: accessv1alpha1.ElevationRequestStatus{Phase: accessv1alpha1.PhaseApproved}}
	recorder := events.NewFakeRecorder(10)

	r.record(audit.ActionApprove, er, "bob")
	r.event(er, "Normal", "Approved", "Approve", "approved")
	r.held.flush(recorder, er, false) // the status write lost a conflict
	if out.Len() != 0 || len(recorder.Events) != 0 {
		t.Fatalf("a reconcile whose status was not stored wrote %q and %d Events", out.String(), len(recorder.Events))
	}

	r.record(audit.ActionApprove, er, "bob")
	er.Status.Phase = accessv1alpha1.PhaseActive // changed after the line was held
	r.event(er, "Normal", "Approved", "Approve", "approved")
	r.held.flush(recorder, er, true)
	if n := strings.Count(out.String(), `"action":"approve"`); n != 1 {
		t.Fatalf("the repeated reconcile wrote %d approve lines, want 1: %s", n, out.String())
	}
	if !strings.Contains(out.String(), `"phase":"Approved"`) {
		t.Errorf("the line must show the request as it was when held: %s", out.String())
	}
	if len(recorder.Events) != 1 {
		t.Errorf("want the one Event, got %d", len(recorder.Events))
	}
	r.held.flush(recorder, er, true)
	if n := strings.Count(out.String(), `"action":"approve"`); n != 1 {
		t.Errorf("a second flush wrote the line again: %d", n)
	}
}
