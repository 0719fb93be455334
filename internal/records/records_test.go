package records

import (
	"errors"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func testRequest() *accessv1alpha1.ElevationRequest {
	return &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "payments", UID: "uid-1"},
		Spec:       accessv1alpha1.ElevationRequestSpec{Subject: "sam", Connection: "prod", Role: "admin", Duration: "30m", Justification: "INC-1"},
	}
}

func mustSigner(t *testing.T, key string) *Signer {
	t.Helper()
	s, err := NewSigner([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignedRecordsVerifyOnlyOnTheirRequest(t *testing.T) {
	s := mustSigner(t, "records unit test key, 32 bytes+")
	er := testRequest()
	rec := Records{RequestedBy: "rita", Approvals: []accessv1alpha1.ApprovalRecord{{User: "anna", At: metav1.Now()}}}
	ann, err := s.Encode(er, rec, map[string]string{"team": "billing"})
	if err != nil {
		t.Fatal(err)
	}
	er.Annotations = ann
	got, err := s.Verify(er)
	if err != nil || got.RequestedBy != "rita" || len(got.Approvals) != 1 {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	changes := map[string]func(*accessv1alpha1.ElevationRequest){
		"another UID":       func(er *accessv1alpha1.ElevationRequest) { er.UID = "uid-2" },
		"another name":      func(er *accessv1alpha1.ElevationRequest) { er.Name = "r2" },
		"another namespace": func(er *accessv1alpha1.ElevationRequest) { er.Namespace = "other" },
		"another spec":      func(er *accessv1alpha1.ElevationRequest) { er.Spec.Duration = "4h" },
		"an approval added": func(er *accessv1alpha1.ElevationRequest) {
			er.Annotations[accessv1alpha1.AnnotationApprovals] = `[{"user":"anna","at":"2026-01-01T00:00:00Z"},{"user":"abe","at":"2026-01-01T00:00:00Z"}]`
		},
		"a bare signature": func(er *accessv1alpha1.ElevationRequest) {
			er.Annotations[accessv1alpha1.AnnotationRecordsSignature] = "deadbeef"
		},
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			c := er.DeepCopy()
			change(c)
			if _, err := s.Verify(c); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify error = %v, want ErrBadSignature", err)
			}
		})
	}
	if _, err := mustSigner(t, "another key, another key, another").Verify(er); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("another key: %v", err)
	}
	var none *Signer
	if _, err := none.Verify(er); !errors.Is(err, ErrNoKey) {
		t.Fatalf("no key: %v", err)
	}
}

func TestCreateSignatureCoversOnlyRequestedBy(t *testing.T) {
	s := mustSigner(t, "records unit test key, 32 bytes+")
	creating := testRequest()
	creating.Name, creating.UID = "", ""
	ann, err := s.Encode(creating, Records{RequestedBy: "rita"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := testRequest()
	stored.Annotations = ann
	if got, err := s.Verify(stored); err != nil || got.RequestedBy != "rita" {
		t.Fatalf("the create-time signature must verify once the name and UID are set: %+v, %v", got, err)
	}
	stored.Annotations[accessv1alpha1.AnnotationApprovals] = `[{"user":"anna","at":"2026-01-01T00:00:00Z"}]`
	if _, err := s.Verify(stored); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("an unbound signature must not cover an approval: %v", err)
	}
}

func TestUnsignedAndMalformedRecords(t *testing.T) {
	s := mustSigner(t, "records unit test key, 32 bytes+")
	er := testRequest()
	if rec, err := s.Verify(er); err != nil || rec.RequestedBy != "" {
		t.Fatalf("no records: %+v, %v", rec, err)
	}
	er.Annotations = map[string]string{accessv1alpha1.AnnotationApprovals: `[{"user":"anna","at":"2026-01-01T00:00:00Z"}]`}
	if _, err := s.Verify(er); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("unsigned: %v", err)
	}
	er.Annotations[accessv1alpha1.AnnotationApprovals] = `[{"user":"anna"}] trailing`
	if _, err := s.Verify(er); err == nil {
		t.Fatal("malformed records must not verify")
	}
}

func TestNewSignerRefusesShortKeys(t *testing.T) {
	if _, err := NewSigner(make([]byte, KeySize-1)); err == nil {
		t.Fatal("a 31-byte key must be refused")
	}
}

