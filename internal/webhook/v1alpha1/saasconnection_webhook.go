package v1alpha1

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/policy"
)

// ValidateConnectionPath is where the manager serves the SaaSConnection webhook.
const ValidateConnectionPath = "/validate-access-elevator-dev-v1alpha1-saasconnection"

// The timeout is the API's maximum: a namespace admin offering admin is
// checked permission by permission (see EscalationCheck).
// +kubebuilder:webhook:path=/validate-access-elevator-dev-v1alpha1-saasconnection,mutating=false,failurePolicy=fail,sideEffects=None,groups=access.elevator.dev,resources=saasconnections,verbs=create;update,versions=v1alpha1,name=vsaasconnection.access.elevator.dev,admissionReviewVersions=v1,timeoutSeconds=30

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=get

// SetupSaaSConnectionWebhookWithManager registers the validating webhook of
// SaaSConnection with the manager's webhook server.
func SetupSaaSConnectionWebhookWithManager(mgr ctrl.Manager, opts Options) error {
	val := &ConnectionValidator{
		Grantable:  opts.GrantableClusterRoles,
		Escalation: EscalationCheck{Reviewer: SubjectAccessReviews{Client: mgr.GetClient()}, ClusterRoles: mgr.GetAPIReader()},
	}
	mgr.GetWebhookServer().Register(ValidateConnectionPath, (&webhook.Admission{Handler: val}).WithRecoverPanic(true))
	return nil
}

// ConnectionValidator is the validating webhook of SaaSConnection: a
// connection may offer only grantable ClusterRoles, and only what its author
// could bind directly.
type ConnectionValidator struct {
	Grantable  policy.GrantableClusterRoles
	Escalation EscalationCheck
}

// Handle implements admission.Handler.
func (v *ConnectionValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	conn, err := decodeConnection(req.Object.Raw)
	if err != nil {
		return admission.Errored(400, err)
	}
	if err := v.checkGrantable(&conn.Spec); err != nil {
		return admission.Denied(err.Error())
	}
	if req.Operation == admissionv1.Update {
		old, err := decodeConnection(req.OldObject.Raw)
		if err != nil {
			return admission.Errored(400, err)
		}
		// Any change of the policy is checked in full: lowering a role's
		// approvals or raising a duration cap hands its ClusterRole out as
		// much as adding the role does. Metadata-only updates are not.
		if equality.Semantic.DeepEqual(old.Spec, conn.Spec) {
			return admission.Allowed("")
		}
	}
	denials, err := v.checkAuthor(ctx, req.UserInfo, bindingsOf(&conn.Spec))
	if err != nil {
		return admission.Errored(500, err)
	}
	if len(denials) > 0 {
		return admission.Denied(strings.Join(denials, "; "))
	}
	return admission.Allowed("")
}

// checkGrantable refuses any role binding a ClusterRole outside the
// operator's --grantable-cluster-roles, whoever the author is.
func (v *ConnectionValidator) checkGrantable(spec *accessv1alpha1.SaaSConnectionSpec) error {
	var msgs []string
	for i := range spec.Roles {
		if err := v.Grantable.CheckRole(fmt.Sprintf("spec.roles[%d]", i), &spec.Roles[i]); err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

// checkAuthor returns a message for every binding the author could not create
// directly, or an error when a check could not be made.
func (v *ConnectionValidator) checkAuthor(ctx context.Context, user authenticationv1.UserInfo, bindings []binding) ([]string, error) {
	var denials []string
	for _, b := range bindings {
		err := v.Escalation.Check(ctx, user, b)
		switch {
		case err == nil:
		case isRejection(err):
			denials = append(denials, err.Error())
		default:
			return nil, fmt.Errorf("check whether user %q may bind ClusterRole %q %s: %w", user.Username, b.ClusterRole, b.scope(), err)
		}
	}
	return denials, nil
}

// decodeConnection decodes a SaaSConnection from an admission request.
func decodeConnection(raw []byte) (*accessv1alpha1.SaaSConnection, error) {
	conn := &accessv1alpha1.SaaSConnection{}
	if err := json.Unmarshal(raw, conn); err != nil {
		return nil, fmt.Errorf("decode SaaSConnection: %w", err)
	}
	return conn, nil
}
