// Package v1alpha1 holds the admission webhooks of ElevationRequest: they bind
// approvals, denials and revocations to the identity the API server
// authenticated, and enforce the request policy when a request is created.
//
// Two webhooks, both on the main resource only (status is written by the
// operator through the status subresource):
//
//   - The mutating webhook consumes the trigger annotations (approve, deny,
//     revoke), checks who set them, and folds them into the record annotations;
//     on create it stamps requested-by with the creating user.
//   - The validating webhook enforces the policy on create (connection and role
//     exist, duration within every cap, justification non-empty, the subject's
//     open requests under the cap) and, on update, checks again that every
//     record change is one the user of this admission request was allowed to
//     make, in case another mutating webhook or a bypass changed the records
//     after the mutating webhook ran; and that nobody but the operator removes
//     the operator's finalizer from a request that may still hold access.
//
// Every record the webhooks write is signed (internal/records) with the
// operator's key; the controller acts only on records whose signature verifies.
package v1alpha1

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/policy"
	"github.com/elevator-dev/elevator/internal/records"
)

// Paths the manager serves the webhooks on; config/webhook/manifests.yaml is
// generated from the markers below and must name the same paths.
const (
	MutatePath   = "/mutate-access-elevator-dev-v1alpha1-elevationrequest"
	ValidatePath = "/validate-access-elevator-dev-v1alpha1-elevationrequest"
)

// +kubebuilder:webhook:path=/mutate-access-elevator-dev-v1alpha1-elevationrequest,mutating=true,failurePolicy=fail,sideEffects=None,groups=access.elevator.dev,resources=elevationrequests,verbs=create;update,versions=v1alpha1,name=melevationrequest.access.elevator.dev,admissionReviewVersions=v1,reinvocationPolicy=Never
// +kubebuilder:webhook:path=/validate-access-elevator-dev-v1alpha1-elevationrequest,mutating=false,failurePolicy=fail,sideEffects=None,groups=access.elevator.dev,resources=elevationrequests,verbs=create;update,versions=v1alpha1,name=velevationrequest.access.elevator.dev,admissionReviewVersions=v1

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=access.elevator.dev,resources=saasconnections,verbs=get;list

// Options configure the webhooks.
type Options struct {
	// MaxDuration is the operator's --max-duration; 0 means no global cap.
	MaxDuration time.Duration
	// GrantableClusterRoles is the operator's --grantable-cluster-roles: the
	// only ClusterRoles a SaaSConnection may offer. Nil allows none.
	GrantableClusterRoles policy.GrantableClusterRoles
	// Signer signs the records the webhooks write; required.
	Signer *records.Signer
	// OperatorUser is the user name the operator's own writes carry (found with
	// a SelfSubjectReview at start-up, internal/identity); required. Only this
	// user may remove the operator's finalizer from a request that may hold access.
	OperatorUser string
	// MaxOpenRequests caps the open (non-terminal) requests of one subject on
	// one connection; 0 means no cap.
	MaxOpenRequests int
}

// SetupElevationRequestWebhookWithManager registers the mutating and validating
// webhooks of ElevationRequest with the manager's webhook server.
func SetupElevationRequestWebhookWithManager(mgr ctrl.Manager, opts Options) error {
	if opts.Signer == nil || opts.OperatorUser == "" {
		return fmt.Errorf("the ElevationRequest webhooks need the record-signing key and the operator's own user name")
	}
	if err := indexOpenRequests(mgr); err != nil {
		return err
	}
	authz := &CachedAuthorizer{Next: SubjectAccessReviewer{Client: mgr.GetClient()}, Now: time.Now}
	mut := &Mutator{Authorizer: authz, Signer: opts.Signer, Now: time.Now}
	val := &Validator{
		Authorizer: authz, Reader: CacheFirst{Cache: mgr.GetClient(), API: mgr.GetAPIReader()},
		Signer: opts.Signer, OperatorUser: opts.OperatorUser, MaxOpenRequests: opts.MaxOpenRequests,
		MaxDuration: opts.MaxDuration, Now: time.Now,
	}
	srv := mgr.GetWebhookServer()
	srv.Register(MutatePath, (&webhook.Admission{Handler: mut}).WithRecoverPanic(true))
	srv.Register(ValidatePath, (&webhook.Admission{Handler: val}).WithRecoverPanic(true))
	return nil
}

