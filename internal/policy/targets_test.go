package policy

import (
	"errors"
	"slices"
	"testing"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// A target's violation is checked on the spec for that target alone; InTarget
// then names the target's own field, or says which target a shared field broke.
func TestInTargetNamesTheTargetsField(t *testing.T) {
	pg := accessv1alpha1.Target{Connection: "pg", Role: "x"}
	conn := connection()
	conn.Name = "pg"
	_, missingRole := Check(request("x", "30m"), conn, 0)
	_, tooLong := Check(request("admin", "2h"), conn, 0)
	_, overGlobal := Check(request("admin", "30m"), conn, time.Hour)
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"a role of the target", missingRole, `spec.targets[2].role: role "x" does not exist in SaaSConnection "pg" (roles: [admin viewer broken])`},
		{"the target's connection", overGlobal, `spec.targets[2].connection: the connection's maxDuration 4h0m0s exceeds the operator's --max-duration 1h0m0s`},
		{"a shared field", tooLong, `spec.duration: 2h0m0s exceeds the maxDuration 1h0m0s of role "admin" (spec.targets[2]: pg/x)`},
		{"an error of no field", errors.New("read SaaSConnection pg: timeout"), `read SaaSConnection pg: timeout (spec.targets[2]: pg/x)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("the check found no violation to name")
			}
			if got := InTarget(tc.err, 2, pg).Error(); got != tc.want {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestConnectionsAreDistinctAndSorted(t *testing.T) {
	multi := &accessv1alpha1.ElevationRequestSpec{Targets: []accessv1alpha1.Target{
		{Connection: "pg", Role: "rw"}, {Connection: "cluster", Role: "admin"}, {Connection: "pg", Role: "ro"},
	}}
	if got := Connections(multi); !slices.Equal(got, []string{"cluster", "pg"}) {
		t.Errorf("Connections(targets) = %v, want [cluster pg]", got)
	}
	single := &accessv1alpha1.ElevationRequestSpec{Connection: "prod", Role: "admin"}
	if got := Connections(single); !slices.Equal(got, []string{"prod"}) {
		t.Errorf("Connections(single) = %v, want [prod]", got)
	}
}

func TestPendingTimeout(t *testing.T) {
	with := func(v string) *accessv1alpha1.SaaSConnection {
		c := connection()
		c.Spec.PendingTimeout = v
		return c
	}
	for _, tc := range []struct {
		name string
		conn *accessv1alpha1.SaaSConnection
		want time.Duration
	}{
		{"the connection's", with("90m"), 90 * time.Minute},
		{"unset", with(""), 24 * time.Hour},
		{"no connection", nil, 24 * time.Hour},
		{"not a duration", with("soon"), 24 * time.Hour},
		{"not positive", with("-1h"), 24 * time.Hour},
	} {
		if got := PendingTimeout(tc.conn); got != tc.want {
			t.Errorf("%s: PendingTimeout = %s, want %s", tc.name, got, tc.want)
		}
	}
}
