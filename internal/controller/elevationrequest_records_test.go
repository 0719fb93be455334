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
