package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// A request with spec.targets asks for one role in each of several
// connections. Each target is driven by the steps of a request with one
// connection, run on a view of it: a copy of the request whose spec names that
// one target and whose status holds that target's state (status.targets[i]).
// The single-target steps (grant with its intent record, revoke, verify,
// residual access, the overlap rules) then apply to each target unchanged, and
// storeView writes what they changed back into status.targets[i]. What is
// shared (the phase of the whole request, approvedAt, expiresAt, the summed-up
// revocation) is decided by the multi-target steps in
// elevationrequest_targets_lifecycle.go.

// viewOfTarget marks a view, in memory only (a view is never written): its
// value is the target, which names the provider objects made for it
// (provider.Entitlement.Part).
const viewOfTarget = accessv1alpha1.AnnotationPrefix + "view-of-target"

// targetView is target i of a multi-target request as a request with that one
// connection and role. The view shares nothing mutable with er: the steps may
// change it freely, and storeView copies the target's part back.
func targetView(er *accessv1alpha1.ElevationRequest, i int) *accessv1alpha1.ElevationRequest {
	ts := er.Status.Targets[i].DeepCopy()
	v := &accessv1alpha1.ElevationRequest{TypeMeta: er.TypeMeta, ObjectMeta: *er.ObjectMeta.DeepCopy()}
	v.Spec = er.Spec.ForTarget(er.Spec.Targets[i])
	if v.Annotations == nil {
		v.Annotations = map[string]string{}
	}
	v.Annotations[viewOfTarget] = er.Spec.Targets[i].String()
	v.Status = accessv1alpha1.ElevationRequestStatus{
		Phase:             ts.Phase,
		RequestedBy:       er.Status.RequestedBy,
		Approvals:         approvalsFor(er, ts.Connection),
		RequiredApprovals: ts.RequiredApprovals,
		ApprovedAt:        er.Status.ApprovedAt.DeepCopy(),
		TargetState:       ts.TargetState,
		ExpiresAt:         er.Status.ExpiresAt.DeepCopy(),
		RevokedAt:         targetEnd(er, ts),
		Blocked:           ts.Blocked,
		Message:           ts.Message,
		// The other targets' grants, which no single-target step reads but
		// the residual check: their recorded bindings are not residual access.
		Targets: siblingsOf(er, i),
	}
	return v
}

// siblingsOf is every target of er but target i, with only its grant: all
// that notSiblings reads. The grant is er's own, shared: the single-target
// steps never write a view's status.targets, so it is not copied (a view is
// built several times a reconcile, and a full copy of every sibling, activity
// record included, grows with the square of the targets).
func siblingsOf(er *accessv1alpha1.ElevationRequest, i int) []accessv1alpha1.TargetStatus {
	out := make([]accessv1alpha1.TargetStatus, 0, len(er.Status.Targets)-1)
	for j, ts := range er.Status.Targets {
		if j != i {
			out = append(out, accessv1alpha1.TargetStatus{Connection: ts.Connection, Role: ts.Role,
				TargetState: accessv1alpha1.TargetState{Grant: ts.Grant}})
		}
	}
	return out
}

// targetEnd is when the target's access ended: its removal verified, or,
// for a target whose access was left in place or never granted, the end of
// the whole request.
func targetEnd(er *accessv1alpha1.ElevationRequest, ts *accessv1alpha1.TargetStatus) *accessv1alpha1.MilliTime {
	if ts.Revocation != nil && ts.Revocation.VerifiedAt != nil {
		return accessv1alpha1.NewMilliTime(ts.Revocation.VerifiedAt.Time)
	}
	return er.Status.RevokedAt.DeepCopy()
}

// storeView writes what the steps changed in view v back into target i.
func storeView(er *accessv1alpha1.ElevationRequest, i int, v *accessv1alpha1.ElevationRequest) {
	ts := &er.Status.Targets[i]
	ts.Phase = v.Status.Phase
	ts.TargetState = v.Status.TargetState
	ts.Blocked = v.Status.Blocked
	ts.Message = v.Status.Message
	ts.RequiredApprovals = v.Status.RequiredApprovals
}

