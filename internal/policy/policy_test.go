package policy

import (
	"strings"
	"testing"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func connection() *accessv1alpha1.SaaSConnection {
	conn := &accessv1alpha1.SaaSConnection{}
	conn.Name = "prod"
	conn.Spec.MaxDuration = "4h"
	conn.Spec.Roles = []accessv1alpha1.Role{
		{Name: "admin", MaxDuration: "1h"},
		{Name: "viewer"},
		{Name: "broken", MaxDuration: "8h"},
	}
	return conn
}

func request(role, duration string) *accessv1alpha1.ElevationRequest {
	req := &accessv1alpha1.ElevationRequest{}
	req.Spec.Role = role
	req.Spec.Duration = duration
	return req
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name     string
		role     string
		duration string
		global   time.Duration
		wantErr  string
	}{
		{name: "within the role cap", role: "admin", duration: "30m"},
		{name: "exactly the role cap", role: "admin", duration: "1h"},
		{name: "over the role cap", role: "admin", duration: "61m", wantErr: `spec.duration: 1h1m0s exceeds the maxDuration 1h0m0s of role "admin"`},
		{name: "role without a cap uses the connection's", role: "viewer", duration: "4h"},
		{name: "over the connection cap", role: "viewer", duration: "5h", wantErr: "spec.duration: 5h0m0s exceeds the connection's maxDuration 4h0m0s"},
		{name: "role cap above the connection cap", role: "broken", duration: "5h", wantErr: `spec.role: role "broken" maxDuration 8h0m0s exceeds the connection's maxDuration 4h0m0s`},
		{name: "connection cap above the global cap", role: "admin", duration: "30m", global: 2 * time.Hour, wantErr: "spec.connection: the connection's maxDuration 4h0m0s exceeds the operator's --max-duration 2h0m0s"},
		{name: "global cap respected", role: "admin", duration: "30m", global: 8 * time.Hour},
		{name: "a cap above the global cap is refused for any duration", role: "viewer", duration: "1m", global: 2 * time.Hour, wantErr: "exceeds the operator's --max-duration 2h0m0s"},
		{name: "unknown role", role: "root", duration: "30m", wantErr: `spec.role: role "root" does not exist in SaaSConnection "prod" (roles: [admin viewer broken])`},
		{name: "not a duration", role: "admin", duration: "soon", wantErr: `spec.duration: "soon" is not a Go duration`},
		{name: "negative duration", role: "admin", duration: "-5m", wantErr: "spec.duration: -5m0s must be positive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			role, err := Check(request(tc.role, tc.duration), connection(), tc.global)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if role.Name != tc.role {
					t.Fatalf("got role %q, want %q", role.Name, tc.role)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestRequiredApprovals(t *testing.T) {
	zero, three := int32(0), int32(3)
	for _, tc := range []struct {
		set  *int32
		want int
	}{{nil, 1}, {&zero, 0}, {&three, 3}} {
		if got := RequiredApprovals(&accessv1alpha1.Role{RequiredApprovals: tc.set}); got != tc.want {
			t.Errorf("RequiredApprovals(%v) = %d, want %d", tc.set, got, tc.want)
		}
	}
}
