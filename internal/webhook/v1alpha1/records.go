package v1alpha1

import (
	"encoding/json"
	"fmt"
	"maps"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/records"
)

// MaxTextLength caps the comment of an approval and the reason of a denial or a
// revocation, so that records stay readable and far below the annotation size
// limit; the CRD schema has the same maxLength on the status copies.
const MaxTextLength = accessv1alpha1.MaxRecordText

// MaxUserLength caps the user name in a record, as the CRD schema does in status.
const MaxUserLength = 512

// triggerKeys are the annotations users set; recordKeys are the annotations only
// this webhook writes (internal/records). Both lists are in a fixed order so
// messages are stable.
var (
	triggerKeys = []string{accessv1alpha1.AnnotationApprove, accessv1alpha1.AnnotationDeny, accessv1alpha1.AnnotationRevoke,
		accessv1alpha1.AnnotationBreakGlass, accessv1alpha1.AnnotationReview}
	recordKeys = records.Keys
)

// Records is the decoded content of the record annotations of a request; the
// codec is internal/records, shared with the controller.
type Records = records.Records

// ParseRecords decodes the record annotations without checking their signature.
func ParseRecords(annotations map[string]string) (Records, error) {
	return records.Parse(annotations)
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
	if encodeOrEmpty(old.BreakGlass) != encodeOrEmpty(new.BreakGlass) {
		if old.BreakGlass != nil || new.BreakGlass == nil {
			return Trigger{}, metav1.Time{}, fmt.Errorf("%s: a break-glass use is written once and never changed or removed", accessv1alpha1.AnnotationBreakGlassRecord)
		}
		found, at = append(found, Trigger{Key: accessv1alpha1.AnnotationBreakGlass, Value: new.BreakGlass.Reason}), new.BreakGlass.At
	}
	if encodeOrEmpty(old.Review) != encodeOrEmpty(new.Review) {
		if old.Review != nil || new.Review == nil {
			return Trigger{}, metav1.Time{}, fmt.Errorf("%s: a review is written once and never changed or removed", accessv1alpha1.AnnotationReviewRecord)
		}
		found, at = append(found, Trigger{Key: accessv1alpha1.AnnotationReview, Value: new.Review.Comment}), new.Review.At
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
