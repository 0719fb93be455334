package elevate

import (
	"context"
	"errors"
	"fmt"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// pollInterval is how often --wait reads the request again.
const pollInterval = time.Second

// outcome says whether a request waited on has reached a phase --wait stops
// at: nil when it is Active, an error saying why it never will be otherwise.
func outcome(er *accessv1alpha1.ElevationRequest) (done bool, err error) {
	st := er.Status
	switch st.Phase {
	case accessv1alpha1.PhaseActive:
		return true, nil
	case accessv1alpha1.PhaseDenied:
		if st.Denial != nil {
			return true, fmt.Errorf("%s was denied by %s: %s", er.Name, st.Denial.User, orNone(st.Denial.Reason))
		}
		return true, fmt.Errorf("%s was denied: %s", er.Name, orNone(st.Message))
	case accessv1alpha1.PhaseExpired, accessv1alpha1.PhaseFailed, accessv1alpha1.PhaseRevoked, accessv1alpha1.PhaseRevoking:
		return true, fmt.Errorf("%s is %s: %s", er.Name, st.Phase, orNone(st.Message))
	}
	return false, nil
}

// waitActive polls the request until outcome says it is done or timeout passes.
func (o *Options) waitActive(ctx context.Context, s *session, name string, timeout time.Duration) error {
	_, _ = fmt.Fprintf(o.Out, "waiting up to %s for %s to become Active...\n", timeout, name)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	var last *accessv1alpha1.ElevationRequest
	for {
		er, err := s.get(ctx, name)
		switch {
		case err == nil:
			last = er
			if done, err := outcome(er); done {
				if err == nil {
					_, _ = fmt.Fprintln(o.Out, activeLine(er, time.Now()))
				}
				return err
			}
		case nearDeadline(ctx):
			// A read that fails as the timeout runs out (client-go's rate
			// limiter refuses to wait past the deadline) is the timeout.
			return timedOut(name, timeout, last)
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return timedOut(name, timeout, last)
		case <-ticker.C:
		}
	}
}

// nearDeadline reports whether ctx has ended or ends within a poll.
func nearDeadline(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && time.Until(deadline) < pollInterval
}

// activeLine tells when an Active request's access ends.
func activeLine(er *accessv1alpha1.ElevationRequest, now time.Time) string {
	if er.Status.ExpiresAt == nil {
		return fmt.Sprintf("%s is Active", er.Name)
	}
	at := er.Status.ExpiresAt.Time
	return fmt.Sprintf("%s is Active: expiresAt %s (%s left)", er.Name, stamp(at), humanLeft(at.Sub(now)))
}

// timedOut says where the request stood when --timeout passed.
func timedOut(name string, timeout time.Duration, last *accessv1alpha1.ElevationRequest) error {
	if last == nil {
		return fmt.Errorf("--timeout: %s passed before %s could be read", timeout, name)
	}
	st := last.Status
	phase := string(st.Phase)
	if phase == "" {
		phase = "not yet seen by the operator"
	}
	detail := st.Message
	if progress := approvalProgress(last); st.Phase == accessv1alpha1.PhasePending && progress != "" {
		detail = fmt.Sprintf("%s; an approver runs: kubectl elevate approve %s -n %s", progress, name, last.Namespace)
	}
	return fmt.Errorf("--timeout: %s passed and %s is still %s: %s (the request stays; follow it with kubectl elevate status %s)", timeout, name, phase, orNone(detail), name)
}

func orNone(s string) string {
	if s == "" {
		return "(no reason given)"
	}
	return s
}
