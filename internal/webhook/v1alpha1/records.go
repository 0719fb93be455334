package v1alpha1

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// MaxTextLength caps the comment of an approval and the reason of a denial or a
// revocation, so that records stay readable and far below the annotation size limit.
const MaxTextLength = 1024

// triggerKeys are the annotations users set; recordKeys are the annotations only
// this webhook writes. Both lists are in a fixed order so messages are stable.
var (
	triggerKeys = []string{accessv1alpha1.AnnotationApprove, accessv1alpha1.AnnotationDeny, accessv1alpha1.AnnotationRevoke}
	recordKeys  = []string{accessv1alpha1.AnnotationRequestedBy, accessv1alpha1.AnnotationApprovals, accessv1alpha1.AnnotationDenial, accessv1alpha1.AnnotationRevocation}
)

// Records is the decoded content of the record annotations of a request.
type Records struct {
	RequestedBy string
	Approvals   []accessv1alpha1.ApprovalRecord
	Denial      *accessv1alpha1.DenialRecord
	Revocation  *accessv1alpha1.RevokeRecord
}

// ParseRecords decodes the record annotations. A record that is not valid JSON of
// its type, has trailing data, or names no user is an error naming the annotation.
func ParseRecords(annotations map[string]string) (Records, error) {
	rec := Records{RequestedBy: annotations[accessv1alpha1.AnnotationRequestedBy]}
	if v, ok := annotations[accessv1alpha1.AnnotationApprovals]; ok {
		if err := decodeStrict(v, &rec.Approvals); err != nil {
			return Records{}, fmt.Errorf("annotation %s: %w", accessv1alpha1.AnnotationApprovals, err)
		}
		for i, a := range rec.Approvals {
			if a.User == "" {
				return Records{}, fmt.Errorf("annotation %s: entry %d names no user", accessv1alpha1.AnnotationApprovals, i)
			}
		}
	}
	if v, ok := annotations[accessv1alpha1.AnnotationDenial]; ok {
		rec.Denial = &accessv1alpha1.DenialRecord{}
		if err := decodeStrict(v, rec.Denial); err != nil {
			return Records{}, fmt.Errorf("annotation %s: %w", accessv1alpha1.AnnotationDenial, err)
		}
		if rec.Denial.User == "" {
			return Records{}, fmt.Errorf("annotation %s: names no user", accessv1alpha1.AnnotationDenial)
		}
	}
	if v, ok := annotations[accessv1alpha1.AnnotationRevocation]; ok {
		rec.Revocation = &accessv1alpha1.RevokeRecord{}
		if err := decodeStrict(v, rec.Revocation); err != nil {
			return Records{}, fmt.Errorf("annotation %s: %w", accessv1alpha1.AnnotationRevocation, err)
		}
		if rec.Revocation.User == "" {
			return Records{}, fmt.Errorf("annotation %s: names no user", accessv1alpha1.AnnotationRevocation)
		}
	}
	return rec, nil
}