// Mutator is the mutating webhook: it consumes triggers and writes records.
type Mutator struct {
	Authorizer Authorizer
	Signer     *records.Signer
	Now        func() time.Time
}

// Handle implements admission.Handler.
func (m *Mutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	obj, err := decodeRequest(req.Object.Raw, req.Namespace)
	if err != nil {
		return admission.Errored(400, err)
	}
	switch req.Operation {
	case admissionv1.Create:
		return m.create(obj, req)
	case admissionv1.Update:
		old, err := decodeRequest(req.OldObject.Raw, req.Namespace)
		if err != nil {
			return admission.Errored(400, err)
		}
		return m.update(ctx, old, obj, req)
	}
	return admission.Allowed("")
}

// create stamps requested-by and drops any other record the client sent; a
// trigger on create is refused, since the creator cannot approve their own request.
func (m *Mutator) create(obj *accessv1alpha1.ElevationRequest, req admission.Request) admission.Response {
	ann := obj.Annotations
	if keys := presentTriggers(ann); len(keys) > 0 {
		return admission.Denied(fmt.Sprintf("%s cannot be set when a request is created: create the request first, then an approver (not the requester or the subject) annotates it",
			strings.Join(keys, ", ")))
	}
	newAnn, err := m.Signer.Encode(obj, Records{RequestedBy: req.UserInfo.Username}, ann)
	if err != nil {
		return admission.Errored(500, err)
	}
	var warnings []string
	for _, k := range recordKeys {
		if v, ok := ann[k]; ok && v != newAnn[k] {
			warnings = append(warnings, fmt.Sprintf("%s is written only by the elevator webhook; the value sent was replaced", k))
		}
	}
	resp := patchAnnotations(ann, newAnn).WithWarnings(warnings...)
	if !slices.Contains(obj.Finalizers, accessv1alpha1.Finalizer) {
		// Added here, the finalizer costs the controller no write of its own.
		resp.Patches = append(resp.Patches, jsonpatch.JsonPatchOperation{
			Operation: "add", Path: "/metadata/finalizers", Value: append(slices.Clone(obj.Finalizers), accessv1alpha1.Finalizer)})
	}
	return resp
}

// update recomputes the records from the stored object plus the one trigger
// the user set in this request.
func (m *Mutator) update(ctx context.Context, old, obj *accessv1alpha1.ElevationRequest, req admission.Request) admission.Response {
	fresh := freshTriggers(old.Annotations, obj.Annotations)
	if len(fresh) > 1 {
		keys := make([]string, 0, len(fresh))
		for _, t := range fresh {
			keys = append(keys, t.Key)
		}
		return admission.Denied(fmt.Sprintf("set one of %s at a time, got %s", strings.Join(triggerKeys, ", "), strings.Join(keys, ", ")))
	}
	if changed := changedRecordKeys(old.Annotations, obj.Annotations); len(changed) > 0 {
		return admission.Denied(handEditMessage(changed))
	}
	newAnn := maps.Clone(obj.Annotations)
	for _, k := range triggerKeys {
		delete(newAnn, k)
	}
	if len(fresh) == 0 {
		return patchAnnotations(obj.Annotations, newAnn)
	}
	rec, distrust := trustedRecords(m.Signer, old)
	d, err := Decide(ctx, m.Authorizer, old, rec, req.UserInfo, fresh[0], metav1.NewTime(m.Now().UTC().Truncate(time.Second)))
	if err != nil {
		return admission.Denied(err.Error())
	}
	if d.NoOp && distrust == nil {
		return patchAnnotations(obj.Annotations, newAnn)
	}
	if newAnn, err = m.Signer.Encode(old, d.Records, newAnn); err != nil {
		return admission.Errored(500, err)
	}
	resp := patchAnnotations(obj.Annotations, newAnn)
	if distrust != nil {
		resp = resp.WithWarnings(fmt.Sprintf("the stored records were ignored and replaced (%v)", distrust))
	}
	return resp
}