// targetViews is a view of every target of er.
func targetViews(er *accessv1alpha1.ElevationRequest) []*accessv1alpha1.ElevationRequest {
	n := min(len(er.Status.Targets), len(er.Spec.Targets))
	views := make([]*accessv1alpha1.ElevationRequest, n)
	for i := range n {
		views[i] = targetView(er, i)
	}
	return views
}

// holdingViews are the views of other's targets that hold the entitlement key
// (connection, role, subject): the one view of a single-target request, or
// the matching targets of a multi-target one.
func holdingViews(other *accessv1alpha1.ElevationRequest, key string) []*accessv1alpha1.ElevationRequest {
	if !other.Spec.IsMultiTarget() {
		return []*accessv1alpha1.ElevationRequest{other}
	}
	keys := entitlementKeys(other)
	var out []*accessv1alpha1.ElevationRequest
	for i := range min(len(other.Status.Targets), len(keys)) {
		if keys[i] == key {
			out = append(out, targetView(other, i))
		}
	}
	return out
}

// initTargets makes status.targets follow spec.targets (the spec cannot
// change, so this fills it once) and names the targets for kubectl get.
func initTargets(er *accessv1alpha1.ElevationRequest) {
	targets := er.Spec.TargetsOf()
	er.Status.Target, er.Status.TargetList = targetColumns(targets)
	if !er.Spec.IsMultiTarget() || len(er.Status.Targets) == len(targets) {
		return
	}
	er.Status.Targets = make([]accessv1alpha1.TargetStatus, len(targets))
	for i, t := range targets {
		er.Status.Targets[i] = accessv1alpha1.TargetStatus{Connection: t.Connection, Role: t.Role, Phase: accessv1alpha1.PhasePending}
	}
}

// targetColumns are the Target and Targets columns: the first target and how
// many more, and all of them.
func targetColumns(targets []accessv1alpha1.Target) (compact, list string) {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.String()
	}
	compact = names[0]
	if len(names) > 1 {
		compact += fmt.Sprintf(" +%d", len(names)-1)
	}
	return compact, strings.Join(names, ", ")
}

// approvalsFor are the counted approvals of er that count for a target of
// the connection: on a multi-target request, those whose approver held the
// approve verb on it when the webhook admitted the approval.
func approvalsFor(er *accessv1alpha1.ElevationRequest, connection string) []accessv1alpha1.ApprovalRecord {
	var out []accessv1alpha1.ApprovalRecord
	for _, a := range countedApprovals(er) {
		if slices.Contains(a.Connections, connection) {
			out = append(out, a)
		}
	}
	return out
}

// connections reads the SaaSConnection of every target, by name; a missing
// one maps to nil.
func (r *ElevationRequestReconciler) connections(ctx context.Context, views []*accessv1alpha1.ElevationRequest) (map[string]*accessv1alpha1.SaaSConnection, error) {
	out := make(map[string]*accessv1alpha1.SaaSConnection, len(views))
	for _, v := range views {
		if _, done := out[v.Spec.Connection]; done {
			continue
		}
		conn, err := r.connection(ctx, v)
		if err != nil {
			return nil, err
		}
		out[v.Spec.Connection] = conn
	}
	return out, nil
}

// inParallel runs step on each of the views at once, and returns each one's
// error once all have finished. Each step changes its own view only. A panic
// in a step (a provider's bug) is that step's error, as controller-runtime
// makes a panic in Reconcile an error: it must not take the operator down.
func inParallel(views []*accessv1alpha1.ElevationRequest, step func(i int, v *accessv1alpha1.ElevationRequest) error) []error {
	errs := make([]error, len(views))
	var wg sync.WaitGroup
	for i, v := range views {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("panic: %v", p)
				}
			}()
			errs[i] = step(i, v)
		}()
	}
	wg.Wait()
	return errs
}
