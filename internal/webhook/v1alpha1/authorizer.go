package v1alpha1

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

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

// BreakGlassVerb is the custom RBAC verb on saasconnections that lets the
// subject of a request approve it themselves, for a role whose breakGlass
// allows it.
const BreakGlassVerb = "breakglass"

// MayApprove reports whether user may use verb approve on the named
// saasconnection in namespace.
func (s SubjectAccessReviewer) MayApprove(ctx context.Context, user authenticationv1.UserInfo, namespace, connection string) (bool, error) {
	return s.may(ctx, user, namespace, connection, ApproveVerb)
}

// MayBreakGlass reports whether user may use verb breakglass on the named
// saasconnection in namespace.
func (s SubjectAccessReviewer) MayBreakGlass(ctx context.Context, user authenticationv1.UserInfo, namespace, connection string) (bool, error) {
	return s.may(ctx, user, namespace, connection, BreakGlassVerb)
}

func (s SubjectAccessReviewer) may(ctx context.Context, user authenticationv1.UserInfo, namespace, connection, verb string) (bool, error) {
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
				Verb:      verb,
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

// approverCacheTTL is how long an "allowed" answer is reused. One approval passes
// the mutating and then the validating webhook, both in this process, within
// milliseconds; both ask the same question. The kube-apiserver's own webhook
// authorizer keeps allowed answers for 5 minutes by default; this keeps them for
// seconds, so taking a user's approve permission away takes effect at once for
// all practical purposes.
const approverCacheTTL = 5 * time.Second

// approverCacheSize bounds the cache; it is cleared when full.
const approverCacheSize = 4096

// CachedAuthorizer remembers "allowed" answers of Next for approverCacheTTL.
// "Denied" answers and errors are never kept.
type CachedAuthorizer struct {
	Next Authorizer
	Now  func() time.Time

	mu      sync.Mutex
	allowed map[string]time.Time // key → when the answer expires
}

// MayApprove implements Authorizer.
func (c *CachedAuthorizer) MayApprove(ctx context.Context, user authenticationv1.UserInfo, namespace, connection string) (bool, error) {
	return c.cached(ctx, approverKey(user, namespace, connection), func() (bool, error) {
		return c.Next.MayApprove(ctx, user, namespace, connection)
	})
}

// MayBreakGlass implements Authorizer.
func (c *CachedAuthorizer) MayBreakGlass(ctx context.Context, user authenticationv1.UserInfo, namespace, connection string) (bool, error) {
	return c.cached(ctx, approverKey(user, namespace, connection)+BreakGlassVerb, func() (bool, error) {
		return c.Next.MayBreakGlass(ctx, user, namespace, connection)
	})
}

func (c *CachedAuthorizer) cached(_ context.Context, key string, ask func() (bool, error)) (bool, error) {
	now := c.Now()
	c.mu.Lock()
	expires, ok := c.allowed[key]
	c.mu.Unlock()
	if ok && now.Before(expires) {
		return true, nil
	}
	allowed, err := ask()
	if err != nil || !allowed {
		return allowed, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.allowed == nil || len(c.allowed) >= approverCacheSize {
		c.allowed = map[string]time.Time{}
	}
	c.allowed[key] = now.Add(approverCacheTTL)
	return true, nil
}

// approverKey is everything the authorizer's answer depends on, unambiguously
// joined (a JSON encoding, so no separator can be forged inside a name).
func approverKey(user authenticationv1.UserInfo, namespace, connection string) string {
	key, _ := json.Marshal([]any{user.Username, user.UID, user.Groups, user.Extra, namespace, connection})
	return string(key)
}
