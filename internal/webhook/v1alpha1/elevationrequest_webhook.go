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
//   - The validating webhook enforces the policy on create (for each target:
//     connection and role exist, duration within every cap, the subject
//     allowed, the ClusterRole grantable, the subject's open requests under the
//     cap; and justification non-empty) and, on update, checks again that every
//     record change is one the user of this admission request was allowed to
//     make, in case another mutating webhook or a bypass changed the records
//     after the mutating webhook ran; and that nobody but the operator removes
//     the operator's finalizer from a request that may still hold access.
//
// Every record the webhooks write is signed (internal/records) with the
// operator's key; the controller acts only on records whose signature verifies.
package v1alpha1

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
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
	reader := CacheFirst{Cache: mgr.GetClient(), API: mgr.GetAPIReader()}
	mut := &Mutator{Authorizer: authz, Signer: opts.Signer, Now: time.Now, Reader: reader}
	val := &Validator{
		Authorizer: authz, Reader: reader,
		Signer: opts.Signer, OperatorUser: opts.OperatorUser, MaxOpenRequests: opts.MaxOpenRequests,
		Policy: RequestPolicy{MaxDuration: opts.MaxDuration, Grantable: opts.GrantableClusterRoles}, Now: time.Now,
	}
	srv := mgr.GetWebhookServer()
	srv.Register(MutatePath, (&webhook.Admission{Handler: mut}).WithRecoverPanic(true))
	srv.Register(ValidatePath, (&webhook.Admission{Handler: val}).WithRecoverPanic(true))
	return nil
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
