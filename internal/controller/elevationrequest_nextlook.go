package controller

import (
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// missedLookDelay is when a request whose step forgot to schedule its next look
// is looked at anyway. It is a safety net, never the way a step should wait.
const missedLookDelay = pollWhileBlocked

// ensureNextLook states once the rule every step of the lifecycle keeps: a
// request that is not finished always has its next reconcile scheduled. Only
// the operator writes status, and a status-only write does not wake the request
// (requestEvents), so a step that asked for nothing would leave the request
// asleep until an unrelated edit or a restart: a pending timeout that never
// fires, an auto-approved role never granted. A step that failed is retried by
// the queue with backoff. A terminal request needs no look, unless it is being
// deleted: then Reconcile removes its finalizer, and the deletion's event wakes
// it. Otherwise a step that returned neither an error nor a requeue gets one
// after missedLookDelay, and missed reports the bug in that step.
func ensureNextLook(phase accessv1alpha1.Phase, result ctrl.Result, stepErr error) (next ctrl.Result, missed bool) {
	if stepErr != nil || phase.IsTerminal() || result.RequeueAfter > 0 {
		return result, false
	}
	result.RequeueAfter = missedLookDelay
	return result, true
}

// sinceStep shortens a RequeueAfter computed against the time the step started
// (an expiry, say) by the time the reconcile has taken since, because the queue
// counts from when the reconcile returns. Without it, every expiry was acted on
// one reconcile's duration (100-300 ms under load) late.
func sinceStep(after, elapsed time.Duration) time.Duration {
	if after <= 0 {
		return after
	}
	return max(after-elapsed, time.Nanosecond)
}
