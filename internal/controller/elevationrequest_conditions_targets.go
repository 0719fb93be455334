package controller

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// The conditions of a request with spec.targets. Those about the whole
// request (Approved, Ready, Reconciling, Stalled) are derived from its own
// status facts, as for a request with one connection. Those about what a
// target holds (Granted, Revoked, RevocationVerified, ResidualAccess,
// ActivityRecorded) are derived for each target's view by the same functions,
// then combined: True only when every target's is, so that, above all,
// RevocationVerified is never True while one target's removal is unverified.

// targetCondition is how one condition about what a target holds is derived
// and combined over the targets.
type targetCondition struct {
	derive func(*accessv1alpha1.ElevationRequest) *metav1.Condition
	// anyTrue makes the combination True when any target's is (residual
	// access on one system is residual access), instead of only when all are.
	anyTrue bool
}

var targetConditions = []targetCondition{
	{derive: grantedCondition},
	{derive: revokedCondition},
	{derive: revocationVerifiedCondition},
	{derive: residualAccessCondition, anyTrue: true},
	{derive: activityRecordedCondition},
}

// conditionsForTargets is every condition that applies to a multi-target request.
func conditionsForTargets(er *accessv1alpha1.ElevationRequest) []metav1.Condition {
	var out []metav1.Condition
	for _, derive := range []func(*accessv1alpha1.ElevationRequest) *metav1.Condition{
		approvedCondition, readyCondition, reconcilingCondition, stalledCondition,
	} {
		if c := derive(er); c != nil {
			out = append(out, *c)
		}
	}
	views := targetViews(er)
	for _, tc := range targetConditions {
		perTarget := make([]*metav1.Condition, len(views))
		for i, v := range views {
			perTarget[i] = tc.derive(v)
		}
		if c := combineConditions(perTarget, views, tc.anyTrue); c != nil {
			out = append(out, *c)
		}
	}
	return out
}

// combineConditions combines one condition type over the targets. A target
// without the condition yet keeps an all-True combination from forming.
func combineConditions(perTarget []*metav1.Condition, views []*accessv1alpha1.ElevationRequest, anyTrue bool) *metav1.Condition {
	byStatus := map[metav1.ConditionStatus][]int{}
	present := 0
	for i, c := range perTarget {
		if c != nil {
			byStatus[c.Status] = append(byStatus[c.Status], i)
			present++
		}
	}
	switch {
	case present == 0:
		return nil
	case anyTrue && len(byStatus[metav1.ConditionTrue]) > 0:
		return joinConditions(perTarget, views, byStatus[metav1.ConditionTrue])
	case !anyTrue && len(byStatus[metav1.ConditionFalse]) > 0:
		return joinConditions(perTarget, views, byStatus[metav1.ConditionFalse])
	case len(byStatus[metav1.ConditionUnknown]) > 0:
		return joinConditions(perTarget, views, byStatus[metav1.ConditionUnknown])
	case present < len(perTarget):
		return nil
	}
	all := make([]int, len(perTarget))
	for i := range all {
		all[i] = i
	}
	return joinConditions(perTarget, views, all)
}

// joinConditions is one condition for the targets at idx, all of the same
// status: the reason of the first one that is not NeverGranted (the cause,
// rather than a target undone because of it), and each target's message.
func joinConditions(perTarget []*metav1.Condition, views []*accessv1alpha1.ElevationRequest, idx []int) *metav1.Condition {
	first := perTarget[idx[0]]
	reason := first.Reason
	msgs := make([]string, 0, len(idx))
	for _, i := range idx {
		c := perTarget[i]
		if reason == accessv1alpha1.ReasonNeverGranted && c.Reason != accessv1alpha1.ReasonNeverGranted {
			reason = c.Reason
		}
		msgs = append(msgs, targetOf(views[i]).String()+": "+c.Message)
	}
	return condition(first.Type, first.Status, reason, strings.Join(msgs, "; "))
}

// targetsMessage is one line per target, by each target's view.
func targetsMessage(er *accessv1alpha1.ElevationRequest, line func(v *accessv1alpha1.ElevationRequest) string) string {
	views := targetViews(er)
	parts := make([]string, len(views))
	for i, v := range views {
		parts[i] = targetOf(v).String() + ": " + line(v)
	}
	return strings.Join(parts, "; ")
}
