package v1alpha1

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/records"
)

// These tests call the validating webhook directly with record changes that did
// not go through the mutating webhook (as if it were bypassed or another
// mutating webhook rewrote the records): the envtest suite cannot produce them,
// because there the mutating webhook always runs first.

var fixedNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// unitSigner signs with the key of the unit tests.
var unitSigner = mustSigner([]byte("unit-test key, unit-test key, unit-test key"))

func mustSigner(key []byte) *records.Signer {
	s, err := records.NewSigner(key)
	if err != nil {
		panic(err)
	}
	return s
}

func storedRequest(ann map[string]string) *accessv1alpha1.ElevationRequest {
	return &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "payments", UID: "uid-r", Annotations: ann},
		Spec: accessv1alpha1.ElevationRequestSpec{
			Subject: "sam", Connection: "prod", Role: "admin", Duration: "30m", Justification: "INC-1",
		},
	}
}

func updateRequest(t *testing.T, user string, old, obj *accessv1alpha1.ElevationRequest) admission.Request {
	t.Helper()
	raw := func(o *accessv1alpha1.ElevationRequest) runtime.RawExtension {
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		return runtime.RawExtension{Raw: b}
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Update, Namespace: "payments",
		UserInfo: authenticationv1.UserInfo{Username: user},
		Object:   raw(obj), OldObject: raw(old),
	}}
}

// signed returns ann with its records signed by signer for storedRequest, as
// the mutating webhook would sign them; records that do not parse stay unsigned.
func signed(t *testing.T, signer *records.Signer, ann map[string]string) map[string]string {
	t.Helper()
	rec, err := records.Parse(ann)
	if err != nil {
		return ann
	}
	out, err := signer.Encode(storedRequest(nil), rec, ann)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The record changes below are signed with the operator's key, as if the
// mutating webhook had been bypassed by something holding the key: the
// validating webhook still refuses what no trigger by the user explains.
func TestValidatorRejectsRecordChangesTheMutatorWouldNotMake(t *testing.T) {
	base := signed(t, unitSigner, map[string]string{
		accessv1alpha1.AnnotationRequestedBy: "rita",
		accessv1alpha1.AnnotationApprovals:   `[{"user":"anna","at":"2026-06-01T11:00:00Z","comment":"ok"}]`,
	})
	now := `"at":"2026-06-01T12:00:00Z"`
	cases := []struct {
		name, user, key, value, want string
	}{
		{"an outsider appends an approval under their own name", "otto", accessv1alpha1.AnnotationApprovals,
			`[{"user":"anna","at":"2026-06-01T11:00:00Z","comment":"ok"},{"user":"otto",` + now + `}]`,
			`elevator.dev/approve: user "otto" is not an approver`},
		{"an approver appends an approval under another name", "abe", accessv1alpha1.AnnotationApprovals,
			`[{"user":"anna","at":"2026-06-01T11:00:00Z","comment":"ok"},{"user":"boss",` + now + `}]`,
			`the records changed in a way no elevator.dev/approve by user "abe" explains`},
		{"an approver rewrites an existing approval", "abe", accessv1alpha1.AnnotationApprovals,
			`[{"user":"anna","at":"2026-06-01T11:00:00Z","comment":"changed"}]`,
			`elevator.dev/approvals: existing approvals cannot be changed or removed`},
		{"an approver appends an approval with a back-dated time", "abe", accessv1alpha1.AnnotationApprovals,
			`[{"user":"anna","at":"2026-06-01T11:00:00Z","comment":"ok"},{"user":"abe","at":"2026-01-01T00:00:00Z"}]`,
			`elevator.dev/approve: the new record's time 2026-01-01T00:00:00Z is not now`},
		{"the requester rewrites requested-by", "rita", accessv1alpha1.AnnotationRequestedBy, "abe",
			`elevator.dev/requested-by cannot change`},
		{"the subject appends an approval for itself", "sam", accessv1alpha1.AnnotationApprovals,
			`[{"user":"anna","at":"2026-06-01T11:00:00Z","comment":"ok"},{"user":"sam",` + now + `}]`,
			`user "sam" is the subject of this request`},
		{"an approver writes a malformed record", "abe", accessv1alpha1.AnnotationDenial, `{"user":"abe"} x`,
			`annotation elevator.dev/denial: not a valid record`},
		{"a trigger left unconsumed", "abe", accessv1alpha1.AnnotationApprove, "ok",
			`elevator.dev/approve was not consumed`},
	}
	v := &Validator{Authorizer: approverSet{"anna": true, "abe": true, "sam": true}, Signer: unitSigner, Reader: unitReader(t), Now: func() time.Time { return fixedNow }}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ann := map[string]string{}
			for k, val := range base {
				ann[k] = val
			}
			ann[tc.key] = tc.value
			if tc.key != accessv1alpha1.AnnotationApprove {
				ann = signed(t, unitSigner, ann)
			}
			resp := v.Handle(context.Background(), updateRequest(t, tc.user, storedRequest(base), storedRequest(ann)))
			if resp.Allowed {
				t.Fatalf("allowed; want denied with %q", tc.want)
			}
			if !strings.Contains(resp.Result.Message, tc.want) {
				t.Fatalf("message %q does not contain %q", resp.Result.Message, tc.want)
			}
		})
	}
}