// trustedRecords are the records of the stored request when their signature
// verifies. Otherwise (records typed while the webhooks were off, or signed
// with another key) they are replaced by what the operator itself wrote into
// status, so that one genuine approval never signs records nobody checked; the
// error says why they were not trusted.
func trustedRecords(signer *records.Signer, old *accessv1alpha1.ElevationRequest) (Records, error) {
	rec, err := signer.Verify(old)
	if err == nil {
		return rec, nil
	}
	return Records{RequestedBy: old.Status.RequestedBy}, err
}

// Validator is the validating webhook: policy on create, record integrity on update.
type Validator struct {
	Authorizer Authorizer
	// Reader reads connections and lists requests (through the index of
	// indexOpenRequests).
	Reader          ConnectionReader
	Signer          *records.Signer
	OperatorUser    string
	MaxOpenRequests int
	MaxDuration     time.Duration
	Now             func() time.Time
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
	if err := CheckPolicy(ctx, v.Reader, obj, req.UserInfo.Username, v.MaxDuration); err != nil {
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
	d, err := Decide(ctx, v.Authorizer, old, oldRec, req.UserInfo, trig, at)
	if err != nil {
		return err
	}
	if d.NoOp || !sameRecords(d.Records, newRec) {
		return fmt.Errorf("the records changed in a way no %s by user %q explains: %s", trig.Key, req.UserInfo.Username, handEditMessage(changedRecordKeys(old.Annotations, obj.Annotations)))
	}
	return nil
}

// handEditMessage explains that records are not edited by hand.
func handEditMessage(keys []string) string {
	return fmt.Sprintf("%s: written only by the elevator admission webhook and cannot be set or changed by hand; "+
		"to approve, deny or revoke set the trigger annotation instead, e.g. kubectl annotate elevationrequest/NAME %s=\"comment\"",
		strings.Join(keys, ", "), accessv1alpha1.AnnotationApprove)
}

// presentTriggers lists the trigger annotations set on an object.
func presentTriggers(ann map[string]string) []string {
	var keys []string
	for _, k := range triggerKeys {
		if _, ok := ann[k]; ok {
			keys = append(keys, k)
		}
	}
	return keys
}

// freshTriggers lists the triggers this update sets. A trigger already stored
// with the same value (written while the webhook was not running) is no one's
// act in this update; the mutator drops it without effect.
func freshTriggers(oldAnn, newAnn map[string]string) []Trigger {
	var out []Trigger
	for _, k := range triggerKeys {
		nv, ok := newAnn[k]
		if !ok {
			continue
		}
		if ov, had := oldAnn[k]; had && ov == nv {
			continue
		}
		out = append(out, Trigger{Key: k, Value: nv})
	}
	return out
}

// patchAnnotations answers with a patch that replaces metadata.annotations, or
// with no patch when nothing changed.
func patchAnnotations(oldAnn, newAnn map[string]string) admission.Response {
	if maps.Equal(oldAnn, newAnn) {
		return admission.Allowed("")
	}
	if len(newAnn) == 0 {
		return admission.Patched("", jsonpatch.JsonPatchOperation{Operation: "remove", Path: "/metadata/annotations"})
	}
	return admission.Patched("", jsonpatch.JsonPatchOperation{Operation: "add", Path: "/metadata/annotations", Value: newAnn})
}

// decodeRequest decodes an ElevationRequest from an admission request.
func decodeRequest(raw []byte, namespace string) (*accessv1alpha1.ElevationRequest, error) {
	obj := &accessv1alpha1.ElevationRequest{}
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, fmt.Errorf("decode ElevationRequest: %w", err)
	}
	if obj.Namespace == "" {
		obj.Namespace = namespace
	}
	return obj, nil
}
