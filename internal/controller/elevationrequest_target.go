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
// granted on a stale view of the request (a request already revoked, say).
func (r *ElevationRequestReconciler) ensureFresh(ctx context.Context, er *accessv1alpha1.ElevationRequest) error {
	fresh := &accessv1alpha1.ElevationRequest{}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: er.Namespace, Name: er.Name}, fresh); err != nil {
		return fmt.Errorf("re-read request before granting: %w", err)
	}
	if fresh.ResourceVersion != er.ResourceVersion {
		return fmt.Errorf("request changed since it was read (resourceVersion %s, now %s); retrying", er.ResourceVersion, fresh.ResourceVersion)
	}
	return nil
}

// otherHolders lists the other requests that hold the same entitlement.
func (r *ElevationRequestReconciler) otherHolders(ctx context.Context, er *accessv1alpha1.ElevationRequest) ([]*accessv1alpha1.ElevationRequest, error) {
	return r.otherRequests(ctx, er, holdsForOthers)
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
