package elevate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// approveVerb is the RBAC verb on a saasconnections object that makes a user an
// approver of its requests; the webhook asks the same question
// (internal/webhook/v1alpha1.ApproveVerb).
const approveVerb = "approve"

// whoami is the caller's user name as the API server authenticates it (what
// kubectl auth whoami shows): with --as, the impersonated user.
func (s *session) whoami(ctx context.Context) (string, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := s.client.Create(ctx, review); err != nil {
		return "", fmt.Errorf("ask the API server who you are (SelfSubjectReview): %w", err)
	}
	name := review.Status.UserInfo.Username
	if name == "" {
		return "", errors.New("the API server did not say who you are (SelfSubjectReview has no user name); give --subject")
	}
	return name, nil
}

// mayApprove asks the API server whether the caller may approve requests for
// connection in namespace: RBAC verb approve on that saasconnections object, the
// SubjectAccessReview the admission webhook makes for an approval.
func (s *session) mayApprove(ctx context.Context, namespace, connection string) (bool, error) {
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace,
			Verb:      approveVerb,
			Group:     accessv1alpha1.GroupVersion.Group,
			Resource:  "saasconnections",
			Name:      connection,
		},
	}}
	if err := s.client.Create(ctx, review); err != nil {
		return false, fmt.Errorf("ask whether you may approve for connection %s/%s (SelfSubjectAccessReview): %w", namespace, connection, err)
	}
	return review.Status.Allowed && !review.Status.Denied, nil
}

// get reads one request of the session's namespace.
func (s *session) get(ctx context.Context, name string) (*accessv1alpha1.ElevationRequest, error) {
	er := &accessv1alpha1.ElevationRequest{}
	if err := s.client.Get(ctx, types.NamespacedName{Namespace: s.namespace, Name: name}, er); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("elevationrequest %q not found in namespace %q", name, s.namespace)
		}
		return nil, fmt.Errorf("read elevationrequest %s/%s: %w", s.namespace, name, err)
	}
	return er, nil
}

// webhookDenial is the marker the API server puts before an admission
// webhook's message.
const webhookDenial = "denied the request: "

// explain turns an API error into one a person can act on: the admission
// webhook's refusal is shown as the webhook's own words.
func explain(what string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if _, reason, ok := strings.Cut(msg, webhookDenial); ok && strings.Contains(msg, "admission webhook") {
		return fmt.Errorf("%s: refused by the elevator admission webhook: %s", what, reason)
	}
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("%s: forbidden by the API server's RBAC: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
