package controller

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/audit"
	"github.com/elevator-dev/elevator/internal/metrics"
	"github.com/elevator-dev/elevator/internal/provider"
)

// maxResidualPaths bounds status.residualAccess (the CRD's maxItems).
const maxResidualPaths = 32

// resolvedAgainNote prefixes the evidence of a shared grant that stored no
// identity: it was revoked by resolving the subject again.
const resolvedAgainNote = "no resolved identity was stored with this grant (granted before Elevator stored one), " +
	"so the subject was resolved again through the connection's current settings: "

// recordConnectionChange records, with a Warning Event and an audit line, that
// the connection no longer leads to what the grant was made on. The revocation
// acted on the stored identity regardless.
func (r *ElevationRequestReconciler) recordConnectionChange(er *accessv1alpha1.ElevationRequest, change string) {
	if change == "" {
		return
	}
	r.event(er, corev1.EventTypeWarning, accessv1alpha1.ReasonConnectionChanged, "Revoke", "%s", change)
	r.record(audit.ActionConnectionChanged, er, "", "change", change)
}

// recordResidual records what the subject still holds by other paths once
// Elevator's own grant is verified gone: the paths in status (from which the
// ResidualAccess condition is derived), a Warning Event, an audit line and the
// metric.
func (r *ElevationRequestReconciler) recordResidual(er *accessv1alpha1.ElevationRequest, kind string, found []provider.ResidualPath, now time.Time) {
	paths := residualPaths(notSiblings(found, er), er.Status.GrantedAt, now)
	er.Status.ResidualAccess = paths
	if len(paths) == 0 {
		return
	}
	msg := residualMessage(er.Spec.Subject, paths)
	r.event(er, corev1.EventTypeWarning, accessv1alpha1.ReasonResidualAccess, "Verify", "%s", msg)
	names := make([]string, 0, len(paths))
	inside := 0
	for _, p := range paths {
		names = append(names, p.Name)
		if p.InsideWindow {
			inside++
		}
	}
	r.record(audit.ActionResidual, er, "", "paths", names, "createdInsideWindow", inside)
	metrics.ResidualAccess(kind, len(paths)-inside, inside)
}

// notSiblings drops the paths that are the bindings recorded for the other
// targets of the same multi-target request (a view's status.targets holds
// them, see targetView): they are revoked and verified with this target, and
// are not a way around its revocation. Only bindings the grants recorded, by
// name, are dropped: a binding the subject made to look like Elevator's
// (with its labels) is still reported.
func notSiblings(found []provider.ResidualPath, er *accessv1alpha1.ElevationRequest) []provider.ResidualPath {
	var siblings []accessv1alpha1.BindingRef
	for _, ts := range er.Status.Targets {
		if ts.Grant != nil && ts.Grant.Target != nil {
			siblings = append(siblings, ts.Grant.Target.Bindings...)
		}
	}
	var out []provider.ResidualPath
	for _, f := range found {
		if f.Binding == nil || !slices.Contains(siblings, *f.Binding) {
			out = append(out, f)
		}
	}
	return out
}

// residualPaths converts what the provider found, marking each path created
// within [grantedAt, revokedAt], and keeps at most maxResidualPaths.
func residualPaths(found []provider.ResidualPath, grantedAt *metav1.Time, revokedAt time.Time) []accessv1alpha1.ResidualAccessPath {
	if len(found) == 0 {
		return nil
	}
	out := make([]accessv1alpha1.ResidualAccessPath, 0, min(len(found), maxResidualPaths))
	for _, f := range found[:min(len(found), maxResidualPaths)] {
		p := accessv1alpha1.ResidualAccessPath{Name: f.Name}
		if f.CreatedAt != nil {
			p.CreatedAt = timePtr(*f.CreatedAt)
			p.InsideWindow = insideWindow(*f.CreatedAt, grantedAt, revokedAt)
		}
		out = append(out, p)
	}
	return out
}

// insideWindow reports whether created lies within [grantedAt, revokedAt].
// Times are compared to the second, as the API stores them: grantedAt is cut
// to the second, so a path made in the grant's own second counts as inside.
func insideWindow(created time.Time, grantedAt *metav1.Time, revokedAt time.Time) bool {
	if grantedAt == nil {
		return false
	}
	c := created.Truncate(time.Second)
	return !c.Before(grantedAt.Truncate(time.Second)) && !c.After(revokedAt)
}

// residualMessage names every path and whether it was made inside the window.
func residualMessage(subject string, paths []accessv1alpha1.ResidualAccessPath) string {
	parts := make([]string, 0, len(paths))
	for _, p := range paths {
		switch {
		case p.InsideWindow:
			parts = append(parts, fmt.Sprintf("%s (created %s, inside the elevation window: a likely backdoor)", p.Name, p.CreatedAt.UTC().Format(time.RFC3339)))
		case p.CreatedAt != nil:
			parts = append(parts, fmt.Sprintf("%s (created %s, before the elevation window)", p.Name, p.CreatedAt.UTC().Format(time.RFC3339)))
		default:
			parts = append(parts, p.Name+" (creation time unknown)")
		}
	}
	return fmt.Sprintf("Elevator's grant is verified gone, but %s still holds the role's access through: %s", subject, strings.Join(parts, "; "))
}
