package policy

import (
	"fmt"
	"regexp"
	"strings"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// serviceAccountPrefix starts every Kubernetes ServiceAccount's user name.
const serviceAccountPrefix = "system:serviceaccount:"

// CheckSubject enforces the connection's subject policy: subjects are people.
// A "system:" name (system:anonymous, system:node:..., a ServiceAccount) is
// refused, except a ServiceAccount where the connection allows them, and the
// subject must match the connection's pattern when it has one.
func CheckSubject(conn *accessv1alpha1.SaaSConnection, subject string) error {
	policy := conn.Spec.Subjects
	switch {
	case strings.HasPrefix(subject, serviceAccountPrefix) && !policy.AllowServiceAccounts:
		return fieldErrorf("spec.subject", "%q is a ServiceAccount; SaaSConnection %q does not allow ServiceAccounts as subjects (spec.subjects.allowServiceAccounts)", subject, conn.Name)
	case strings.HasPrefix(strings.ToLower(subject), "system:") && !strings.HasPrefix(subject, serviceAccountPrefix):
		return fieldErrorf("spec.subject", "%q is a Kubernetes system identity; only people may be given access", subject)
	}
	if policy.Pattern == "" {
		return nil
	}
	re, err := regexp.Compile(`^(?:` + policy.Pattern + `)$`)
	if err != nil {
		return fmt.Errorf("SaaSConnection %q spec.subjects.pattern: %q is not an RE2 regular expression: %w", conn.Name, policy.Pattern, err)
	}
	if !re.MatchString(subject) {
		return fieldErrorf("spec.subject", "%q does not match the subject pattern %q of SaaSConnection %q (spec.subjects.pattern)", subject, policy.Pattern, conn.Name)
	}
	return nil
}

// SameUser reports whether two user names may name the same person in a
// target. SCIM user names and LDAP attribute values compare case-insensitively,
// so "ALICE" is alice there; Elevator compares case-insensitively for every
// provider, which is the safe direction for self-approval: it may refuse an
// approval by "Alice" for "alice" where the target tells them apart, never the
// other way round.
func SameUser(a, b string) bool {
	return a != "" && strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// CheckAutoApproval refuses a request for a role that needs no approval unless
// its requester is its subject: otherwise anyone allowed to create requests
// could push access onto someone else with no one approving it.
func CheckAutoApproval(role *accessv1alpha1.Role, subject, requester string) error {
	if RequiredApprovals(role) > 0 || SameUser(subject, requester) {
		return nil
	}
	if requester == "" {
		return fieldErrorf("spec.role", "role %q needs no approval, so only its subject may request it, and the requester is unknown (status.requestedBy is empty: the admission webhook did not admit this request)", role.Name)
	}
	return fieldErrorf("spec.subject", "role %q needs no approval, so only its subject may request it: user %q asked for %q", role.Name, requester, subject)
}
