// Package audit writes Elevator's audit trail: one structured log line, under the
// logger name "audit", for every request, approval, denial, grant, revocation
// and verification. With the manager's JSON logger each line is a JSON object an
// auditor can query by field.
package audit

import (
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// Actions recorded in the audit trail.
const (
	ActionRequest = "request"
	ActionApprove = "approve"
	ActionDeny    = "deny"
	ActionExpire  = "expire"
	ActionGrant   = "grant"
	ActionRevoke  = "revoke"
	ActionVerify  = "verify"
	ActionFail    = "fail"
	// ActionResidual records access the subject still held by another path
	// once Elevator's grant was verified gone.
	ActionResidual = "residual"
	// ActionBreakGlass records a subject's own emergency approval.
	ActionBreakGlass = "breakGlass"
	// ActionReview records an approver's review of a break-glass use.
	ActionReview = "review"
	// ActionActivity records one action the subject took in the target while
	// elevated, read from the target's audit log: the full trail behind
	// status.activity.
	ActionActivity = "activity"
	// ActionConnectionChanged records a connection that no longer points where
	// a live grant was made.
	ActionConnectionChanged = "connectionChanged"
)

// Logger writes audit records.
type Logger struct{ log logr.Logger }

// New returns an audit logger under base, named "audit".
func New(base logr.Logger) Logger { return Logger{log: base.WithName("audit")} }

// Record writes one audit line for an action on a request. actor is the user
// who caused it ("" for the operator itself); extra are further key/value pairs.
func (l Logger) Record(action string, er *accessv1alpha1.ElevationRequest, actor string, extra ...any) {
	kv := []any{
		"action", action,
		"request", er.Namespace + "/" + er.Name,
		"uid", string(er.UID),
		"subject", er.Spec.Subject,
		"connection", er.Spec.Connection,
		"role", er.Spec.Role,
		"phase", string(er.Status.Phase),
		"actor", actorOrOperator(actor),
		"requestedBy", er.Status.RequestedBy,
	}
	if er.Spec.IsMultiTarget() {
		targets := make([]string, len(er.Spec.Targets))
		for i, t := range er.Spec.Targets {
			targets[i] = t.String()
		}
		kv = append(kv, "targets", targets)
	}
	kv = appendTime(kv, "grantedAt", er.Status.GrantedAt)
	kv = appendMilliTime(kv, "expiresAt", er.Status.ExpiresAt)
	kv = appendMilliTime(kv, "revokedAt", er.Status.RevokedAt)
	if rev := er.Status.Revocation; rev != nil {
		kv = append(kv, "revocationReason", rev.Reason)
		kv = appendTime(kv, "verifiedAt", rev.VerifiedAt)
		if rev.Method != "" {
			kv = append(kv, "verificationMethod", rev.Method)
		}
	}
	l.log.Info("audit", append(kv, extra...)...)
}

func actorOrOperator(actor string) string {
	if actor == "" {
		return "elevator"
	}
	return actor
}

func appendTime(kv []any, key string, t *metav1.Time) []any {
	if t == nil {
		return kv
	}
	return append(kv, key, t.UTC().Format(time.RFC3339Nano))
}

func appendMilliTime(kv []any, key string, t *accessv1alpha1.MilliTime) []any {
	if t == nil {
		return kv
	}
	return append(kv, key, t.UTC().Format(time.RFC3339Nano))
}
