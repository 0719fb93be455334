// Package notify tells people about ElevationRequests: approvers when one
// waits, the subject when access starts and before it ends, the platform team
// when a revocation is overdue or access remains. Which notifications are due
// is derived here, by pure functions, from the request's status facts; the
// senders speak CloudEvents 1.0 (structured JSON over HTTP, through the
// CloudEvents Go SDK) and Slack-compatible incoming-webhook JSON.
package notify

import (
	"fmt"
	"math/bits"
	"strings"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// Type is what happened to a request.
type Type string

// The notification types, as CloudEvents types ("dev.elevator.request." + Type).
const (
	Requested         Type = "requested"
	Approved          Type = "approved"
	Denied            Type = "denied"
	Granted           Type = "granted"
	ExpiringSoon      Type = "expiringSoon"
	Revoked           Type = "revoked"
	RevocationOverdue Type = "revocationOverdue"
	ResidualAccess    Type = "residualAccess"
	// BreakGlassUsed: the subject approved their own request in an emergency.
	BreakGlassUsed Type = "breakGlassUsed"
)

// CloudEventTypePrefix prefixes every CloudEvent type Elevator sends.
const CloudEventTypePrefix = "dev.elevator.request."

// DefaultExpiringSoon is the reminder's lead when a sink does not say.
const DefaultExpiringSoon = 5 * time.Minute

// MaxAge is how old a fact may be and still be notified: a sink added to a
// connection does not replay the history of every request it ever had.
// An overdue revocation is notified whatever its age.
const MaxAge = time.Hour

// Event is one notification of one request.
type Event struct {
	// ID is the request's uid and the type (with the overdue repetition), the
	// CloudEvent id receivers de-duplicate by.
	ID   string
	Type Type
	// Time is when the fact became true.
	Time time.Time
	// Request is the request as it was when the event was derived.
	Request *accessv1alpha1.ElevationRequest
}

// Due lists the events that are due for the request at now, oldest first,
// with expiringSoon the reminder lead of the sink.
func Due(er *accessv1alpha1.ElevationRequest, expiringSoon time.Duration, now time.Time) []Event {
	var out []Event
	add := func(t Type, at time.Time, suffix string) {
		if at.IsZero() || at.After(now) || (t != RevocationOverdue && now.Sub(at) > MaxAge) {
			return
		}
		out = append(out, Event{ID: eventID(er, t, suffix), Type: t, Time: at, Request: er})
	}
	s := er.Status
	if s.Phase != "" {
		add(Requested, er.CreationTimestamp.Time, "")
	}
	if s.ApprovedAt != nil {
		add(Approved, s.ApprovedAt.Time, "")
	}
	if s.Denial != nil {
		add(Denied, s.Denial.At.Time, "")
	}
	if s.BreakGlass != nil && s.ApprovedAt != nil {
		add(BreakGlassUsed, s.BreakGlass.Used.At.Time, "")
	}
	if s.GrantedAt != nil {
		add(Granted, s.GrantedAt.Time, "")
	}
	if at, ok := reminderAt(er, expiringSoon); ok && s.Phase == accessv1alpha1.PhaseActive {
		add(ExpiringSoon, at, "")
	}
	if rev := s.Revocation; rev != nil && rev.VerifiedAt != nil {
		add(Revoked, rev.VerifiedAt.Time, "")
	}
	if n, ok := overdueRepeat(er); ok {
		add(RevocationOverdue, now, fmt.Sprint(n))
	}
	if len(residualNames(er)) > 0 && s.RevokedAt != nil {
		add(ResidualAccess, s.RevokedAt.Time, "")
	}
	return out
}

// NextDue is when an event not yet due becomes due (the reminder before
// expiresAt), or the zero time when none will without a status change.
func NextDue(er *accessv1alpha1.ElevationRequest, expiringSoon time.Duration, now time.Time) time.Time {
	at, ok := reminderAt(er, expiringSoon)
	if !ok || er.Status.Phase != accessv1alpha1.PhaseActive || !at.After(now) {
		return time.Time{}
	}
	return at
}

// reminderAt is when the expiring-soon reminder is due: the lead before
// expiresAt, but never before the grant (a window shorter than the lead is
// reminded at once).
func reminderAt(er *accessv1alpha1.ElevationRequest, lead time.Duration) (time.Time, bool) {
	s := er.Status
	if s.ExpiresAt == nil || s.GrantedAt == nil {
		return time.Time{}, false
	}
	at := s.ExpiresAt.Add(-lead)
	if at.Before(s.GrantedAt.Time) {
		at = s.GrantedAt.Time
	}
	return at, true
}

// overdueRepeat numbers the overdue notification by the failed attempts so
// far, doubling: after 1, 2, 4, 8, ... attempts, so that it repeats with
// backoff until the revocation is verified.
func overdueRepeat(er *accessv1alpha1.ElevationRequest) (int, bool) {
	rev := er.Status.Revocation
	if er.Status.Phase != accessv1alpha1.PhaseRevoking || rev == nil || rev.Attempts == 0 || rev.RetainedBy != "" {
		return 0, false
	}
	return bits.Len32(uint32(rev.Attempts)), true
}

func eventID(er *accessv1alpha1.ElevationRequest, t Type, suffix string) string {
	id := string(er.UID) + "/" + string(t)
	if suffix != "" {
		id += "/" + suffix
	}
	return id
}

// Undelivered drops the events already delivered to the sink.
func Undelivered(events []Event, sink string, delivered []accessv1alpha1.NotificationRecord) []Event {
	done := make(map[string]bool, len(delivered))
	for _, d := range delivered {
		if d.Sink == sink {
			done[d.ID] = true
		}
	}
	var out []Event
	for _, e := range events {
		if !done[e.ID] {
			out = append(out, e)
		}
	}
	return out
}

// Record appends a delivery to the request's records, dropping the oldest
// when the list is full: the ones dropped are long past MaxAge, so never due
// again.
func Record(delivered []accessv1alpha1.NotificationRecord, sink string, e Event) []accessv1alpha1.NotificationRecord {
	delivered = append(delivered, accessv1alpha1.NotificationRecord{Sink: sink, ID: e.ID})
	if over := len(delivered) - accessv1alpha1.MaxNotificationRecords; over > 0 {
		delivered = append(delivered[:0:0], delivered[over:]...)
	}
	return delivered
}

// Headline says the event in one line, for a person.
func Headline(e Event) string {
	er := e.Request
	what := accessOf(er)
	switch e.Type {
	case Requested:
		return fmt.Sprintf("%s asks for %s for %s, for %s", requester(er), what, er.Spec.Subject, er.Spec.Duration)
	case Approved:
		if er.Status.ApprovedBy == "" && er.Status.BreakGlass != nil {
			return fmt.Sprintf("%s for %s approved by break-glass of %s", what, er.Spec.Subject, er.Status.BreakGlass.Used.User)
		}
		return fmt.Sprintf("%s for %s approved by %s", what, er.Spec.Subject, er.Status.ApprovedBy)
	case Denied:
		return fmt.Sprintf("%s for %s denied by %s", what, er.Spec.Subject, er.Status.Denial.User)
	case Granted:
		return fmt.Sprintf("%s now holds %s until %s", er.Spec.Subject, what, stamp(er.Status.ExpiresAt.Time))
	case ExpiringSoon:
		return fmt.Sprintf("%s's %s ends at %s", er.Spec.Subject, what, stamp(er.Status.ExpiresAt.Time))
	case Revoked:
		return fmt.Sprintf("%s's %s was removed and verified gone at %s", er.Spec.Subject, what, stamp(er.Status.Revocation.VerifiedAt.Time))
	case BreakGlassUsed:
		return fmt.Sprintf("BREAK-GLASS: %s approved their own %s for %s: %s", er.Status.BreakGlass.Used.User, what, er.Spec.Duration, oneLine(er.Status.BreakGlass.Used.Reason))
	case RevocationOverdue:
		return fmt.Sprintf("REVOCATION OVERDUE: %s still may hold %s after %d failed attempts", er.Spec.Subject, what, er.Status.Revocation.Attempts)
	case ResidualAccess:
		return fmt.Sprintf("%s still holds %s's access by %d other paths after the revocation", er.Spec.Subject, what, len(residualNames(er)))
	}
	return string(e.Type)
}

// ApproveCommand is what an approver types to approve the request.
func ApproveCommand(er *accessv1alpha1.ElevationRequest) string {
	return fmt.Sprintf("kubectl elevate approve %s -n %s", er.Name, er.Namespace)
}

func requester(er *accessv1alpha1.ElevationRequest) string {
	if er.Status.RequestedBy != "" {
		return er.Status.RequestedBy
	}
	return "someone"
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// residualNames lists the residual paths, for the payloads.
// residualNames names the paths that still grant the access: of the request,
// or of each target of a multi-target request, prefixed with the target.
func residualNames(er *accessv1alpha1.ElevationRequest) []string {
	names := make([]string, 0, len(er.Status.ResidualAccess))
	for _, p := range er.Status.ResidualAccess {
		names = append(names, p.Name)
	}
	for _, ts := range er.Status.Targets {
		for _, p := range ts.ResidualAccess {
			names = append(names, ts.String()+": "+p.Name)
		}
	}
	return names
}

// accessOf names the access a request is for: "role on namespace/connection",
// or each target's on a multi-target request.
func accessOf(er *accessv1alpha1.ElevationRequest) string {
	if !er.Spec.IsMultiTarget() {
		return fmt.Sprintf("%s on %s/%s", er.Spec.Role, er.Namespace, er.Spec.Connection)
	}
	return fmt.Sprintf("%d roles in %s (%s)", len(er.Spec.Targets), er.Namespace, strings.Join(targetNames(er), ", "))
}

// targetNames are the targets of a multi-target request as connection/role.
func targetNames(er *accessv1alpha1.ElevationRequest) []string {
	names := make([]string, len(er.Spec.Targets))
	for i, t := range er.Spec.Targets {
		names[i] = t.String()
	}
	return names
}

// oneLine keeps user text on one line in a chat message.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
