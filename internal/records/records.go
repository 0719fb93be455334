// Package records is the one codec of the record annotations of an
// ElevationRequest (requested-by, approvals, denial, revocation and their
// signature): the admission webhook writes them with it and the lifecycle
// controller reads them with it, so both decode with the same strictness.
//
// The webhook signs the records with an HMAC-SHA256 key only the operator holds
// (see Signer and EnsureKey); the controller trusts records only when the
// signature verifies, so a record typed by hand while the webhooks are off,
// missing or misconfigured approves nothing.
package records

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// Keys are the record annotations, in a fixed order so that messages are stable.
// Only the webhook writes them.
var Keys = []string{
	accessv1alpha1.AnnotationRequestedBy,
	accessv1alpha1.AnnotationApprovals,
	accessv1alpha1.AnnotationDenial,
	accessv1alpha1.AnnotationRevocation,
	accessv1alpha1.AnnotationBreakGlassRecord,
	accessv1alpha1.AnnotationReviewRecord,
	accessv1alpha1.AnnotationRecordsSignature,
}

// Records is the decoded content of the record annotations of a request.
type Records struct {
	RequestedBy string
	Approvals   []accessv1alpha1.ApprovalRecord
	Denial      *accessv1alpha1.DenialRecord
	Revocation  *accessv1alpha1.RevokeRecord
	BreakGlass  *accessv1alpha1.BreakGlassRecord
	Review      *accessv1alpha1.ReviewRecord
}

// Parse decodes the record annotations. A record that is not valid JSON of its
// type, has unknown fields or trailing data, or names no user is an error
// naming the annotation. Parse does not check the signature: see Signer.Verify.
func Parse(annotations map[string]string) (Records, error) {
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
		if err := decodeOne(accessv1alpha1.AnnotationDenial, v, rec.Denial, &rec.Denial.User); err != nil {
			return Records{}, err
		}
	}
	if v, ok := annotations[accessv1alpha1.AnnotationRevocation]; ok {
		rec.Revocation = &accessv1alpha1.RevokeRecord{}
		if err := decodeOne(accessv1alpha1.AnnotationRevocation, v, rec.Revocation, &rec.Revocation.User); err != nil {
			return Records{}, err
		}
	}
	if v, ok := annotations[accessv1alpha1.AnnotationBreakGlassRecord]; ok {
		rec.BreakGlass = &accessv1alpha1.BreakGlassRecord{}
		if err := decodeOne(accessv1alpha1.AnnotationBreakGlassRecord, v, rec.BreakGlass, &rec.BreakGlass.User); err != nil {
			return Records{}, err
		}
	}
	if v, ok := annotations[accessv1alpha1.AnnotationReviewRecord]; ok {
		rec.Review = &accessv1alpha1.ReviewRecord{}
		if err := decodeOne(accessv1alpha1.AnnotationReviewRecord, v, rec.Review, &rec.Review.User); err != nil {
			return Records{}, err
		}
	}
	return rec, nil
}

// decodeOne decodes the single record of annotation key into into, whose user
// field is user, and refuses a record that names no user.
func decodeOne(key, value string, into any, user *string) error {
	if err := decodeStrict(value, into); err != nil {
		return fmt.Errorf("annotation %s: %w", key, err)
	}
	if *user == "" {
		return fmt.Errorf("annotation %s: names no user", key)
	}
	return nil
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
// as JSON, unset ones and any signature are removed. Signer.Encode also signs.
func (r Records) Encode(annotations map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(annotations)+len(Keys))
	maps.Copy(out, annotations)
	for _, k := range Keys {
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
	if err := putJSON(out, accessv1alpha1.AnnotationBreakGlassRecord, r.BreakGlass, r.BreakGlass != nil); err != nil {
		return nil, err
	}
	if err := putJSON(out, accessv1alpha1.AnnotationReviewRecord, r.Review, r.Review != nil); err != nil {
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

// OnlyRequestedBy reports whether the records hold nothing but who created the
// request: what the webhook writes on create.
func (r Records) OnlyRequestedBy() bool {
	return len(r.Approvals) == 0 && r.Denial == nil && r.Revocation == nil && r.BreakGlass == nil && r.Review == nil
}

// Present reports whether any record annotation is set.
func Present(annotations map[string]string) bool {
	for _, k := range Keys {
		if _, ok := annotations[k]; ok {
			return true
		}
	}
	return false
}
