// Package identity finds out who the operator is to the API server, so that the
// admission webhook can tell the operator's own writes from everyone else's.
package identity

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=selfsubjectreviews,verbs=create

// Self asks the API server, with a SelfSubjectReview, which user c
// authenticates as: the name the API server puts in every admission request the
// operator's own writes cause. It is read, not configured, so it cannot drift
// from the credentials the operator really runs with.
func Self(ctx context.Context, c client.Client) (authenticationv1.UserInfo, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return authenticationv1.UserInfo{}, fmt.Errorf("SelfSubjectReview: %w", err)
	}
	if review.Status.UserInfo.Username == "" {
		return authenticationv1.UserInfo{}, fmt.Errorf("SelfSubjectReview: the API server returned no user name")
	}
	return review.Status.UserInfo, nil
}
