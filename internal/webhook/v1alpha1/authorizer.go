package v1alpha1

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// ApproveVerb is the custom RBAC verb on saasconnections that makes a user an
// approver of requests for that connection (cert-manager's approve-on-signers pattern).
const ApproveVerb = "approve"

// SubjectAccessReviewer asks the API server's authorizer, with a
// SubjectAccessReview, whether a user may approve for a connection.
type SubjectAccessReviewer struct {
	Client client.Client
}

// MayApprove reports whether user may use verb approve on the named
// saasconnection in namespace.
func (s SubjectAccessReviewer) MayApprove(ctx context.Context, user authenticationv1.UserInfo, namespace, connection string) (bool, error) {
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   user.Username,
			Groups: user.Groups,
			UID:    user.UID,
			Extra:  extra,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: namespace,
				Verb:      ApproveVerb,
				Group:     accessv1alpha1.GroupVersion.Group,
				Resource:  "saasconnections",
				Name:      connection,
			},
		},
	}
	if err := s.Client.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("create SubjectAccessReview: %w", err)
	}
	return sar.Status.Allowed && !sar.Status.Denied, nil
}
