package v1alpha1

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/records"
)

// Mutator is the mutating webhook: it consumes triggers and writes records.
type Mutator struct {
	Authorizer Authorizer
	Signer     *records.Signer
	Now        func() time.Time
	// Reader reads the request's connections, for the pending timeout of an
	// approval or a break-glass and the role of a break-glass.
	Reader client.Reader
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
	trig, err := withPolicy(ctx, m.Reader, old, fresh[0])
	if err != nil {
		return admission.Errored(500, err)
	}
	d, err := Decide(ctx, m.Authorizer, old, rec, req.UserInfo, trig, metav1.NewTime(m.Now().UTC().Truncate(time.Second)))
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