// decodeStrict decodes one JSON value, refusing unknown fields and trailing data,
// so a record means exactly what its fields say.
func decodeStrict(value string, into any) error {
	dec := json.NewDecoder(bytes.NewReader([]byte(value)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("not a valid record: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("not a valid record: trailing data after the JSON value")
	}
	return nil
}

// Encode writes the records into a copy of annotations: set records are encoded
// as JSON, unset ones are removed.
func (r Records) Encode(annotations map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(annotations)+len(recordKeys))
	for k, v := range annotations {
		out[k] = v
	}
	for _, k := range recordKeys {
		delete(out, k)
	}
	if r.RequestedBy != "" {
		out[accessv1alpha1.AnnotationRequestedBy] = r.RequestedBy
	}
	if err := putJSON(out, accessv1alpha1.AnnotationApprovals, r.Approvals, len(r.Approvals) > 0); err != nil {
		return nil, err
	}
	if err := putJSON(out, accessv1alpha1.AnnotationDenial, r.Denial, r.Denial != nil); err != nil {
		return nil, err
	}
	if err := putJSON(out, accessv1alpha1.AnnotationRevocation, r.Revocation, r.Revocation != nil); err != nil {
		return nil, err
	}
	return out, nil
}

func putJSON(out map[string]string, key string, v any, set bool) error {
	if !set {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode annotation %s: %w", key, err)
	}
	out[key] = string(b)
	return nil
}

// HasApproval reports whether user already approved.
func (r Records) HasApproval(user string) bool {
	for _, a := range r.Approvals {
		if a.User == user {
			return true
		}
	}
	return false
}

// changedRecordKeys lists the record annotations whose presence or value differs.
func changedRecordKeys(oldAnn, newAnn map[string]string) []string {
	var changed []string
	for _, k := range recordKeys {
		ov, oOK := oldAnn[k]
		nv, nOK := newAnn[k]
		if oOK != nOK || ov != nv {
			changed = append(changed, k)
		}
	}
	return changed
}

// InferTrigger works out which single trigger turns old into new: one approval
// appended, a denial set, or a revocation set, and nothing else changed. The
// validating webhook uses it to check the mutating webhook's work.
func InferTrigger(old, new Records) (Trigger, metav1.Time, error) {
	if old.RequestedBy != new.RequestedBy {
		return Trigger{}, metav1.Time{}, fmt.Errorf("%s cannot change: it is the user who created the request", accessv1alpha1.AnnotationRequestedBy)
	}
	var found []Trigger
	var at metav1.Time
	if !sameApprovals(old.Approvals, new.Approvals) {
		n := len(old.Approvals)
		if len(new.Approvals) != n+1 || !sameApprovals(old.Approvals, new.Approvals[:n]) {
			return Trigger{}, metav1.Time{}, fmt.Errorf("%s: existing approvals cannot be changed or removed, and only one may be added at a time", accessv1alpha1.AnnotationApprovals)
		}
		a := new.Approvals[n]
		found, at = append(found, Trigger{Key: accessv1alpha1.AnnotationApprove, Value: a.Comment}), a.At
	}
	if encodeOrEmpty(old.Denial) != encodeOrEmpty(new.Denial) {
		if old.Denial != nil || new.Denial == nil {
			return Trigger{}, metav1.Time{}, fmt.Errorf("%s: a denial is written once and never changed or removed", accessv1alpha1.AnnotationDenial)
		}
		found, at = append(found, Trigger{Key: accessv1alpha1.AnnotationDeny, Value: new.Denial.Reason}), new.Denial.At
	}
	if encodeOrEmpty(old.Revocation) != encodeOrEmpty(new.Revocation) {
		if old.Revocation != nil || new.Revocation == nil {
			return Trigger{}, metav1.Time{}, fmt.Errorf("%s: a revocation is written once and never changed or removed", accessv1alpha1.AnnotationRevocation)
		}
		found, at = append(found, Trigger{Key: accessv1alpha1.AnnotationRevoke, Value: new.Revocation.Reason}), new.Revocation.At
	}
	if len(found) != 1 {
		return Trigger{}, metav1.Time{}, fmt.Errorf("exactly one record may change per update, %d changed", len(found))
	}
	return found[0], at, nil
}

func sameApprovals(a, b []accessv1alpha1.ApprovalRecord) bool {
	return encodeOrEmpty(a) == encodeOrEmpty(b) || (len(a) == 0 && len(b) == 0)
}

// encodeOrEmpty is the canonical JSON of a record, for comparing records.
func encodeOrEmpty(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// sameRecords reports whether two sets of records encode to the same annotations.
func sameRecords(a, b Records) bool {
	ea, errA := a.Encode(nil)
	eb, errB := b.Encode(nil)
	return errA == nil && errB == nil && maps.Equal(ea, eb)
}
