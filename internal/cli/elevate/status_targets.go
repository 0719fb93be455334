package elevate

import (
	"fmt"
	"strings"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// targetIndent is where a target's fields start in its section.
const targetIndent = "    "

// writeTargets writes one section per target of a request with
// spec.targets: its phase, approvals, grant, revocation and its evidence,
// residual access and a summary of its activity. Before the operator has
// written status.targets, the targets are listed as asked for.
func writeTargets(b *strings.Builder, er *accessv1alpha1.ElevationRequest) {
	b.WriteString("\nTargets:\n")
	statuses := targetStatuses(er)
	if statuses == nil {
		for _, t := range er.Spec.Targets {
			fmt.Fprintf(b, "  %s: not looked at by the operator yet\n", t)
		}
		return
	}
	for i := range statuses {
		writeTarget(b, &statuses[i])
	}
}

func writeTarget(b *strings.Builder, t *accessv1alpha1.TargetStatus) {
	fmt.Fprintf(b, "  %s: %s\n", t, orDash(string(t.Phase)))
	if t.RequiredApprovals > 0 {
		field(b, targetIndent, "Approvals", fmt.Sprintf("%d of %d", t.Approvals, t.RequiredApprovals))
	}
	if t.GrantedAt != nil {
		field(b, targetIndent, "Granted at", stamp(t.GrantedAt.Time))
	}
	if g := t.Grant; g != nil && g.Error != "" {
		field(b, targetIndent, "Grant error", g.Error)
	}
	if rev := t.Revocation; rev != nil {
		field(b, targetIndent, "Revocation", revocationState(rev))
		writeRevocationEvidence(b, targetIndent, rev)
	}
	if t.Blocked != nil {
		field(b, targetIndent, "Blocked", t.Blocked.Reason+": "+t.Blocked.Message)
	}
	writeResidual(b, targetIndent, t.ResidualAccess)
	writeActivity(b, targetIndent, t.Activity, false)
}

// revocationState is a target's revocation in one line: why, and whether
// the removal was verified.
func revocationState(rev *accessv1alpha1.Revocation) string {
	if rev.VerifiedAt != nil {
		return rev.Reason + ", verified gone at " + stamp(rev.VerifiedAt.Time)
	}
	return fmt.Sprintf("%s, not verified yet (%d failed attempts)", rev.Reason, rev.Attempts)
}
