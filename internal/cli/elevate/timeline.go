package elevate

import (
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/records"
)

// event is one line of a request's timeline.
type event struct {
	at   time.Time
	text string
}

// stamp formats an instant the way the API stores it.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// timeline lists what happened to the request, oldest first; events at the
// same instant keep the lifecycle's order.
func timeline(er *accessv1alpha1.ElevationRequest) []event {
	st := er.Status
	evs := []event{{er.CreationTimestamp.Time, "requested by " + orUnknownUser(requesterOf(er))}}
	for _, a := range st.Approvals {
		evs = append(evs, event{a.At.Time, "approved by " + a.User + approvalScope(er, a) + quoted(a.Comment)})
	}
	if st.ApprovedAt != nil {
		evs = append(evs, event{st.ApprovedAt.Time, approvedText(er)})
	}
	if d := st.Denial; d != nil {
		evs = append(evs, event{d.At.Time, "denied by " + d.User + quoted(d.Reason)})
	}
	// Each target's grant comes before the line for the request as a whole,
	// which is at the last target's grant.
	evs = append(evs, targetEvents(er, grantedEvent)...)
	if st.GrantedAt != nil {
		evs = append(evs, event{st.GrantedAt.Time, grantedText(er)})
	}
	if rev := st.Revocation; rev != nil && rev.StartedAt != nil {
		evs = append(evs, event{rev.StartedAt.Time, revokingText(er)})
	}
	evs = append(evs, targetEvents(er, verifiedEvent)...)
	evs = append(evs, endEvents(er)...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	return evs
}

// targetEvents are, for a request with several targets, one line per target
// that of picks out of its state: "connection/role TEXT", at that instant.
func targetEvents(er *accessv1alpha1.ElevationRequest, of func(*accessv1alpha1.TargetState) (*metav1.Time, string)) []event {
	var evs []event
	for _, t := range targetStatuses(er) {
		if when, text := of(&t.TargetState); when != nil {
			evs = append(evs, event{when.Time, t.String() + " " + text})
		}
	}
	return evs
}

func grantedEvent(ts *accessv1alpha1.TargetState) (*metav1.Time, string) {
	return ts.GrantedAt, "granted"
}

func verifiedEvent(ts *accessv1alpha1.TargetState) (*metav1.Time, string) {
	if ts.Revocation == nil {
		return nil, ""
	}
	return ts.Revocation.VerifiedAt, "verified gone (" + orDash(ts.Revocation.Method) + ")"
}

// approvalScope says, on a request with several targets, which connections
// an approval counts for (the webhook records them).
func approvalScope(er *accessv1alpha1.ElevationRequest, a accessv1alpha1.ApprovalRecord) string {
	if !er.Spec.IsMultiTarget() || len(a.Connections) == 0 {
		return ""
	}
	return " for " + strings.Join(a.Connections, ", ")
}

func grantedText(er *accessv1alpha1.ElevationRequest) string {
	if er.Spec.IsMultiTarget() {
		return fmt.Sprintf("all %d targets granted, for %s", len(er.Spec.Targets), er.Spec.Duration)
	}
	return "granted for " + er.Spec.Duration
}

// endEvents are the verification of the removal and the end of the request,
// one line when they are the same instant: verifiedAt is stored to the
// second, revokedAt to the millisecond.
func endEvents(er *accessv1alpha1.ElevationRequest) []event {
	st := er.Status
	var evs []event
	var verified *time.Time
	if rev := st.Revocation; rev != nil && rev.VerifiedAt != nil {
		verified = &rev.VerifiedAt.Time
		text := "access verified gone (" + orDash(rev.Method) + ")"
		if er.Spec.IsMultiTarget() {
			text = fmt.Sprintf("access verified gone on all %d targets", len(er.Spec.Targets))
		}
		evs = append(evs, event{*verified, text})
	}
	if st.RevokedAt == nil {
		return evs
	}
	if verified != nil && verified.Equal(st.RevokedAt.Truncate(time.Second)) {
		evs[0].text += "; ended " + string(st.Phase)
		return evs
	}
	return append(evs, event{st.RevokedAt.Time, "ended " + string(st.Phase)})
}

func approvedText(er *accessv1alpha1.ElevationRequest) string {
	st := er.Status
	if er.Spec.IsMultiTarget() {
		return "approved: every target has its approvals"
	}
	if st.RequiredApprovals == 0 {
		return "approved: the role needs no approval"
	}
	return fmt.Sprintf("approved: %d of %d approvals", len(st.Approvals), st.RequiredApprovals)
}

func revokingText(er *accessv1alpha1.ElevationRequest) string {
	rev := er.Status.Revocation
	text := "revocation started (" + rev.Reason + ")"
	if rev.RequestedBy != "" {
		text = "revoked early by " + rev.RequestedBy + quoted(earlyReason(er)) + "; revocation started"
	}
	return text
}

// earlyReason is the reason given with elevator.dev/revoke, from the webhook's
// record (status keeps only who asked), shown only when the record names the
// same user as the operator's status.
func earlyReason(er *accessv1alpha1.ElevationRequest) string {
	rec, err := records.Parse(er.Annotations)
	if err != nil || rec.Revocation == nil || rec.Revocation.User != er.Status.Revocation.RequestedBy {
		return ""
	}
	return rec.Revocation.Reason
}

func quoted(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf(": %q", s)
}

func orUnknownUser(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
