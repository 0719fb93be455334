package elevate

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

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
		evs = append(evs, event{a.At.Time, "approved by " + a.User + quoted(a.Comment)})
	}
	if st.ApprovedAt != nil {
		evs = append(evs, event{st.ApprovedAt.Time, approvedText(st)})
	}
	if d := st.Denial; d != nil {
		evs = append(evs, event{d.At.Time, "denied by " + d.User + quoted(d.Reason)})
	}
	if st.GrantedAt != nil {
		evs = append(evs, event{st.GrantedAt.Time, "granted for " + er.Spec.Duration})
	}
	if rev := st.Revocation; rev != nil && rev.StartedAt != nil {
		evs = append(evs, event{rev.StartedAt.Time, revokingText(er)})
	}
	evs = append(evs, endEvents(st)...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].at.Before(evs[j].at) })
	return evs
}

// endEvents are the verification of the removal and the end of the request,
// one line when they are the same instant.
func endEvents(st accessv1alpha1.ElevationRequestStatus) []event {
	var evs []event
	var verified *time.Time
	if rev := st.Revocation; rev != nil && rev.VerifiedAt != nil {
		verified = &rev.VerifiedAt.Time
		evs = append(evs, event{*verified, "access verified gone (" + orDash(rev.Method) + ")"})
	}
	if st.RevokedAt == nil {
		return evs
	}
	if verified != nil && verified.Equal(st.RevokedAt.Time) {
		evs[0].text += "; ended " + string(st.Phase)
		return evs
	}
	return append(evs, event{st.RevokedAt.Time, "ended " + string(st.Phase)})
}

func approvedText(st accessv1alpha1.ElevationRequestStatus) string {
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

// renderStatus writes the request's timeline for a person.
func renderStatus(w io.Writer, er *accessv1alpha1.ElevationRequest, now time.Time) error {
	b := &strings.Builder{}
	writeHeader(b, er, now)
	b.WriteString("\nTimeline:\n")
	for _, e := range timeline(er) {
		fmt.Fprintf(b, "  %s  %s\n", stamp(e.at), e.text)
	}
	writeVerification(b, er)
	writeResidual(b, er.Status.ResidualAccess)
	writeActivity(b, er.Status.Activity)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeHeader(b *strings.Builder, er *accessv1alpha1.ElevationRequest, now time.Time) {
	st := er.Status
	line := func(k, v string) { fmt.Fprintf(b, "%-15s%s\n", k+":", v) }
	line("Request", er.Namespace+"/"+er.Name)
	line("Phase", orDash(string(st.Phase)))
	line("Subject", er.Spec.Subject)
	line("Access", fmt.Sprintf("%s/%s for %s", er.Spec.Connection, er.Spec.Role, er.Spec.Duration))
	line("Justification", er.Spec.Justification)
	if er.Spec.Ticket != "" {
		line("Ticket", er.Spec.Ticket)
	}
	if orig := er.Annotations[accessv1alpha1.AnnotationExtends]; orig != "" {
		line("Extends", orig)
	}
	line("Requested by", orUnknownUser(requesterOf(er)))
	if st.Phase == accessv1alpha1.PhasePending && st.RequiredApprovals > 0 {
		line("Approvals", fmt.Sprintf("%d of %d; an approver runs: kubectl elevate approve %s -n %s", len(st.Approvals), st.RequiredApprovals, er.Name, er.Namespace))
	}
	if st.ExpiresAt != nil {
		line("Expires at", stamp(st.ExpiresAt.Time)+expiryNote(er, now))
	}
	if st.Message != "" {
		line("Message", st.Message)
	}
	if st.Blocked != nil {
		line("Blocked", st.Blocked.Reason+": "+st.Blocked.Message)
	}
}

// expiryNote says how much of the window is left while access is held.
func expiryNote(er *accessv1alpha1.ElevationRequest, now time.Time) string {
	switch er.Status.Phase {
	case accessv1alpha1.PhaseActive:
		return " (" + humanLeft(er.Status.ExpiresAt.Sub(now)) + " left)"
	case accessv1alpha1.PhaseRevoking:
		return " (revoking)"
	}
	if rev := er.Status.Revocation; rev != nil && rev.Reason == accessv1alpha1.RevocationEarly {
		return " (ended early)"
	}
	return ""
}

func writeVerification(b *strings.Builder, er *accessv1alpha1.ElevationRequest) {
	rev := er.Status.Revocation
	if rev == nil {
		return
	}
	b.WriteString("\nRevocation:\n")
	fmt.Fprintf(b, "  Reason:       %s\n", rev.Reason)
	if rev.VerifiedAt == nil {
		fmt.Fprintf(b, "  Verified:     not yet (%d failed attempts)\n", rev.Attempts)
	} else {
		fmt.Fprintf(b, "  Verified at:  %s\n", stamp(rev.VerifiedAt.Time))
	}
	if rev.Method != "" {
		fmt.Fprintf(b, "  Method:       %s\n", rev.Method)
	}
	if rev.Detail != "" {
		fmt.Fprintf(b, "  Detail:       %s\n", rev.Detail)
	}
	if rev.RetainedBy != "" {
		fmt.Fprintf(b, "  Retained by:  %s (holds the same access; removed when it ends)\n", rev.RetainedBy)
	}
}

func writeResidual(b *strings.Builder, paths []accessv1alpha1.ResidualAccessPath) {
	if len(paths) == 0 {
		return
	}
	b.WriteString("\nResidual access (the subject still holds the role's access by these paths):\n")
	for _, p := range paths {
		text := "  " + p.Name
		if p.CreatedAt != nil {
			text += ", created " + stamp(p.CreatedAt.Time)
		}
		if p.InsideWindow {
			text += ", INSIDE the window"
		}
		if p.MadeWhileElevated != "" {
			text += ", made while elevated by " + p.MadeWhileElevated
		}
		b.WriteString(text + "\n")
	}
}

func writeActivity(b *strings.Builder, act *accessv1alpha1.Activity) {
	if act == nil {
		return
	}
	fmt.Fprintf(b, "\nActivity: %s", act.State)
	if act.Source != "" {
		fmt.Fprintf(b, " (from %s)", act.Source)
	}
	b.WriteString("\n")
	if act.Message != "" {
		fmt.Fprintf(b, "  %s\n", act.Message)
	}
	if act.State == accessv1alpha1.ActivityUnavailable {
		// No counts: zeros here would read as "did nothing", which nobody knows.
		return
	}
	c := act.Counts
	fmt.Fprintf(b, "  %d actions: %d config, %d access, %d data, %d other; %d denied, %d not via the elevation, %d dropped\n",
		c.Total, c.Config, c.Access, c.Data, c.Other, c.Denied, c.NotViaElevation, c.Dropped)
	writeActions(b, "Access changes", act.AccessChanges)
	writeActions(b, "Recent", act.Recent)
}

func writeActions(b *strings.Builder, title string, actions []accessv1alpha1.ActivityAction) {
	if len(actions) == 0 {
		return
	}
	fmt.Fprintf(b, "  %s:\n", title)
	for _, a := range actions {
		text := fmt.Sprintf("    %s  %-6s %s %s", stamp(a.At.Time), a.Category, a.Action, a.Object)
		if a.Denied {
			text += " (denied)"
		}
		if a.ImpersonatedBy != "" {
			text += " (impersonated by " + a.ImpersonatedBy + ")"
		}
		b.WriteString(strings.TrimRight(text, " ") + "\n")
	}
}
