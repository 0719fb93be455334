package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// request is a request in the phase, changed by each mutate in turn.
func request(phase accessv1alpha1.Phase, mutate ...func(*accessv1alpha1.ElevationRequest)) *accessv1alpha1.ElevationRequest {
	er := &accessv1alpha1.ElevationRequest{}
	er.Spec.Subject = "alice"
	er.Status.Phase = phase
	for _, m := range mutate {
		m(er)
	}
	return er
}

func withGrant(preexisting bool) func(*accessv1alpha1.ElevationRequest) {
	return func(er *accessv1alpha1.ElevationRequest) {
		er.Status.Grant = &accessv1alpha1.GrantAttempt{Preexisting: preexisting}
	}
}

func deleting(er *accessv1alpha1.ElevationRequest) {
	now := metav1.Now()
	er.DeletionTimestamp = &now
}

func TestHoldsAccess(t *testing.T) {
	cases := []struct {
		name string
		er   *accessv1alpha1.ElevationRequest
		want bool
	}{
		{"pending", request(accessv1alpha1.PhasePending), false},
		{"approved, grant not started", request(accessv1alpha1.PhaseApproved), false},
		{"approved, grant started", request(accessv1alpha1.PhaseApproved, withGrant(false)), true},
		{"active", request(accessv1alpha1.PhaseActive, withGrant(false)), true},
		{"revoking", request(accessv1alpha1.PhaseRevoking, withGrant(false)), true},
		{"revoked", request(accessv1alpha1.PhaseRevoked, withGrant(false)), false},
		{"failed", request(accessv1alpha1.PhaseFailed, withGrant(false)), false},
	}
	for _, tc := range cases {
		if got := holdsAccess(tc.er); got != tc.want {
			t.Errorf("%s: holdsAccess = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestHoldsForOthers(t *testing.T) {
	cases := []struct {
		name string
		er   *accessv1alpha1.ElevationRequest
		want bool
	}{
		{"active", request(accessv1alpha1.PhaseActive, withGrant(false)), true},
		{"approved with grant started", request(accessv1alpha1.PhaseApproved, withGrant(false)), true},
		{"approved without grant", request(accessv1alpha1.PhaseApproved), false},
		{"active on standing access", request(accessv1alpha1.PhaseActive, withGrant(true)), false},
		{"active but being deleted", request(accessv1alpha1.PhaseActive, withGrant(false), deleting), false},
		// A revoking request must not hold for others, or two expiring requests
		// would each wait for the other forever.
		{"revoking", request(accessv1alpha1.PhaseRevoking, withGrant(false)), false},
	}
	for _, tc := range cases {
		if got := holdsForOthers(tc.er); got != tc.want {
			t.Errorf("%s: holdsForOthers = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMadeByElevator(t *testing.T) {
	cases := []struct {
		name string
		er   *accessv1alpha1.ElevationRequest
		want bool
	}{
		{"active", request(accessv1alpha1.PhaseActive, withGrant(false)), true},
		// A request whose revocation is still being retried made the membership:
		// a new request must not take it for standing access.
		{"revoking, not yet verified", request(accessv1alpha1.PhaseRevoking, withGrant(false)), true},
		{"approved with grant started", request(accessv1alpha1.PhaseApproved, withGrant(false)), true},
		{"approved without grant", request(accessv1alpha1.PhaseApproved), false},
		{"on standing access", request(accessv1alpha1.PhaseActive, withGrant(true)), false},
		{"revoked and verified", request(accessv1alpha1.PhaseRevoked, withGrant(false)), false},
	}
	for _, tc := range cases {
		if got := madeByElevator(tc.er); got != tc.want {
			t.Errorf("%s: madeByElevator = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIsOverdue(t *testing.T) {
	now := time.Unix(1000, 0)
	revoking := func(reason string, attempts int32, expires time.Time, retainedBy string) *accessv1alpha1.ElevationRequest {
		return request(accessv1alpha1.PhaseRevoking, func(er *accessv1alpha1.ElevationRequest) {
			er.Status.ExpiresAt = accessv1alpha1.NewMilliTime(expires)
			er.Status.Revocation = &accessv1alpha1.Revocation{Reason: reason, Attempts: attempts, RetainedBy: retainedBy}
		})
	}
	cases := []struct {
		name string
		er   *accessv1alpha1.ElevationRequest
		want bool
	}{
		{"first attempt not yet failed", revoking(accessv1alpha1.RevocationExpired, 0, now.Add(-time.Second), ""), false},
		{"expired and failing", revoking(accessv1alpha1.RevocationExpired, 1, now.Add(-time.Second), ""), true},
		{"retained by another holder", revoking(accessv1alpha1.RevocationExpired, 1, now.Add(-time.Second), "ns/other"), false},
		{"early revoke failing before expiry", revoking(accessv1alpha1.RevocationEarly, 2, now.Add(time.Hour), ""), true},
		{"active", request(accessv1alpha1.PhaseActive), false},
	}
	for _, tc := range cases {
		if got := isOverdue(tc.er, now); got != tc.want {
			t.Errorf("%s: isOverdue = %v, want %v", tc.name, got, tc.want)
		}
	}
}
