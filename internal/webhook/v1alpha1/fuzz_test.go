package v1alpha1

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// approverSet answers MayApprove from a fixed set of user names: the fuzz test
// explores the decision rules, the envtest suite checks the real authorizer.
type approverSet map[string]bool

func (s approverSet) MayApprove(_ context.Context, user authenticationv1.UserInfo, _, _ string) (bool, error) {
	return s[user.Username], nil
}

// MayBreakGlass answers from the same set, under "breakglass:" + the name.
func (s approverSet) MayBreakGlass(_ context.Context, user authenticationv1.UserInfo, _, _ string) (bool, error) {
	return s[BreakGlassVerb+":"+user.Username], nil
}

// FuzzTriggerAndRecords feeds arbitrary record annotations, trigger values,
// users and request specs to the decoding and the decision rules, and checks:
//   - nothing panics;
//   - records that decode re-encode to annotations that decode to the same records;
//   - an accepted trigger changes the records by exactly one record, made under
//     the admission user's name and never anyone else's, and never approves
//     for the subject or the requester;
//   - the validating webhook's inference recovers the same trigger from the change;
//   - a spec that passes CheckSpec has a non-blank justification and a parseable duration.
func FuzzTriggerAndRecords(f *testing.F) {
	at := `"at":"2026-01-01T00:00:00Z"`
	f.Add(`[{"user":"anna",`+at+`}]`, "", "", 0, "lgtm", "abe", "sam", "rita", "30m", "INC-1", "Pending")
	f.Add(`[{"user":"anna",`+at+`,"comment":"x"},{"user":"anna",`+at+`}]`, "", "", 0, "again", "anna", "sam", "rita", "1h", "j", "Active")
	f.Add("", `{"user":"abe",`+at+`,"reason":"no"}`, "", 0, "ok", "anna", "sam", "rita", "1h", "j", "Pending")
	f.Add("", "", `{"user":"sam",`+at+`}`, 2, "stop", "sam", "sam", "rita", "1h", "j", "Active")
	f.Add(`[{"user":"boss","at":"not a time"}]`, "", "", 0, `{"user":"boss"}`, "anna", "sam", "rita", "1h", " ", "Revoked")
	f.Add(`[{"user":"","at":null}]`, `null`, `{"user":"x","at":"2026-01-01T00:00:00Z","extra":1}`, 1, "", "sam", "sam", "sam", "-5m", "\t", "Denied")
	f.Add(`[] trailing`, `{}`, `[]`, 1, strings.Repeat("é", 600), "rita", "sam", "rita", "9999999h", "j", "")
	f.Add(`[{"user":"anna",`+at+`}]{"user":"abe"}`, "", "", 2, "\xff", "otto", "sam", "rita", "1h30m", "j", "Expired")

	f.Fuzz(func(t *testing.T, approvals, denial, revocation string, trig int, value, user, subj, requestedBy, duration, justification, phase string) {
		ann := map[string]string{accessv1alpha1.AnnotationRequestedBy: requestedBy}
		putIfSet(ann, accessv1alpha1.AnnotationApprovals, approvals)
		putIfSet(ann, accessv1alpha1.AnnotationDenial, denial)
		putIfSet(ann, accessv1alpha1.AnnotationRevocation, revocation)

		rec, err := ParseRecords(ann)
		if err != nil {
			return
		}
		checkRoundTrip(t, rec)

		old := &accessv1alpha1.ElevationRequest{
			ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "payments", Annotations: ann},
			Spec:       accessv1alpha1.ElevationRequestSpec{Subject: subj, Connection: "prod", Role: "admin", Duration: duration, Justification: justification},
			Status:     accessv1alpha1.ElevationRequestStatus{Phase: accessv1alpha1.Phase(phase)},
		}
		checkSpec(t, &old.Spec)

		key := triggerKeys[((trig%len(triggerKeys))+len(triggerKeys))%len(triggerKeys)]
		now := metav1.NewTime(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
		authz := approverSet{"anna": true, "abe": true, "sam": true, "rita": true}
		d, err := Decide(context.Background(), authz, old, rec, authenticationv1.UserInfo{Username: user}, Trigger{Key: key, Value: value}, now)
		if err != nil || d.NoOp {
			if d.NoOp && !sameRecords(d.Records, rec) {
				t.Fatalf("a no-op changed the records")
			}
			return
		}
		checkDecision(t, old, rec, d.Records, user, key, value)
	})
}

func putIfSet(ann map[string]string, key, value string) {
	if value != "" {
		ann[key] = value
	}
}

func checkRoundTrip(t *testing.T, rec Records) {
	enc, err := rec.Encode(nil)
	if err != nil {
		t.Fatalf("encode decoded records: %v", err)
	}
	again, err := ParseRecords(enc)
	if err != nil {
		t.Fatalf("decode encoded records %v: %v", enc, err)
	}
	enc2, err := again.Encode(nil)
	if err != nil || !sameRecords(rec, again) || len(enc) != len(enc2) {
		t.Fatalf("records do not round-trip: %v then %v", enc, enc2)
	}
	for k, v := range enc {
		if enc2[k] != v {
			t.Fatalf("annotation %s does not round-trip: %q then %q", k, v, enc2[k])
		}
	}
}

func checkSpec(t *testing.T, spec *accessv1alpha1.ElevationRequestSpec) {
	if CheckSpec(spec) != nil {
		return
	}
	if strings.TrimSpace(spec.Justification) == "" {
		t.Fatalf("a blank justification %q passed", spec.Justification)
	}
	if _, err := time.ParseDuration(spec.Duration); err != nil {
		t.Fatalf("an unparseable duration %q passed", spec.Duration)
	}
}

// checkDecision checks an accepted, effective trigger.
func checkDecision(t *testing.T, old *accessv1alpha1.ElevationRequest, before, after Records, user, key, value string) {
	if !utf8.ValidString(value) || len(value) > MaxTextLength {
		t.Fatalf("accepted a value that is not UTF-8 or too long: %d bytes", len(value))
	}
	if old.Status.Phase.IsTerminal() {
		t.Fatalf("changed a request in terminal phase %s", old.Status.Phase)
	}
	if key == accessv1alpha1.AnnotationApprove {
		if user == old.Spec.Subject || user == before.RequestedBy {
			t.Fatalf("recorded a self-approval by %q", user)
		}
		if before.Denial != nil {
			t.Fatalf("approved a denied request")
		}
	}
	for i, a := range after.Approvals {
		if i >= len(before.Approvals) && a.User != user {
			t.Fatalf("recorded an approval for %q, the admission user is %q", a.User, user)
		}
	}
	inferred, at, err := InferTrigger(before, after)
	if err != nil {
		t.Fatalf("the validating webhook cannot explain the mutating webhook's change: %v", err)
	}
	if inferred.Key != key || inferred.Value != value {
		t.Fatalf("inferred trigger %s=%q, applied %s=%q", inferred.Key, inferred.Value, key, value)
	}
	if recordUser(after, key) != user || !at.Equal(&metav1.Time{Time: time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)}) {
		t.Fatalf("the new record is not by %q at the admission time", user)
	}
	checkRoundTrip(t, after)
}

// recordUser is the user of the record a trigger of this key writes.
func recordUser(rec Records, key string) string {
	switch key {
	case accessv1alpha1.AnnotationApprove:
		return rec.Approvals[len(rec.Approvals)-1].User
	case accessv1alpha1.AnnotationDeny:
		return rec.Denial.User
	default:
		return rec.Revocation.User
	}
}
