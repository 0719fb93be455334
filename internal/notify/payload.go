package notify

import (
	"fmt"
	"strings"
	"time"
)

// Payload is the data of a notification: what a person needs to act on it.
// It is the CloudEvent's data, and the Slack text is written from it.
type Payload struct {
	Type          Type   `json:"type"`
	Headline      string `json:"headline"`
	Namespace     string `json:"namespace"`
	Name          string `json:"name"`
	Subject       string `json:"subject"`
	Connection    string `json:"connection"`
	Role          string `json:"role"`
	Duration      string `json:"duration"`
	Justification string `json:"justification"`
	Ticket        string `json:"ticket,omitempty"`
	Phase         string `json:"phase"`
	RequestedBy   string `json:"requestedBy,omitempty"`
	// Approvers are who approved, as the API server authenticated them.
	Approvers []string `json:"approvers,omitempty"`
	DeniedBy  string   `json:"deniedBy,omitempty"`
	ExpiresAt string   `json:"expiresAt,omitempty"`
	// ApproveCommand is set on "requested", for the approvers.
	ApproveCommand string `json:"approveCommand,omitempty"`
	// VerifiedBy says how the removal was verified, on "revoked".
	VerifiedBy string `json:"verifiedBy,omitempty"`
	// FailedAttempts is set on "revocationOverdue".
	FailedAttempts int32 `json:"failedAttempts,omitempty"`
	// Residual names the paths that still grant the access, on "residualAccess".
	Residual []string `json:"residual,omitempty"`
	// Targets lists connection/role of each target of a request with
	// several (connection and role are then empty).
	Targets []string `json:"targets,omitempty"`
}

func payloadOf(e Event) Payload {
	er := e.Request
	s := er.Status
	p := Payload{
		Type: e.Type, Headline: Headline(e),
		Namespace: er.Namespace, Name: er.Name, Subject: er.Spec.Subject,
		Connection: er.Spec.Connection, Role: er.Spec.Role, Duration: er.Spec.Duration,
		Justification: er.Spec.Justification, Ticket: er.Spec.Ticket,
		Phase: string(s.Phase), RequestedBy: s.RequestedBy,
	}
	if er.Spec.IsMultiTarget() {
		p.Targets = targetNames(er)
	}
	for _, a := range s.Approvals {
		p.Approvers = append(p.Approvers, a.User)
	}
	if s.Denial != nil {
		p.DeniedBy = s.Denial.User
	}
	if s.ExpiresAt != nil {
		p.ExpiresAt = s.ExpiresAt.UTC().Format(time.RFC3339)
	}
	switch e.Type {
	case Requested:
		p.ApproveCommand = ApproveCommand(er)
	case Revoked:
		p.VerifiedBy = s.Revocation.Method
	case RevocationOverdue:
		p.FailedAttempts = s.Revocation.Attempts
	case ResidualAccess:
		p.Residual = residualNames(er)
	}
	return p
}

// slackText is the chat message: the headline, then the facts an approver
// or the subject acts on.
func slackText(e Event) string {
	p := payloadOf(e)
	var b strings.Builder
	b.WriteString(chatEscape(p.Headline))
	fmt.Fprintf(&b, "\nRequest: `%s/%s`", p.Namespace, p.Name)
	if e.Type == Requested {
		fmt.Fprintf(&b, "\nWhy: %s", chatEscape(oneLine(p.Justification)))
		if p.Ticket != "" {
			fmt.Fprintf(&b, "\nTicket: %s", chatEscape(p.Ticket))
		}
		fmt.Fprintf(&b, "\nApprove: `%s`", p.ApproveCommand)
	}
	if p.ExpiresAt != "" && (e.Type == Granted || e.Type == ExpiringSoon) {
		fmt.Fprintf(&b, "\nExpires: %s", p.ExpiresAt)
	}
	if p.VerifiedBy != "" {
		fmt.Fprintf(&b, "\nVerified by: %s", chatEscape(p.VerifiedBy))
	}
	for _, r := range p.Residual {
		fmt.Fprintf(&b, "\nStill granted by: %s", chatEscape(r))
	}
	return b.String()
}

// chatEscape escapes what Slack's mrkdwn treats as control characters, so
// that a justification cannot mention @channel or forge a link.
func chatEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
