package controller

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/policy"
	"github.com/elevator-dev/elevator/internal/provider"
)

// The plumbing every step shares to reach the request's target: its connection,
// a provider client, the entitlement it holds, and the other requests that hold
// the same one.

const entitlementIndex = "elevator.dev/entitlement"

// entitlementKey identifies what a request (or a view of one target) holds in
// the target: requests with the same key hold the same group membership in a
// shared-entitlement provider.
func entitlementKey(er *accessv1alpha1.ElevationRequest) string {
	return targetKey(accessv1alpha1.Target{Connection: er.Spec.Connection, Role: er.Spec.Role}, er.Spec.Subject)
}

// entitlementKeys are the keys of every target of the request, in the order
// of spec.TargetsOf.
func entitlementKeys(er *accessv1alpha1.ElevationRequest) []string {
	targets := er.Spec.TargetsOf()
	keys := make([]string, len(targets))
	for i, t := range targets {
		keys[i] = targetKey(t, er.Spec.Subject)
	}
	return keys
}

func targetKey(t accessv1alpha1.Target, subject string) string {
	return t.Connection + "\x00" + t.Role + "\x00" + subject
}

// connection reads the request's SaaSConnection; nil when it does not exist.
func (r *ElevationRequestReconciler) connection(ctx context.Context, er *accessv1alpha1.ElevationRequest) (*accessv1alpha1.SaaSConnection, error) {
	return connectionOf(ctx, r.Client, er)
}

// connectionOf reads the request's SaaSConnection with c; nil when it does
// not exist. Every controller of a request finds its connection this way.
func connectionOf(ctx context.Context, c client.Reader, er *accessv1alpha1.ElevationRequest) (*accessv1alpha1.SaaSConnection, error) {
	conn := &accessv1alpha1.SaaSConnection{}
	err := c.Get(ctx, types.NamespacedName{Namespace: er.Namespace, Name: er.Spec.Connection}, conn)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read SaaSConnection %q: %w", er.Spec.Connection, err)
	}
	return conn, nil
}

func (r *ElevationRequestReconciler) connect(ctx context.Context, conn *accessv1alpha1.SaaSConnection) (provider.Client, provider.Registration, error) {
	return connectTo(ctx, r.Providers, r.APIReader, conn)
}

// connectTo builds the provider client of the connection, its credentials
// read from the API server with reader.
func connectTo(ctx context.Context, providers *provider.Registry, reader client.Reader, conn *accessv1alpha1.SaaSConnection) (provider.Client, provider.Registration, error) {
	return providers.Connect(ctx, provider.Config{Connection: conn, Secrets: SecretReader(reader, conn.Namespace)})
}

// ensureFresh fails when the cache is behind the API server, so that nothing is
// granted on a stale view of the request (a request already revoked, say), and
// marks the request so that its next look reads it from the API server (read).
func (r *ElevationRequestReconciler) ensureFresh(ctx context.Context, er *accessv1alpha1.ElevationRequest) error {
	fresh := &accessv1alpha1.ElevationRequest{}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: er.Namespace, Name: er.Name}, fresh); err != nil {
		return fmt.Errorf("re-read request before granting: %w", err)
	}
	if fresh.ResourceVersion != er.ResourceVersion {
		r.behind.mark(types.NamespacedName{Namespace: er.Namespace, Name: er.Name})
		return fmt.Errorf("request changed since it was read (resourceVersion %s, now %s); retrying on the stored version", er.ResourceVersion, fresh.ResourceVersion)
	}
	return nil
}

// otherHolders lists the other requests that hold the same entitlement, each
// as stored: the cache finds them, and each is read again from the API server
// before it keeps anyone's access, since the cache may be behind (see read).
// A holder the cache still shows Active whose stored revocation has begun
// would otherwise keep the entitlement for both until the cache caught up.
func (r *ElevationRequestReconciler) otherHolders(ctx context.Context, er *accessv1alpha1.ElevationRequest) ([]*accessv1alpha1.ElevationRequest, error) {
	cached, err := r.otherRequests(ctx, er, holdsForOthers)
	if err != nil {
		return nil, err
	}
	key := entitlementKey(er)
	var out []*accessv1alpha1.ElevationRequest
	for _, c := range cached {
		stored := &accessv1alpha1.ElevationRequest{}
		if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: c.Namespace, Name: c.Name}, stored); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("re-read request %s/%s, which holds the same entitlement: %w", c.Namespace, c.Name, err)
		}
		if stored.UID == c.UID && slices.ContainsFunc(holdingViews(stored, key), holdsForOthers) {
			out = append(out, stored)
		}
	}
	return out, nil
}

// otherRequests lists the other requests for the same entitlement that match.
func (r *ElevationRequestReconciler) otherRequests(ctx context.Context, er *accessv1alpha1.ElevationRequest, match func(*accessv1alpha1.ElevationRequest) bool) ([]*accessv1alpha1.ElevationRequest, error) {
	var list accessv1alpha1.ElevationRequestList
	if err := r.Client.List(ctx, &list, client.InNamespace(er.Namespace), client.MatchingFields{entitlementIndex: entitlementKey(er)}); err != nil {
		return nil, fmt.Errorf("list requests for the same entitlement: %w", err)
	}
	key := entitlementKey(er)
	var out []*accessv1alpha1.ElevationRequest
	for i := range list.Items {
		other := &list.Items[i]
		if other.UID == er.UID {
			continue
		}
		if slices.ContainsFunc(holdingViews(other, key), match) {
			out = append(out, other)
		}
	}
	return out, nil
}

func entitlement(er *accessv1alpha1.ElevationRequest, role accessv1alpha1.Role) provider.Entitlement {
	return provider.Entitlement{Subject: er.Spec.Subject, Role: role, Holder: types.NamespacedName{Namespace: er.Namespace, Name: er.Name},
		Part: er.Annotations[viewOfTarget]}
}

func closeQuietly(c provider.Client) { _ = c.Close() }

// grantedTarget is the identity the grant resolved to, nil when none was stored.
func grantedTarget(er *accessv1alpha1.ElevationRequest) *accessv1alpha1.GrantTarget {
	if er.Status.Grant == nil {
		return nil
	}
	return er.Status.Grant.Target
}

// targetRole finds the role of the request (or of a view of one target) in
// its connection, or says what blocks it: the connection or the role is missing.
func targetRole(v *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection) (*accessv1alpha1.Role, *accessv1alpha1.Blocker) {
	if conn == nil {
		return nil, &accessv1alpha1.Blocker{Reason: accessv1alpha1.ReasonConnectionNotFound,
			Message: fmt.Sprintf("SaaSConnection %q not found in namespace %s", v.Spec.Connection, v.Namespace)}
	}
	role, err := policy.FindRole(conn, v.Spec.Role)
	if err != nil {
		return nil, &accessv1alpha1.Blocker{Reason: accessv1alpha1.ReasonPolicyViolation, Message: err.Error()}
	}
	return role, nil
}
