package scim

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// LogEvent is the part of an Okta System Log LogEvent the activity source
// reads (developer.okta.com, System Log API, "LogEvent object"). Published is
// kept as the string Okta sent: an event whose time cannot be read is reported
// as a gap, not dropped silently.
type LogEvent struct {
	UUID           string           `json:"uuid"`
	Published      string           `json:"published"`
	EventType      string           `json:"eventType"`
	DisplayMessage string           `json:"displayMessage"`
	Actor          *LogActor        `json:"actor"`
	Target         []LogActor       `json:"target"`
	Outcome        *LogOutcome      `json:"outcome"`
	Client         *LogClient       `json:"client"`
	DebugContext   *LogDebugContext `json:"debugContext"`
}

// LogActor is an Okta actor or target: a user, a group, an app.
type LogActor struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

// LogOutcome is the result of the action: SUCCESS, FAILURE, SKIPPED, ALLOW,
// DENY, CHALLENGE or UNKNOWN.
type LogOutcome struct {
	Result string `json:"result"`
	Reason string `json:"reason"`
}

// LogClient is the client that sent the request that caused the event.
type LogClient struct {
	IPAddress string `json:"ipAddress"`
	Device    string `json:"device"`
	Zone      string `json:"zone"`
}

// LogDebugContext carries the original principal of an impersonated session.
type LogDebugContext struct {
	DebugData struct {
		OriginalPrincipal *LogActor `json:"originalPrincipal"`
	} `json:"debugData"`
}

// PublishedAt is when Okta says the event happened.
func (e LogEvent) PublishedAt() (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, e.Published)
	if err != nil {
		return time.Time{}, fmt.Errorf("event %s has a published time %q that is not RFC 3339: %w", e.UUID, e.Published, err)
	}
	return t.UTC(), nil
}

// ActedBy reports whether the event's actor is login: Okta's alternateId of a
// user is its login, compared without case as Okta compares logins.
func (e LogEvent) ActedBy(login string) bool {
	return e.Actor != nil && login != "" && strings.EqualFold(strings.TrimSpace(e.Actor.AlternateID), login)
}

// Denied reports whether Okta refused the action.
func (e LogEvent) Denied() bool {
	if e.Outcome == nil {
		return false
	}
	switch strings.ToUpper(e.Outcome.Result) {
	case "FAILURE", "DENY":
		return true
	}
	return false
}

// accessPrefixes are event types that change who may do what: memberships,
// privileges, credentials and tokens. They are checked before configPrefixes,
// which hold broader prefixes of some of them (application., system.).
var accessPrefixes = []string{
	"group.user_membership.",
	"application.user_membership.",
	"app.user_membership.",
	"user.account.privilege.",
	"group.privilege.",
	"user.account.update_password",
	"user.account.reset_password",
	"user.account.unlock",
	"user.mfa.factor.",
	"system.api_token.",
	"app.oauth2.as.consent.",
}

// configPrefixes are event types that change configuration: the lifecycle of
// users, groups and apps, profiles, policies, the org's settings.
var configPrefixes = []string{
	"user.lifecycle.",
	"user.account.update_profile",
	"group.lifecycle.",
	"group.profile.",
	"application.",
	"app.",
	"policy.",
	"system.",
	"zone.",
	"network_zone.",
}

// Category sorts an Okta event type into the activity categories: anything
// that grants or removes access (a membership, a privilege, a role, a
// credential, an API token) is Access; lifecycle, profile, application,
// policy and org changes are Config; the rest (sign-ins, SSO) is Other.
func Category(eventType string) accessv1alpha1.ActivityCategory {
	t := strings.ToLower(eventType)
	if strings.Contains(t, "role") || strings.Contains(t, "privilege") || hasAnyPrefix(t, accessPrefixes) {
		return accessv1alpha1.ActivityAccess
	}
	if hasAnyPrefix(t, configPrefixes) {
		return accessv1alpha1.ActivityConfig
	}
	return accessv1alpha1.ActivityOther
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Action is the event as an activity action, at the given time. The text
// fields are bounded; displayMessage is not copied (it is free text that may
// quote what was typed).
func (e LogEvent) Action(at time.Time) provider.Action {
	a := provider.Action{
		At:       at,
		ID:       bound(e.UUID),
		Category: Category(e.EventType),
		Action:   bound(e.EventType),
		Object:   bound(e.object()),
		Denied:   e.Denied(),
	}
	if e.DebugContext != nil {
		if p := e.DebugContext.DebugData.OriginalPrincipal; p != nil && !e.ActedBy(p.AlternateID) {
			a.ImpersonatedBy = bound(p.AlternateID)
		}
	}
	return a
}

// object names the event's targets. A group is named as the SCIM provider's
// Check and residual paths name one, `SCIM group "<name>" (id <id>)`, followed
// by the user added or removed, so that a membership found at revocation is
// tied to the action that made it.
func (e LogEvent) object() string {
	var group *LogActor
	var others []string
	for i := range e.Target {
		t := &e.Target[i]
		if strings.EqualFold(t.Type, "UserGroup") && group == nil {
			group = t
			continue
		}
		others = append(others, describeTarget(t))
	}
	if group == nil {
		return strings.Join(others, "; ")
	}
	name := fmt.Sprintf("SCIM group %q (id %s)", group.DisplayName, group.ID)
	if len(others) == 0 {
		return name
	}
	return name + ", " + strings.Join(others, "; ")
}

func describeTarget(t *LogActor) string {
	name := t.AlternateID
	if name == "" || strings.EqualFold(name, "unknown") {
		name = t.DisplayName
	}
	kind := strings.ToLower(t.Type)
	if kind == "" {
		kind = "target"
	}
	return fmt.Sprintf("%s %q (id %s)", kind, name, t.ID)
}

// bound cuts s to the API's limit on an action's text fields, on a rune
// boundary.
func bound(s string) string {
	if len(s) <= accessv1alpha1.MaxActivityText {
		return s
	}
	cut := accessv1alpha1.MaxActivityText - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
