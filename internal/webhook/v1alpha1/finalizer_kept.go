package v1alpha1

import (
	"fmt"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// checkFinalizerKept refuses the removal of the operator's finalizer by anyone
// but the operator while the request may hold access. Only a terminal request
// (Revoked, Denied, Expired, Failed: written by the operator into status, which
// nobody else can write) holds nothing; any other phase, "" included, may have
// or get a grant, and deleting such a request must revoke and verify first.
func (v *Validator) checkFinalizerKept(old, obj *accessv1alpha1.ElevationRequest, req admission.Request) error {
	removed := slices.Contains(old.Finalizers, accessv1alpha1.Finalizer) && !slices.Contains(obj.Finalizers, accessv1alpha1.Finalizer)
	if !removed || req.UserInfo.Username == v.OperatorUser || old.Status.Phase.IsTerminal() {
		return nil
	}
	phase := string(old.Status.Phase)
	if phase == "" {
		phase = "not yet reconciled"
	}
	return fmt.Errorf("metadata.finalizers: %s is removed only by the elevator operator, after the request's access is revoked and verified gone (status.phase: %s); "+
		"to end access set %s=\"reason\" or delete the request, and the operator removes the finalizer itself",
		accessv1alpha1.Finalizer, phase, accessv1alpha1.AnnotationRevoke)
}
