package controller

import (
	"errors"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestEnsureNextLook(t *testing.T) {
	failed := errors.New("target unreachable")
	cases := []struct {
		name       string
		phase      accessv1alpha1.Phase
		result     ctrl.Result
		err        error
		wantAfter  time.Duration
		wantMissed bool
	}{
		{"a new request's step asked for nothing: the bug behind issue 11", accessv1alpha1.PhasePending, ctrl.Result{}, nil, missedLookDelay, true},
		{"pending with its timeout scheduled", accessv1alpha1.PhasePending, ctrl.Result{RequeueAfter: time.Hour}, nil, time.Hour, false},
		{"approved, grant failed: the queue backs off", accessv1alpha1.PhaseApproved, ctrl.Result{}, failed, 0, false},
		{"approved with nothing scheduled", accessv1alpha1.PhaseApproved, ctrl.Result{}, nil, missedLookDelay, true},
		{"active until its expiry", accessv1alpha1.PhaseActive, ctrl.Result{RequeueAfter: 30 * time.Minute}, nil, 30 * time.Minute, false},
		{"active with nothing scheduled", accessv1alpha1.PhaseActive, ctrl.Result{}, nil, missedLookDelay, true},
		{"revoking, verification failed: the queue backs off", accessv1alpha1.PhaseRevoking, ctrl.Result{}, failed, 0, false},
		{"revoking with nothing scheduled", accessv1alpha1.PhaseRevoking, ctrl.Result{}, nil, missedLookDelay, true},
		{"an unset phase with nothing scheduled", "", ctrl.Result{}, nil, missedLookDelay, true},
		{"revoked: finished", accessv1alpha1.PhaseRevoked, ctrl.Result{}, nil, 0, false},
		{"denied: finished", accessv1alpha1.PhaseDenied, ctrl.Result{}, nil, 0, false},
		{"expired: finished", accessv1alpha1.PhaseExpired, ctrl.Result{}, nil, 0, false},
		{"failed: finished", accessv1alpha1.PhaseFailed, ctrl.Result{}, nil, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, missed := ensureNextLook(c.phase, c.result, c.err)
			if got.RequeueAfter != c.wantAfter || missed != c.wantMissed {
				t.Errorf("ensureNextLook(%q, %v, %v) = (after %s, missed %t), want (after %s, missed %t)",
					c.phase, c.result.RequeueAfter, c.err, got.RequeueAfter, missed, c.wantAfter, c.wantMissed)
			}
		})
	}
}

func TestSinceStep(t *testing.T) {
	cases := []struct {
		after, elapsed, want time.Duration
	}{
		{0, time.Second, 0}, // no requeue asked for stays none
		{10 * time.Second, 300 * time.Millisecond, 9700 * time.Millisecond}, // an expiry 10s after the step started
		{time.Second, 2 * time.Second, time.Nanosecond},                     // a deadline already passed: at once, still a requeue
	}
	for _, c := range cases {
		if got := sinceStep(c.after, c.elapsed); got != c.want {
			t.Errorf("sinceStep(%s, %s) = %s, want %s", c.after, c.elapsed, got, c.want)
		}
	}
}
