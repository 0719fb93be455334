package controller

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

func TestInsideWindow(t *testing.T) {
	granted := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	revoked := granted.Add(30 * time.Minute)
	grantedAt := metav1.NewTime(granted)
	tests := []struct {
		name      string
		created   time.Time
		grantedAt *metav1.Time
		want      bool
	}{
		{name: "before the grant", created: granted.Add(-time.Second), grantedAt: &grantedAt, want: false},
		{name: "in the grant's own second", created: granted.Add(400 * time.Millisecond), grantedAt: &grantedAt, want: true},
		{name: "during the window", created: granted.Add(10 * time.Minute), grantedAt: &grantedAt, want: true},
		{name: "at revocation", created: revoked, grantedAt: &grantedAt, want: true},
		{name: "after revocation", created: revoked.Add(time.Second), grantedAt: &grantedAt, want: false},
		{name: "never granted", created: granted, grantedAt: nil, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := insideWindow(tt.created, tt.grantedAt, revoked); got != tt.want {
				t.Fatalf("insideWindow = %t, want %t", got, tt.want)
			}
		})
	}
}

func TestResidualPathsAndMessage(t *testing.T) {
	granted := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	grantedAt := metav1.NewTime(granted)
	before, during := granted.Add(-time.Hour), granted.Add(time.Minute)
	found := []provider.ResidualPath{
		{Name: "RoleBinding payments/old", CreatedAt: &before},
		{Name: "RoleBinding payments/backdoor", CreatedAt: &during},
		{Name: "PostgreSQL role \"team\""},
	}
	paths := residualPaths(found, &grantedAt, granted.Add(time.Hour))
	wantInside := []bool{false, true, false}
	if len(paths) != len(found) {
		t.Fatalf("residualPaths kept %d of %d", len(paths), len(found))
	}
	for i, p := range paths {
		if p.Name != found[i].Name || p.InsideWindow != wantInside[i] || (p.CreatedAt == nil) != (found[i].CreatedAt == nil) {
			t.Errorf("path %d = %+v, want %s inside %t", i, p, found[i].Name, wantInside[i])
		}
	}
	msg := residualMessage("alice", paths)
	for _, want := range []string{
		"alice still holds the role's access",
		"RoleBinding payments/old (created 2026-12-01T19:00:00Z, before the elevation window)",
		"RoleBinding payments/backdoor (created 2026-12-01T20:01:00Z, inside the elevation window: a likely backdoor)",
		`PostgreSQL role "team" (creation time unknown)`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not contain %q", msg, want)
		}
	}
	if residualPaths(nil, &grantedAt, granted) != nil {
		t.Error("no paths found must give none")
	}
	many := make([]provider.ResidualPath, maxResidualPaths+5)
	if got := len(residualPaths(many, &grantedAt, granted)); got != maxResidualPaths {
		t.Errorf("residualPaths kept %d, want at most %d", got, maxResidualPaths)
	}
}

func TestGrantedTarget(t *testing.T) {
	target := &accessv1alpha1.GrantTarget{Endpoint: "ldap://x"}
	if grantedTarget(&accessv1alpha1.ElevationRequest{}) != nil {
		t.Error("no grant: want no target")
	}
	er := &accessv1alpha1.ElevationRequest{Status: accessv1alpha1.ElevationRequestStatus{TargetState: accessv1alpha1.TargetState{Grant: &accessv1alpha1.GrantAttempt{Target: target}}}}
	if grantedTarget(er) != target {
		t.Error("want the stored target")
	}
}