func TestValidatorRejectsRecordChangesNotSignedWithTheKey(t *testing.T) {
	base := signed(t, unitSigner, map[string]string{accessv1alpha1.AnnotationRequestedBy: "rita"})
	approval := `[{"user":"abe","at":"2026-06-01T12:00:00Z"}]`
	unsigned := map[string]string{accessv1alpha1.AnnotationRequestedBy: "rita", accessv1alpha1.AnnotationApprovals: approval}
	cases := map[string]map[string]string{
		"unsigned":                unsigned,
		"signed with another key": signed(t, mustSigner([]byte("some other key, some other key, ok")), unsigned),
		"old signature kept":      {accessv1alpha1.AnnotationRequestedBy: "rita", accessv1alpha1.AnnotationApprovals: approval, accessv1alpha1.AnnotationRecordsSignature: base[accessv1alpha1.AnnotationRecordsSignature]},
	}
	v := &Validator{Authorizer: approverSet{"abe": true}, Signer: unitSigner, Reader: unitReader(t), Now: func() time.Time { return fixedNow }}
	for name, ann := range cases {
		t.Run(name, func(t *testing.T) {
			resp := v.Handle(context.Background(), updateRequest(t, "abe", storedRequest(base), storedRequest(ann)))
			if resp.Allowed || !strings.Contains(resp.Result.Message, "the new records are not the ones the elevator mutating webhook signed") {
				t.Fatalf("allowed=%v message %q", resp.Allowed, resp.Result.Message)
			}
		})
	}
}

// Records typed while the webhooks were off are not built on: the next genuine
// trigger replaces them with what the operator recorded in status plus the new
// record, signed.
func TestMutatorReplacesUnsignedStoredRecords(t *testing.T) {
	m := &Mutator{Authorizer: approverSet{"abe": true}, Signer: unitSigner, Reader: unitReader(t), Now: func() time.Time { return fixedNow }}
	typed := map[string]string{
		accessv1alpha1.AnnotationRequestedBy: "mallory",
		accessv1alpha1.AnnotationApprovals:   `[{"user":"anna","at":"2026-06-01T11:00:00Z"}]`,
	}
	old := storedRequest(typed)
	old.Status.RequestedBy = "rita"
	sent := storedRequest(map[string]string{accessv1alpha1.AnnotationRequestedBy: "mallory", accessv1alpha1.AnnotationApprovals: typed[accessv1alpha1.AnnotationApprovals], accessv1alpha1.AnnotationApprove: "ok"})
	resp := m.Handle(context.Background(), updateRequest(t, "abe", old, sent))
	if !resp.Allowed || len(resp.Patches) != 1 || len(resp.Warnings) != 1 {
		t.Fatalf("allowed=%v patches=%v warnings=%v result=%v", resp.Allowed, resp.Patches, resp.Warnings, resp.Result)
	}
	written := storedRequest(resp.Patches[0].Value.(map[string]string))
	rec, err := unitSigner.Verify(written)
	if err != nil {
		t.Fatalf("the mutator's output does not verify: %v", err)
	}
	if rec.RequestedBy != "rita" || len(rec.Approvals) != 1 || rec.Approvals[0].User != "abe" {
		t.Fatalf("records %+v: want requested-by rita (from status) and only abe's approval", rec)
	}
}

func TestValidatorAcceptsWhatTheMutatorWrites(t *testing.T) {
	authz := approverSet{"anna": true, "abe": true}
	m := &Mutator{Authorizer: authz, Signer: unitSigner, Reader: unitReader(t), Now: func() time.Time { return fixedNow }}
	v := &Validator{Authorizer: authz, Signer: unitSigner, Reader: unitReader(t), Now: func() time.Time { return fixedNow.Add(2 * time.Second) }}
	stored := signed(t, unitSigner, map[string]string{accessv1alpha1.AnnotationRequestedBy: "rita"})
	for _, trig := range []Trigger{
		{Key: accessv1alpha1.AnnotationApprove, Value: "ok"},
		{Key: accessv1alpha1.AnnotationDeny, Value: "no"},
		{Key: accessv1alpha1.AnnotationRevoke, Value: "done"},
	} {
		t.Run(trig.Key, func(t *testing.T) {
			sent := maps.Clone(stored)
			sent[trig.Key] = trig.Value
			resp := m.Handle(context.Background(), updateRequest(t, "abe", storedRequest(stored), storedRequest(sent)))
			if !resp.Allowed || len(resp.Patches) != 1 {
				t.Fatalf("mutator: allowed=%v patches=%v result=%v", resp.Allowed, resp.Patches, resp.Result)
			}
			written, ok := resp.Patches[0].Value.(map[string]string)
			if !ok {
				t.Fatalf("mutator patch value is %T", resp.Patches[0].Value)
			}
			if _, left := written[trig.Key]; left {
				t.Fatalf("trigger %s not consumed: %v", trig.Key, written)
			}
			resp = v.Handle(context.Background(), updateRequest(t, "abe", storedRequest(stored), storedRequest(written)))
			if !resp.Allowed {
				t.Fatalf("validator denied the mutator's own output %v: %s", written, resp.Result.Message)
			}
			rec, err := ParseRecords(written)
			if err != nil || recordUser(rec, trig.Key) != "abe" {
				t.Fatalf("records %v (err %v) not by abe", written, err)
			}
		})
	}
}
