package controller

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/records"
)

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

func TestCountedApprovals(t *testing.T) {
	at := metav1.NewTime(time.Unix(100, 0))
	er := request(accessv1alpha1.PhasePending, func(er *accessv1alpha1.ElevationRequest) {
		er.Status.RequestedBy = "carol"
		er.Status.Approvals = []accessv1alpha1.ApprovalRecord{
			{User: "bob", At: at}, {User: "bob", At: at}, {User: "alice", At: at},
			{User: "carol", At: at}, {User: "", At: at}, {User: "dave", At: at},
		}
	})
	got := countedApprovals(er)
	var users []string
	for _, a := range got {
		users = append(users, a.User)
	}
	if len(users) != 2 || users[0] != "bob" || users[1] != "dave" {
		t.Fatalf("counted %v, want [bob dave]: one per user, never the subject, the requester or an empty name", users)
	}
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
			er.Status.ExpiresAt = timePtr(expires)
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

// testKey is the record-signing key of the unit tests and the envtest suite.
var testKey = []byte("0123456789abcdef0123456789abcdef")

func testSigner(t testing.TB) *records.Signer {
	t.Helper()
	s, err := records.NewSigner(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSyncRecordsCopiesSignedRecords(t *testing.T) {
	signer := testSigner(t)
	er := request(accessv1alpha1.PhasePending, func(er *accessv1alpha1.ElevationRequest) { er.UID = "uid-1" })
	ann, err := signer.Encode(er, records.Records{
		RequestedBy: "carol",
		Approvals:   []accessv1alpha1.ApprovalRecord{{User: "bob", At: metav1.Now(), Comment: "ok"}, {User: "dave", At: metav1.Now()}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	er.Annotations = ann
	(&ElevationRequestReconciler{Records: signer}).syncRecords(context.Background(), er)
	if er.Status.RequestedBy != "carol" {
		t.Errorf("requestedBy = %q, want carol", er.Status.RequestedBy)
	}
	if len(er.Status.Approvals) != 2 || er.Status.Approvals[0].User != "bob" || er.Status.Approvals[0].Comment != "ok" {
		t.Errorf("approvals = %+v, want bob's and dave's", er.Status.Approvals)
	}
	if er.Status.ApprovedBy != "bob,dave" {
		t.Errorf("approvedBy = %q, want bob,dave", er.Status.ApprovedBy)
	}
}

func TestSyncRecordsIgnoresRecordsWhoseSignatureFails(t *testing.T) {
	signer := testSigner(t)
	other, err := records.NewSigner([]byte("another key, another key, another"))
	if err != nil {
		t.Fatal(err)
	}
	approvals := `[{"user":"bob","at":"2026-01-01T00:00:00Z","comment":"ok"}]`
	signedFor := func(s *records.Signer, uid string) map[string]string {
		er := request(accessv1alpha1.PhasePending, func(er *accessv1alpha1.ElevationRequest) { er.UID = types.UID(uid) })
		rec, err := records.Parse(map[string]string{accessv1alpha1.AnnotationApprovals: approvals})
		if err != nil {
			t.Fatal(err)
		}
		ann, err := s.Encode(er, rec, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ann
	}
	forgedUser := signedFor(signer, "uid-1")
	forgedUser[accessv1alpha1.AnnotationApprovals] = `[{"user":"boss","at":"2026-01-01T00:00:00Z","comment":"ok"}]`
	cases := map[string]map[string]string{
		"typed, unsigned":                {accessv1alpha1.AnnotationApprovals: approvals, accessv1alpha1.AnnotationRevocation: `{"user":"alice","at":"2026-01-01T00:00:00Z"}`},
		"signed with another key":        signedFor(other, "uid-1"),
		"copied from another request":    signedFor(signer, "uid-2"),
		"approver renamed after signing": forgedUser,
	}
	for name, ann := range cases {
		t.Run(name, func(t *testing.T) {
			er := request(accessv1alpha1.PhasePending, func(er *accessv1alpha1.ElevationRequest) { er.UID, er.Annotations = "uid-1", ann })
			r := &ElevationRequestReconciler{Records: signer}
			r.syncRecords(context.Background(), er)
			if len(er.Status.Approvals) != 0 {
				t.Errorf("approvals = %+v, want none", er.Status.Approvals)
			}
			if rev := r.revokeRequest(er); rev != nil {
				t.Errorf("revocation %+v acted on", rev)
			}
		})
	}
}

func TestNoKeyTrustsNoRecord(t *testing.T) {
	er := request(accessv1alpha1.PhasePending, func(er *accessv1alpha1.ElevationRequest) {
		er.Annotations = map[string]string{accessv1alpha1.AnnotationApprovals: `[{"user":"bob","at":"2026-01-01T00:00:00Z"}]`}
	})
	(&ElevationRequestReconciler{}).syncRecords(context.Background(), er)
	if len(er.Status.Approvals) != 0 {
		t.Errorf("approvals = %+v, want none without a key", er.Status.Approvals)
	}
}

func TestPendingTimeout(t *testing.T) {
	conn := &accessv1alpha1.SaaSConnection{}
	if got := pendingTimeout(nil); got != 24*time.Hour {
		t.Errorf("no connection: %s, want 24h", got)
	}
	conn.Spec.PendingTimeout = "90s"
	if got := pendingTimeout(conn); got != 90*time.Second {
		t.Errorf("90s: got %s", got)
	}
	conn.Spec.PendingTimeout = "bogus"
	if got := pendingTimeout(conn); got != 24*time.Hour {
		t.Errorf("a malformed timeout falls back to the default, got %s", got)
	}
}

func TestEntitlementKeyDistinguishesFields(t *testing.T) {
	a := request("", func(er *accessv1alpha1.ElevationRequest) { er.Spec.Connection, er.Spec.Role = "c", "r/x" })
	b := request("", func(er *accessv1alpha1.ElevationRequest) { er.Spec.Connection, er.Spec.Role = "c/r", "x" })
	if entitlementKey(a) == entitlementKey(b) {
		t.Fatal("keys of different connection/role pairs must differ")
	}
}
