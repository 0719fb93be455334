package v1alpha1

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// reviewConcurrency bounds the SubjectAccessReviews in flight for one
// admission request: a namespace admin offering admin is asked about every
// permission of admin (hundreds), and one at a time that takes seconds.
const reviewConcurrency = 8

// AccessReviewer answers whether a user holds one permission in a namespace
// ("" for cluster-wide).
type AccessReviewer interface {
	Allowed(ctx context.Context, user authenticationv1.UserInfo, namespace string, p permission) (bool, error)
}

// SubjectAccessReviews is the AccessReviewer of the API server's authorizer.
type SubjectAccessReviews struct {
	Client client.Client
}

// Allowed implements AccessReviewer with one SubjectAccessReview.
func (s SubjectAccessReviews) Allowed(ctx context.Context, user authenticationv1.UserInfo, namespace string, p permission) (bool, error) {
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, Groups: user.Groups, UID: user.UID, Extra: extra,
	}}
	if p.Path != "" {
		sar.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: p.Path, Verb: p.Verb}
	} else {
		sar.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{
			Namespace: namespace, Verb: p.Verb, Group: p.Group, Resource: p.Resource, Subresource: p.Subresource, Name: p.Name,
		}
	}
	if err := s.Client.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("create SubjectAccessReview for %s: %w", p, err)
	}
	return sar.Status.Allowed && !sar.Status.Denied, nil
}

// EscalationCheck applies the rule Kubernetes applies to a user creating a
// RoleBinding or ClusterRoleBinding: the user holds bind on the ClusterRole in
// the binding's scope, or already holds every permission of the ClusterRole
// there. Checked for the author of a connection, it means the connection offers
// only what its author could have handed out directly.
type EscalationCheck struct {
	Reviewer AccessReviewer
	// ClusterRoles reads ClusterRoles; the API server, not a cache, so that a
	// role edited a moment ago is judged by its current rules.
	ClusterRoles client.Reader
}

// Check returns a rejection naming the binding's field when the user could not
// create the binding, or another error when the check itself failed.
func (e EscalationCheck) Check(ctx context.Context, user authenticationv1.UserInfo, b binding) error {
	mayBind, err := e.Reviewer.Allowed(ctx, user, b.Namespace, bindPermission(b.ClusterRole))
	if err != nil || mayBind {
		return err
	}
	role := &rbacv1.ClusterRole{}
	if err := e.ClusterRoles.Get(ctx, client.ObjectKey{Name: b.ClusterRole}, role); err != nil {
		if apierrors.IsNotFound(err) {
			return rejection{fmt.Errorf("%s: user %q may not bind ClusterRole %q %s: it has no verb \"bind\" on it, and the ClusterRole does not exist, so its permissions cannot be compared",
				b.Field, user.Username, b.ClusterRole, b.scope())}
		}
		return fmt.Errorf("read ClusterRole %s: %w", b.ClusterRole, err)
	}
	missing, err := e.firstMissing(ctx, user, b.Namespace, permissionsOf(role.Rules))
	if err != nil || missing == nil {
		return err
	}
	return rejection{fmt.Errorf("%s: user %q may not hand out ClusterRole %q %s: a connection offers only what its author could bind directly, "+
		"and the user neither has verb \"bind\" on clusterroles %q (group %s) %s nor holds every permission of the role there (it lacks %s)",
		b.Field, user.Username, b.ClusterRole, b.scope(), b.ClusterRole, rbacv1.GroupName, b.scope(), missing)}
}

// firstMissing returns a permission the user lacks in the namespace, or nil
// when it holds them all. Once one is missing no further review is started;
// those in flight are left to finish rather than cancelled, which would only
// leave errors in the log.
func (e EscalationCheck) firstMissing(ctx context.Context, user authenticationv1.UserInfo, namespace string, perms []permission) (*permission, error) {
	var (
		g       errgroup.Group
		mu      sync.Mutex
		missing *permission
	)
	g.SetLimit(reviewConcurrency)
	found := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return missing != nil
	}
	for i := range perms {
		if found() {
			break
		}
		g.Go(func() error {
			allowed, err := e.Reviewer.Allowed(ctx, user, namespace, perms[i])
			if err != nil || allowed {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if missing == nil {
				missing = &perms[i]
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return missing, nil
}
