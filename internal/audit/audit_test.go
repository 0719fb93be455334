package audit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestRecordIsOneJSONLineWithTheAuditFields(t *testing.T) {
	var buf bytes.Buffer
	base := funcr.NewJSON(func(obj string) { buf.WriteString(obj + "\n") }, funcr.Options{})
	er := &accessv1alpha1.ElevationRequest{}
	er.Namespace, er.Name = "payments", "inc-4711-alice"
	er.Spec = accessv1alpha1.ElevationRequestSpec{Subject: "alice", Connection: "prod", Role: "admin"}
	er.Status.Phase = accessv1alpha1.PhaseRevoked
	verified := metav1.NewTime(time.Date(2026, 11, 28, 17, 0, 0, 0, time.UTC))
	er.Status.Revocation = &accessv1alpha1.Revocation{Reason: "Expired", VerifiedAt: &verified, Method: "GET"}

	New(base).Record(ActionVerify, er, "", "evidence", "absent")

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"logger": "audit", "action": "verify", "request": "payments/inc-4711-alice", "subject": "alice",
		"connection": "prod", "role": "admin", "phase": "Revoked", "actor": "elevator",
		"revocationReason": "Expired", "verifiedAt": "2026-11-28T17:00:00Z", "verificationMethod": "GET", "evidence": "absent",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
}