func TestKeySecret(t *testing.T) {
	cases := []struct {
		flag, user string
		want       types.NamespacedName
		wantErr    bool
	}{
		{"", "system:serviceaccount:elevator-system:elevator-controller-manager", types.NamespacedName{Namespace: "elevator-system", Name: DefaultKeySecretName}, false},
		{"", "system:serviceaccount:ops:elevator", types.NamespacedName{Namespace: "ops", Name: DefaultKeySecretName}, false},
		{"", "kubernetes-admin", types.NamespacedName{Namespace: DefaultKeyNamespace, Name: DefaultKeySecretName}, false},
		{"sec/key", "anyone", types.NamespacedName{Namespace: "sec", Name: "key"}, false},
		{"no-slash", "anyone", types.NamespacedName{}, true},
		{"/name", "anyone", types.NamespacedName{}, true},
	}
	for _, tc := range cases {
		got, err := KeySecret(tc.flag, tc.user)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("KeySecret(%q, %q) = %v, %v; want %v (error %v)", tc.flag, tc.user, got, err, tc.want, tc.wantErr)
		}
	}
}

// signedBeforeConnections are the record annotations of testRequest as the
// webhook signed them before ApprovalRecord had connections (commit 853a509):
// the bytes are fixed here, not made by the code under test.
var signedBeforeConnections = map[string]string{
	accessv1alpha1.AnnotationRequestedBy:      "rita",
	accessv1alpha1.AnnotationApprovals:        `[{"user":"anna","at":"2026-11-30T09:15:00Z","comment":"ok"}]`,
	accessv1alpha1.AnnotationRecordsSignature: "v1:bHmMFDJwqwoOwRkhshNdgz0ojPHaRAbtMEa6zyFZ6es",
}

func TestASignatureFromBeforeConnectionsStillVerifies(t *testing.T) {
	s := mustSigner(t, "records unit test key, 32 bytes+")
	er := testRequest()
	er.Annotations = signedBeforeConnections
	rec, err := s.Verify(er)
	if err != nil {
		t.Fatalf("a single-target record signed before connections existed no longer verifies: %v", err)
	}
	if len(rec.Approvals) != 1 || rec.Approvals[0].User != "anna" || rec.Approvals[0].Connections != nil {
		t.Fatalf("records %+v: want anna's approval with no connections", rec)
	}
	again, err := s.Encode(er, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := again[accessv1alpha1.AnnotationRecordsSignature]; got != signedBeforeConnections[accessv1alpha1.AnnotationRecordsSignature] {
		t.Fatalf("re-signing the same records gives %s, want the old signature", got)
	}
}

func TestTheSignatureCoversAnApprovalsConnections(t *testing.T) {
	s := mustSigner(t, "records unit test key, 32 bytes+")
	er := testRequest()
	er.Spec.Connection, er.Spec.Role = "", ""
	er.Spec.Targets = []accessv1alpha1.Target{{Connection: "cluster", Role: "admin"}, {Connection: "pg", Role: "rw"}}
	at := metav1.NewTime(time.Date(2026, 11, 30, 9, 15, 0, 0, time.UTC))
	rec := Records{RequestedBy: "rita", Approvals: []accessv1alpha1.ApprovalRecord{{User: "anna", At: at, Connections: []string{"cluster"}}}}
	ann, err := s.Encode(er, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	er.Annotations = ann
	if got, err := s.Verify(er); err != nil || !slices.Equal(got.Approvals[0].Connections, []string{"cluster"}) {
		t.Fatalf("Verify = %+v, %v; want anna's approval for cluster", got, err)
	}
	for name, approvals := range map[string]string{
		"a connection added":      `[{"user":"anna","at":"2026-11-30T09:15:00Z","connections":["cluster","pg"]}]`,
		"the connection swapped":  `[{"user":"anna","at":"2026-11-30T09:15:00Z","connections":["pg"]}]`,
		"the connections removed": `[{"user":"anna","at":"2026-11-30T09:15:00Z"}]`,
	} {
		t.Run(name, func(t *testing.T) {
			c := er.DeepCopy()
			c.Annotations[accessv1alpha1.AnnotationApprovals] = approvals
			if _, err := s.Verify(c); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify error = %v, want ErrBadSignature", err)
			}
		})
	}
}
