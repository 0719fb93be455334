// Package provider is the one narrow interface between Elevator's lifecycle
// controller and a downstream system, in the shape of crossplane-runtime's
// ExternalClient: Grant, Revoke, Check and Health.
//
// The contract every implementation keeps:
//
//   - Every call is idempotent. Granting what is already granted, and revoking
//     what is already gone, are successes. The controller repeats any call after
//     a crash or a conflict.
//   - Grant resolves the subject and the role in the target (exactly one user;
//     anything else is a Permanent error naming the subject) and returns what
//     it resolved, the Grant's Target. The controller stores it in
//     status.grant.target and hands it back in Entitlement.Target.
//   - With Entitlement.Target set, Revoke and Check act on that stored identity
//     at the stored endpoint, and never resolve the subject again through the
//     connection's current settings (a changed URL, user filter or credentials,
//     or a user renamed in the target, must not change what is revoked). A user
//     that can no longer be found is not proof of removal: Check reads the
//     group's members by the stored id. Only without a stored Target (a grant
//     made before targets were stored) do they resolve again, and Check says so
//     in its evidence.
//   - Check reads the target fresh, never from a cache, and says what it read in
//     Observation.Method and Observation.Evidence. The controller marks nothing
//     revoked until a Check says the entitlement is absent. When it is absent,
//     Observation.Residual names every other path by which the subject still
//     holds the role's access, as far as the target can tell; that access is
//     reported, never removed, and never hidden behind "absent".
//   - An error wrapped with Permanent will not get better by retrying (the role
//     does not exist in the target, the subject is malformed, the configuration
//     is wrong). Any other error is transient and the controller retries it with
//     backoff. A revocation is retried whatever the error.
//   - Credentials never appear in errors, evidence or logs.
//
// One package per provider lives below this one; a Registry maps the field set in
// SaaSConnection.spec.provider to its implementation, so controllers hold no
// provider-specific code.
package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// Entitlement is one role of one connection for one subject, held on behalf of
// one ElevationRequest.
type Entitlement struct {
	// Subject is the user name in the target.
	Subject string
	// Role is the connection's role, with its provider-specific block.
	Role accessv1alpha1.Role
	// Holder is the ElevationRequest the entitlement is held for. Providers that
	// make one object per request (the kubernetes provider's bindings) name and
	// label it after the holder; providers whose entitlement is one fact per
	// subject and role (a group membership) ignore it.
	Holder types.NamespacedName
	// Part names the target of a request with several targets
	// ("connection/role"), empty for a request with one: providers that name
	// objects after the holder name them after the part too, so that two
	// targets of one request never share an object.
	Part string
	// Target is what the grant resolved to, as stored in status.grant.target;
	// nil before the grant and for grants made before targets were stored.
	Target *accessv1alpha1.GrantTarget
}

// Grant is what a successful Grant resolved and made in the target.
type Grant struct {
	// Target is the resolved identity, for status.grant.target.
	Target accessv1alpha1.GrantTarget
}

// Observation is what a fresh read of the target showed.
type Observation struct {
	// Present is true when the entitlement exists in the target.
	Present bool
	// Method says how the target was read, e.g. "GET /Groups/{id}".
	Method string
	// Evidence says what the read returned, for the audit record.
	Evidence string
	// Residual names the other paths by which the subject still holds the
	// role's access, found when the entitlement is absent.
	Residual []ResidualPath
	// ConnectionChanged says how the connection's current settings differ from
	// the stored Target (which the call acted on); empty when they do not.
	ConnectionChanged string
}

// ResidualPath is one binding, group or role through which the subject still
// holds the role's access.
type ResidualPath struct {
	// Name says what it is, e.g. "RoleBinding payments/backdoor".
	Name string
	// CreatedAt is when the target says it was created; nil when it cannot tell.
	CreatedAt *time.Time
	// Binding is the RBAC binding the path is, for the kubernetes provider;
	// nil for other kinds of path.
	Binding *accessv1alpha1.BindingRef
}

// Client talks to one downstream system, as configured by one SaaSConnection.
type Client interface {
	// Grant makes the entitlement present and returns what it resolved.
	Grant(ctx context.Context, e Entitlement) (Grant, error)
	// Revoke makes the entitlement absent.
	Revoke(ctx context.Context, e Entitlement) error
	// Check reads the target fresh and reports whether the entitlement is present.
	Check(ctx context.Context, e Entitlement) (Observation, error)
	// Health checks that the target is reachable and the credentials work.
	Health(ctx context.Context) error
	// Close releases connections the client holds.
	Close() error
}

// SecretReader returns the data of a Secret in the connection's namespace, read
// from the API server.
type SecretReader func(ctx context.Context, name string) (map[string][]byte, error)

// Config is what a Factory needs to build a Client for one connection.
type Config struct {
	Connection *accessv1alpha1.SaaSConnection
	Secrets    SecretReader
}

// Factory builds a Client for a connection whose provider is of its kind.
type Factory func(ctx context.Context, cfg Config) (Client, error)

// permanentError marks an error that retrying will not fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying will not fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err: err}
}

// Permanentf formats a permanent error.
func Permanentf(format string, args ...any) error {
	return Permanent(fmt.Errorf(format, args...))
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
