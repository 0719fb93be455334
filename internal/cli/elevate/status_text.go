package elevate

import (
	"fmt"
	"io"
	"strings"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// renderStatus writes the request's timeline for a person. A request with
// several targets also gets a section per target; its top-level revocation
// is the operator's summary of theirs.
func renderStatus(w io.Writer, er *accessv1alpha1.ElevationRequest, now time.Time) error {
	b := &strings.Builder{}
	writeHeader(b, er, now)
	b.WriteString("\nTimeline:\n")
	for _, e := range timeline(er) {
		fmt.Fprintf(b, "  %s  %s\n", stamp(e.at), e.text)
	}
	writeVerification(b, er)
	if er.Spec.IsMultiTarget() {
		writeTargets(b, er)
	} else {
		writeResidual(b, "", er.Status.ResidualAccess)
		writeActivity(b, "", er.Status.Activity, true)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeHeader(b *strings.Builder, er *accessv1alpha1.ElevationRequest, now time.Time) {
	st := er.Status
	line := func(k, v string) { fmt.Fprintf(b, "%-15s%s\n", k+":", v) }
	line("Request", er.Namespace+"/"+er.Name)
	line("Phase", orDash(string(st.Phase)))
	line("Subject", er.Spec.Subject)
	if er.Spec.IsMultiTarget() {
		line("Access", fmt.Sprintf("%d targets for %s (see Targets below)", len(er.Spec.Targets), er.Spec.Duration))
	} else {
		line("Access", fmt.Sprintf("%s/%s for %s", er.Spec.Connection, er.Spec.Role, er.Spec.Duration))
	}
	line("Justification", er.Spec.Justification)
	if er.Spec.Ticket != "" {
		line("Ticket", er.Spec.Ticket)
	}
	if orig := er.Annotations[accessv1alpha1.AnnotationExtends]; orig != "" {
		line("Extends", orig)
	}
	line("Requested by", orUnknownUser(requesterOf(er)))
	progress := approvalProgress(er)
	if !er.Spec.IsMultiTarget() {
		progress = approvalCount(st)
	}
	if st.Phase == accessv1alpha1.PhasePending && progress != "" {
		line("Approvals", progress+"; an approver runs: kubectl elevate approve "+er.Name+" -n "+er.Namespace)
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

// field writes "KEY:" padded to the column the status sections line up at.
func field(b *strings.Builder, indent, key, value string) {
	fmt.Fprintf(b, "%s%-14s%s\n", indent, key+":", value)
}

func writeVerification(b *strings.Builder, er *accessv1alpha1.ElevationRequest) {
	rev := er.Status.Revocation
	if rev == nil {
		return
	}
	heading := "Revocation"
	if er.Spec.IsMultiTarget() {
		heading += " (of all targets; each target's below)"
	}
	b.WriteString("\n" + heading + ":\n")
	field(b, "  ", "Reason", rev.Reason)
	if rev.VerifiedAt == nil {
		field(b, "  ", "Verified", fmt.Sprintf("not yet (%d failed attempts)", rev.Attempts))
	} else {
		field(b, "  ", "Verified at", stamp(rev.VerifiedAt.Time))
	}
	writeRevocationEvidence(b, "  ", rev)
}

// writeRevocationEvidence writes how a removal was verified, what the check
// read, and which other request holds the access on.
func writeRevocationEvidence(b *strings.Builder, indent string, rev *accessv1alpha1.Revocation) {
	if rev.Method != "" {
		field(b, indent, "Method", rev.Method)
	}
	if rev.Detail != "" {
		field(b, indent, "Detail", rev.Detail)
	}
	if rev.RetainedBy != "" {
		field(b, indent, "Retained by", rev.RetainedBy+" (holds the same access; removed when it ends)")
	}
}

// writeResidual writes the residual access paths: as a section of its own
// when indent is "", inside a target's section otherwise.
func writeResidual(b *strings.Builder, indent string, paths []accessv1alpha1.ResidualAccessPath) {
	if len(paths) == 0 {
		return
	}
	if indent == "" {
		b.WriteString("\n")
	}
	b.WriteString(indent + "Residual access (the subject still holds the role's access by these paths):\n")
	for _, p := range paths {
		text := indent + "  " + p.Name
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

// writeActivity writes the activity record: as a section of its own when
// indent is "", inside a target's section otherwise; the recent actions only
// when withRecent (a target's section sums up: counts and access changes).
func writeActivity(b *strings.Builder, indent string, act *accessv1alpha1.Activity, withRecent bool) {
	if act == nil {
		return
	}
	if indent == "" {
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "%sActivity: %s", indent, act.State)
	if act.Source != "" {
		fmt.Fprintf(b, " (from %s)", act.Source)
	}
	b.WriteString("\n")
	if act.Message != "" {
		fmt.Fprintf(b, "%s  %s\n", indent, act.Message)
	}
	if act.State == accessv1alpha1.ActivityUnavailable {
		// No counts: zeros here would read as "did nothing", which nobody knows.
		return
	}
	c := act.Counts
	fmt.Fprintf(b, "%s  %d actions: %d config, %d access, %d data, %d other; %d denied, %d not via the elevation, %d dropped\n",
		indent, c.Total, c.Config, c.Access, c.Data, c.Other, c.Denied, c.NotViaElevation, c.Dropped)
	writeActions(b, indent, "Access changes", act.AccessChanges)
	if withRecent {
		writeActions(b, indent, "Recent", act.Recent)
	}
}

func writeActions(b *strings.Builder, indent, title string, actions []accessv1alpha1.ActivityAction) {
	if len(actions) == 0 {
		return
	}
	fmt.Fprintf(b, "%s  %s:\n", indent, title)
	for _, a := range actions {
		text := fmt.Sprintf("%s    %s  %-6s %s %s", indent, stamp(a.At.Time), a.Category, a.Action, a.Object)
		if a.Denied {
			text += " (denied)"
		}
		if a.ImpersonatedBy != "" {
			text += " (impersonated by " + a.ImpersonatedBy + ")"
		}
		b.WriteString(strings.TrimRight(text, " ") + "\n")
	}
}
