package policy

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// Defaults of a role's breakGlass, as the CRD defaults them.
const (
	DefaultBreakGlassMinJustification = 40
	DefaultBreakGlassMaxDuration      = time.Hour
	DefaultBreakGlassReviewWithin     = 24 * time.Hour
)

// CheckBreakGlass checks a request against its role's breakGlass: the role
// allows it, the justification is long enough and the duration short enough.
// Who may break the glass (the subject, with the RBAC verb breakglass) is the
// webhook's to check; the controller re-checks this part before granting.
func CheckBreakGlass(er *accessv1alpha1.ElevationRequest, role *accessv1alpha1.Role) error {
	if role == nil {
		return fmt.Errorf("role %q does not exist in SaaSConnection %q", er.Spec.Role, er.Spec.Connection)
	}
	bg := role.BreakGlass
	if bg == nil {
		return fmt.Errorf("role %q of SaaSConnection %q does not allow break-glass (spec.roles[].breakGlass is not set)", role.Name, er.Spec.Connection)
	}
	minLen := int(bg.MinJustification)
	if minLen == 0 {
		minLen = DefaultBreakGlassMinJustification
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(er.Spec.Justification)); n < minLen {
		return fmt.Errorf("spec.justification is %d characters; break-glass needs at least %d (spec.roles[].breakGlass.minJustification of role %q)", n, minLen, role.Name)
	}
	maxDur := BreakGlassMaxDuration(bg)
	if d, err := time.ParseDuration(er.Spec.Duration); err != nil || d > maxDur {
		return fmt.Errorf("spec.duration %s is longer than break-glass allows: at most %s (spec.roles[].breakGlass.maxDuration of role %q)", er.Spec.Duration, maxDur, role.Name)
	}
	return nil
}

// BreakGlassMaxDuration is the role's break-glass duration cap.
func BreakGlassMaxDuration(bg *accessv1alpha1.BreakGlassPolicy) time.Duration {
	return durationOr(bg.MaxDuration, DefaultBreakGlassMaxDuration)
}

// BreakGlassReviewWithin is how long after a break-glass use its review is due.
func BreakGlassReviewWithin(bg *accessv1alpha1.BreakGlassPolicy) time.Duration {
	if bg == nil {
		return DefaultBreakGlassReviewWithin
	}
	return durationOr(bg.ReviewWithin, DefaultBreakGlassReviewWithin)
}

func durationOr(value string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(value); err == nil && d > 0 {
		return d
	}
	return def
}
