package v1alpha1

import (
	"context"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func breakGlassRole(mutate ...func(*accessv1alpha1.BreakGlassPolicy)) *accessv1alpha1.Role {
	bg := &accessv1alpha1.BreakGlassPolicy{MinJustification: 20, MaxDuration: "1h", ReviewWithin: "24h"}
	for _, m := range mutate {
		m(bg)
	}
	return &accessv1alpha1.Role{Name: "admin", BreakGlass: bg}
}

func breakGlassRequest(duration, justification string, phase accessv1alpha1.Phase) *accessv1alpha1.ElevationRequest {
	return &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "fire", Namespace: "payments"},
		Spec:       accessv1alpha1.ElevationRequestSpec{Subject: "alice", Connection: "prod", Role: "admin", Duration: duration, Justification: justification},
		Status:     accessv1alpha1.ElevationRequestStatus{Phase: phase},
	}
}

const longEnough = "INC-4711: the billing database is down and nobody is awake"

func TestDecideBreakGlass(t *testing.T) {
	authz := approverSet{"bob": true, BreakGlassVerb + ":alice": true}
	tests := []struct {
		name    string
		user    string
		er      *accessv1alpha1.ElevationRequest
		role    *accessv1alpha1.Role
		wantErr string
	}{
		{"the subject with the verb", "alice", breakGlassRequest("30m", longEnough, accessv1alpha1.PhasePending), breakGlassRole(), ""},
		{"a case variant of the subject", "Alice", breakGlassRequest("30m", longEnough, accessv1alpha1.PhasePending), breakGlassRole(), "may not break the glass"},
		{"someone else, even an approver", "bob", breakGlassRequest("30m", longEnough, accessv1alpha1.PhasePending), breakGlassRole(), `only the subject "alice"`},
		{"a role without breakGlass", "alice", breakGlassRequest("30m", longEnough, accessv1alpha1.PhasePending), &accessv1alpha1.Role{Name: "admin"}, "spec.roles[].breakGlass is not set"},
		{"a role that does not exist", "alice", breakGlassRequest("30m", longEnough, accessv1alpha1.PhasePending), nil, "does not exist"},
		{"a short justification", "alice", breakGlassRequest("30m", "it is urgent", accessv1alpha1.PhasePending), breakGlassRole(), "spec.justification is 12 characters; break-glass needs at least 20 (spec.roles[].breakGlass.minJustification"},
		{"too long", "alice", breakGlassRequest("2h", longEnough, accessv1alpha1.PhasePending), breakGlassRole(), "spec.duration 2h is longer than break-glass allows: at most 1h0m0s (spec.roles[].breakGlass.maxDuration"},
		{"already active", "alice", breakGlassRequest("30m", longEnough, accessv1alpha1.PhaseActive), breakGlassRole(), "already Active"},
		{"ended", "alice", breakGlassRequest("30m", longEnough, accessv1alpha1.PhaseRevoked), breakGlassRole(), "already Revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trig := Trigger{Key: accessv1alpha1.AnnotationBreakGlass, Value: "db down", Role: tt.role}
			d, err := Decide(context.Background(), authz, tt.er, Records{RequestedBy: "alice"}, authenticationv1.UserInfo{Username: tt.user}, trig, metav1.Now())
			if tt.wantErr == "" {
				if err != nil || d.Records.BreakGlass == nil || d.Records.BreakGlass.User != tt.user || d.Records.BreakGlass.Reason != "db down" {
					t.Fatalf("break-glass refused or not recorded: %v, %+v", err, d.Records.BreakGlass)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecideBreakGlassNeedsTheVerb(t *testing.T) {
	_, err := Decide(context.Background(), approverSet{"alice": true}, breakGlassRequest("30m", longEnough, accessv1alpha1.PhasePending), Records{},
		authenticationv1.UserInfo{Username: "alice"}, Trigger{Key: accessv1alpha1.AnnotationBreakGlass, Role: breakGlassRole()}, metav1.Now())
	if err == nil || !strings.Contains(err.Error(), `it needs RBAC verb "breakglass"`) {
		t.Fatalf("err = %v: approve permission must not stand in for breakglass", err)
	}
}

func TestDecideReview(t *testing.T) {
	authz := approverSet{"bob": true, "carol": true, "alice": true}
	used := Records{BreakGlass: &accessv1alpha1.BreakGlassRecord{User: "alice", At: metav1.Now()}}
	er := breakGlassRequest("30m", longEnough, accessv1alpha1.PhaseRevoked)
	review := func(user string, rec Records) (Decision, error) {
		return Decide(context.Background(), authz, er, rec, authenticationv1.UserInfo{Username: user}, Trigger{Key: accessv1alpha1.AnnotationReview, Value: "justified"}, metav1.Now())
	}
	if _, err := review("bob", Records{}); err == nil || !strings.Contains(err.Error(), "not approved by break-glass") {
		t.Errorf("review of a request without break-glass: %v", err)
	}
	if _, err := review("alice", used); err == nil || !strings.Contains(err.Error(), "cannot review it") {
		t.Errorf("the subject reviewed her own break-glass: %v", err)
	}
	if _, err := review("mallory", used); err == nil || !strings.Contains(err.Error(), "is not an approver") {
		t.Errorf("a non-approver reviewed: %v", err)
	}
	d, err := review("bob", used)
	if err != nil || d.Records.Review == nil || d.Records.Review.User != "bob" {
		t.Fatalf("an approver's review after the request ended was refused: %v", err)
	}
	if _, err := review("carol", d.Records); err == nil || !strings.Contains(err.Error(), "already reviewed") {
		t.Errorf("a second review: %v", err)
	}
	if again, err := review("bob", d.Records); err != nil || !again.NoOp {
		t.Errorf("repeating one's own review is not a no-op: %v", err)
	}
}

func TestInferTriggerFindsBreakGlassAndReview(t *testing.T) {
	at := metav1.Now()
	used := Records{RequestedBy: "alice", BreakGlass: &accessv1alpha1.BreakGlassRecord{User: "alice", At: at, Reason: "db down"}}
	trig, _, err := InferTrigger(Records{RequestedBy: "alice"}, used)
	if err != nil || trig.Key != accessv1alpha1.AnnotationBreakGlass || trig.Value != "db down" {
		t.Errorf("break-glass inferred as %+v, %v", trig, err)
	}
	reviewed := used
	reviewed.Review = &accessv1alpha1.ReviewRecord{User: "bob", At: at, Comment: "ok"}
	if trig, _, err = InferTrigger(used, reviewed); err != nil || trig.Key != accessv1alpha1.AnnotationReview {
		t.Errorf("review inferred as %+v, %v", trig, err)
	}
	if _, _, err = InferTrigger(used, Records{RequestedBy: "alice"}); err == nil || !strings.Contains(err.Error(), "never changed or removed") {
		t.Errorf("removing a break-glass record: %v", err)
	}
}
