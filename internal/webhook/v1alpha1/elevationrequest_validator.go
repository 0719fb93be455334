package v1alpha1

import (
	"context"
	"fmt"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/records"
)

// Validator is the validating webhook: policy on create, record integrity on update.
type Validator struct {
	Authorizer Authorizer
	// Reader reads connections and lists requests (through the index of
	// indexOpenRequests).
	Reader          ConnectionReader
	Signer          *records.Signer
	OperatorUser    string
	MaxOpenRequests int
	// Policy holds the operator's caps a new request is checked against.
	Policy RequestPolicy
	Now    func() time.Time
}

// Handle implements admission.Handler.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	obj, err := decodeRequest(req.Object.Raw, req.Namespace)
	if err != nil {
		return admission.Errored(400, err)
	}
	if keys := presentTriggers(obj.Annotations); len(keys) > 0 {
		return admission.Denied(fmt.Sprintf("%s was not consumed: the elevator mutating webhook must run before this one", strings.Join(keys, ", ")))
	}
	switch req.Operation {
	case admissionv1.Create:
		return v.create(ctx, obj, req)
	case admissionv1.Update:
		old, err := decodeRequest(req.OldObject.Raw, req.Namespace)
		if err != nil {
			return admission.Errored(400, err)
		}
		if err := v.checkFinalizerKept(old, obj, req); err != nil {
			return admission.Denied(err.Error())
		}
		if err := v.checkRecordChange(ctx, old, obj, req); err != nil {
			return admission.Denied(err.Error())
		}
	}
	return admission.Allowed("")
}

func (v *Validator) create(ctx context.Context, obj *accessv1alpha1.ElevationRequest, req admission.Request) admission.Response {
	rec, err := v.Signer.Verify(obj)
	if err != nil {
		return admission.Denied(fmt.Sprintf("the records are not the ones the elevator mutating webhook signed: %v", err))
	}
	if rec.RequestedBy != req.UserInfo.Username || len(rec.Approvals) > 0 || rec.Denial != nil || rec.Revocation != nil {
		return admission.Denied(fmt.Sprintf("%s must be the creating user %q and no approval, denial or revocation may be set on create: the elevator mutating webhook must run before this one",
			accessv1alpha1.AnnotationRequestedBy, req.UserInfo.Username))
	}
	if err := CheckPolicy(ctx, v.Reader, obj, req.UserInfo.Username, v.Policy); err != nil {
		return policyResponse(err)
	}
	if err := checkOpenRequests(ctx, v.Reader, obj, v.MaxOpenRequests); err != nil {
		return policyResponse(err)
	}
	return admission.Allowed("")
}

// policyResponse denies a rejection with its message, and answers a failure to
// check as an error.
func policyResponse(err error) admission.Response {
	if isRejection(err) {
		return admission.Denied(err.Error())
	}
	return admission.Errored(500, err)
}

// checkRecordChange accepts an update whose records are unchanged, or changed by
// exactly the one record a trigger by this user would have produced.
func (v *Validator) checkRecordChange(ctx context.Context, old, obj *accessv1alpha1.ElevationRequest, req admission.Request) error {
	if len(changedRecordKeys(old.Annotations, obj.Annotations)) == 0 {
		return nil
	}
	oldRec, _ := trustedRecords(v.Signer, old)
	// The mutating webhook signed with the stored object's UID.
	verifiable := obj.DeepCopy()
	verifiable.UID = old.UID
	newRec, err := v.Signer.Verify(verifiable)
	if err != nil {
		return fmt.Errorf("the new records are not the ones the elevator mutating webhook signed: %w", err)
	}
	trig, at, err := InferTrigger(oldRec, newRec)
	if err != nil {
		return err
	}
	if skew := v.Now().Sub(at.Time); skew > 5*time.Minute || skew < -5*time.Minute {
		return fmt.Errorf("%s: the new record's time %s is not now", trig.Key, at.UTC().Format(time.RFC3339))
	}
	if trig, err = withPolicy(ctx, v.Reader, old, trig); err != nil {
		return err
	}
	d, err := Decide(ctx, v.Authorizer, old, oldRec, req.UserInfo, trig, at)
	if err != nil {
		return err
	}
	if d.NoOp || !sameRecords(d.Records, newRec) {
		return fmt.Errorf("the records changed in a way no %s by user %q explains: %s", trig.Key, req.UserInfo.Username, handEditMessage(changedRecordKeys(old.Annotations, obj.Annotations)))
	}
	return nil
}
