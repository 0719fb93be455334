package elevate

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// specDuration is what the CRD schema accepts in spec.duration.
var specDuration = regexp.MustCompile(`^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$`)

// parseWindow checks a duration flag and returns it with the text to put in
// spec.duration: the caller's own words when the schema takes them as they
// are, the normalised form otherwise.
func parseWindow(flag, value string) (time.Duration, string, error) {
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		return 0, "", fmt.Errorf("%s: must be a positive duration such as 30m or 1h30m, got %q", flag, value)
	}
	if specDuration.MatchString(value) {
		return d, value, nil
	}
	return d, d.String(), nil
}

// parsePositive checks a duration flag that is not sent to the API server.
func parsePositive(flag, value string) (time.Duration, error) {
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: must be a positive duration such as 5m, got %q", flag, value)
	}
	return d, nil
}

// checkText checks a free-text flag: required when required, valid UTF-8, and
// at most limit bytes (the schema's and the webhook's limit).
func checkText(flag, value string, required bool, limit int, hint string) error {
	if required && strings.TrimSpace(value) == "" {
		return fmt.Errorf("%s: required: %s", flag, hint)
	}
	if !utf8.ValidString(value) || len(value) > limit {
		return fmt.Errorf("%s: must be valid UTF-8 of at most %d bytes, got %d bytes", flag, limit, len(value))
	}
	return nil
}

// checkSubject checks --subject the way the CRD schema does.
func checkSubject(subject string) error {
	if subject == "" {
		return nil
	}
	if strings.TrimSpace(subject) != subject || len(subject) > 256 {
		return fmt.Errorf("--subject: must be a user name of at most 256 bytes with no leading or trailing spaces, got %q", subject)
	}
	return nil
}

// checkName checks --name as an object name.
func checkName(name string) error {
	if name == "" {
		return nil
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("--name: %q is not a valid object name: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

// generateNameForTargets is the generateName prefix of a request for
// targets: the first target's role, and for several targets how many more
// ("namespace-admin-plus2-"), so the name reads like the TARGET column.
func generateNameForTargets(targets []accessv1alpha1.Target) string {
	prefix := generateNameFor(targets[0].Role)
	if len(targets) == 1 {
		return prefix
	}
	return fmt.Sprintf("%splus%d-", prefix, len(targets)-1)
}

// generateNameFor is the generateName prefix of a request for role: the role's
// name made a valid name prefix, so the API server appends a random suffix.
func generateNameFor(role string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(role) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	prefix := strings.Trim(b.String(), "-.")
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-.")
	}
	if prefix == "" {
		prefix = "elevation"
	}
	return prefix + "-"
}

// Limits of the spec, as the CRD schema states them.
const (
	maxJustification = 1024
	maxTicket        = 128
)
