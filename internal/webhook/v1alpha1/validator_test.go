package v1alpha1

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// These tests call the validating webhook directly with record changes that did
// not go through the mutating webhook (as if it were bypassed or another
// mutating webhook rewrote the records): the envtest suite cannot produce them,
// because there the mutating webhook always runs first.

var fixedNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func storedRequest(ann map[string]string) *accessv1alpha1.ElevationRequest {
	return &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "payments", Annotations: ann},
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

func TestValidatorRejectsRecordChangesTheMutatorWouldNotMake(t *testing.T) {
	base := map[string]string{
		accessv1alpha1.AnnotationRequestedBy: "rita",
		accessv1alpha1.AnnotationApprovals:   `[{"user":"anna","at":"2026-06-01T11:00:00Z","comment":"ok"}]`,
	}
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
	v := &Validator{Authorizer: approverSet{"anna": true, "abe": true, "sam": true}, Now: func() time.Time { return fixedNow }}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ann := map[string]string{}
			for k, val := range base {
				ann[k] = val
			}
			ann[tc.key] = tc.value
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

func TestValidatorAcceptsWhatTheMutatorWrites(t *testing.T) {
	authz := approverSet{"anna": true, "abe": true}
	m := &Mutator{Authorizer: authz, Now: func() time.Time { return fixedNow }}
	v := &Validator{Authorizer: authz, Now: func() time.Time { return fixedNow.Add(2 * time.Second) }}
	stored := map[string]string{accessv1alpha1.AnnotationRequestedBy: "rita"}
	for _, trig := range []Trigger{
		{accessv1alpha1.AnnotationApprove, "ok"},
		{accessv1alpha1.AnnotationDeny, "no"},
		{accessv1alpha1.AnnotationRevoke, "done"},
	} {
		t.Run(trig.Key, func(t *testing.T) {
			sent := map[string]string{accessv1alpha1.AnnotationRequestedBy: "rita", trig.Key: trig.Value}
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
