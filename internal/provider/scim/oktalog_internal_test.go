package scim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// readSample decodes testdata/okta/name (see its README for the sources).
func readSample(t *testing.T, name string, out any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "okta", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

// The System Log reference's own LogEvent example parses, except its
// published time, which names September 31st: the event cannot be placed in
// any window, and the source must say so rather than guess.
func TestDocumentedLogEventObject(t *testing.T) {
	var ev LogEvent
	readSample(t, "logevent-object.json", &ev)
	if ev.UUID != "f790999f-fe87-467a-9880-6982a583986c" || ev.EventType != "user.session.start" || ev.DisplayMessage != "User login to Okta" {
		t.Errorf("uuid, eventType, displayMessage = %q, %q, %q", ev.UUID, ev.EventType, ev.DisplayMessage)
	}
	if ev.Actor == nil || *ev.Actor != (LogActor{ID: "00u1qw1mqitPHM8AJ0g7", Type: "User", AlternateID: "admin@example.com", DisplayName: "John Doe"}) {
		t.Errorf("actor = %+v", ev.Actor)
	}
	if ev.Outcome == nil || ev.Outcome.Result != "SUCCESS" || ev.Denied() {
		t.Errorf("outcome = %+v, Denied = %v; want SUCCESS, not denied", ev.Outcome, ev.Denied())
	}
	if ev.Client == nil || ev.Client.IPAddress != "12.97.85.90" || ev.Client.Zone != "OFF_NETWORK" {
		t.Errorf("client = %+v", ev.Client)
	}
	if len(ev.Target) != 0 {
		t.Errorf("targets = %+v, want none (the example has none)", ev.Target)
	}
	if _, err := ev.PublishedAt(); err == nil || !strings.Contains(err.Error(), "2017-09-31T22:23:07.777Z") {
		t.Errorf("PublishedAt of September 31st = %v, want an error quoting it", err)
	}
	if Category(ev.EventType) != accessv1alpha1.ActivityOther {
		t.Errorf("a sign-in is %s, want Other", Category(ev.EventType))
	}
}

// Event hooks deliver the same LogEvents; the documented delivery's one has a
// real date.
func TestDocumentedEventHookDelivery(t *testing.T) {
	var delivery struct {
		Data struct {
			Events []LogEvent `json:"events"`
		} `json:"data"`
	}
	readSample(t, "event-hook-delivery.json", &delivery)
	if len(delivery.Data.Events) != 1 {
		t.Fatalf("events = %d, want 1", len(delivery.Data.Events))
	}
	ev := delivery.Data.Events[0]
	at, err := ev.PublishedAt()
	if err != nil || !at.Equal(time.Date(2018, 3, 28, 22, 23, 7, 777e6, time.UTC)) {
		t.Errorf("PublishedAt = %v, %v; want 2018-03-28T22:23:07.777Z", at, err)
	}
	if !ev.ActedBy("ADMIN@example.com") || ev.ActedBy("admin@example.co") || ev.ActedBy("") {
		t.Errorf("ActedBy compares the login %q without case, and only the whole login", ev.Actor.AlternateID)
	}
	a := ev.Action(at)
	if a.ID != ev.UUID || a.Action != "user.session.start" || a.Category != accessv1alpha1.ActivityOther || a.Object != "" || a.Denied {
		t.Errorf("Action = %+v", a)
	}
}

// The documented changeDetails target, an app whose VPN setting changed, is
// named by its type, name and id; the change is a Config one.
func TestDocumentedChangeDetailsTarget(t *testing.T) {
	ev := LogEvent{UUID: "u1", EventType: "application.lifecycle.update"}
	readSample(t, "target-change-details.json", &ev.Target)
	a := ev.Action(time.Now())
	if a.Object != `appinstance "Workday" (id 0oaabcd1234)` || a.Category != accessv1alpha1.ActivityConfig {
		t.Errorf("Action = %+v", a)
	}
}

// A membership change names the group as the SCIM provider's Check and
// residual paths do, then the user added.
func TestGroupMembershipObject(t *testing.T) {
	ev := LogEvent{
		UUID: "u2", EventType: "group.user_membership.add",
		Target: []LogActor{
			{ID: "00ued6gq9jItNhAsN0h7", Type: "User", AlternateID: "mallory@example.com", DisplayName: "Mallory"},
			{ID: "00g8mo0l5wuTxmoIC0h7", Type: "UserGroup", AlternateID: "unknown", DisplayName: "billing-admins"},
		},
		Outcome: &LogOutcome{Result: "SUCCESS"},
	}
	a := ev.Action(time.Now())
	want := `SCIM group "billing-admins" (id 00g8mo0l5wuTxmoIC0h7), user "mallory@example.com" (id 00ued6gq9jItNhAsN0h7)`
	if a.Object != want || a.Category != accessv1alpha1.ActivityAccess {
		t.Errorf("Action = %+v, want Access on %s", a, want)
	}
	ev.Target = []LogActor{{ID: "g", Type: "UserGroup", DisplayName: strings.Repeat("x", 600)}}
	if got := ev.Action(time.Now()).Object; len(got) > accessv1alpha1.MaxActivityText || !strings.HasSuffix(got, "...") {
		t.Errorf("a long object is %d bytes, want at most %d, cut with ...", len(got), accessv1alpha1.MaxActivityText)
	}
}

func TestCategory(t *testing.T) {
	for eventType, want := range map[string]accessv1alpha1.ActivityCategory{
		"group.user_membership.add":               accessv1alpha1.ActivityAccess,
		"group.user_membership.remove":            accessv1alpha1.ActivityAccess,
		"application.user_membership.add":         accessv1alpha1.ActivityAccess,
		"app.user_membership.change_username":     accessv1alpha1.ActivityAccess,
		"user.account.privilege.grant":            accessv1alpha1.ActivityAccess,
		"iam.role.assignment.create":              accessv1alpha1.ActivityAccess,
		"group.privilege.grant":                   accessv1alpha1.ActivityAccess,
		"user.account.update_password":            accessv1alpha1.ActivityAccess,
		"user.account.reset_password":             accessv1alpha1.ActivityAccess,
		"user.mfa.factor.deactivate":              accessv1alpha1.ActivityAccess,
		"system.api_token.create":                 accessv1alpha1.ActivityAccess,
		"user.lifecycle.create":                   accessv1alpha1.ActivityConfig,
		"user.lifecycle.delete.initiated":         accessv1alpha1.ActivityConfig,
		"user.account.update_profile":             accessv1alpha1.ActivityConfig,
		"group.lifecycle.create":                  accessv1alpha1.ActivityConfig,
		"application.lifecycle.update":            accessv1alpha1.ActivityConfig,
		"policy.rule.update":                      accessv1alpha1.ActivityConfig,
		"system.org.rate_limit.violation":         accessv1alpha1.ActivityConfig,
		"user.session.start":                      accessv1alpha1.ActivityOther,
		"user.authentication.sso":                 accessv1alpha1.ActivityOther,
		"":                                        accessv1alpha1.ActivityOther,
		"GROUP.USER_MEMBERSHIP.ADD":               accessv1alpha1.ActivityAccess,
		"security.request.blocked":                accessv1alpha1.ActivityOther,
		"application.provision.user.push_profile": accessv1alpha1.ActivityConfig,
	} {
		if got := Category(eventType); got != want {
			t.Errorf("Category(%q) = %s, want %s", eventType, got, want)
		}
	}
}

func TestDeniedOutcomes(t *testing.T) {
	for result, want := range map[string]bool{"FAILURE": true, "DENY": true, "deny": true, "SUCCESS": false, "Success": false, "ALLOW": false, "SKIPPED": false, "CHALLENGE": false, "": false} {
		if got := (LogEvent{Outcome: &LogOutcome{Result: result}}).Denied(); got != want {
			t.Errorf("Denied(%q) = %v, want %v", result, got, want)
		}
	}
	if (LogEvent{}).Denied() {
		t.Error("an event without an outcome is denied")
	}
}

// An admin who impersonated the subject is named; the subject's own session
// is not "impersonated by" itself.
func TestImpersonatedBy(t *testing.T) {
	ev := LogEvent{Actor: &LogActor{AlternateID: "alice@example.com"}, DebugContext: &LogDebugContext{}}
	ev.DebugContext.DebugData.OriginalPrincipal = &LogActor{ID: "00uadmin", AlternateID: "admin@example.com"}
	if got := ev.Action(time.Now()).ImpersonatedBy; got != "admin@example.com" {
		t.Errorf("ImpersonatedBy = %q, want admin@example.com", got)
	}
	ev.DebugContext.DebugData.OriginalPrincipal.AlternateID = "Alice@example.com"
	if got := ev.Action(time.Now()).ImpersonatedBy; got != "" {
		t.Errorf("ImpersonatedBy = %q for the subject itself", got)
	}
}

// The documented Link headers: the next link's query is taken whole (with its
// after token), the self link is not a next page.
func TestDocumentedLinkHeaders(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "okta", "link-headers.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// The documentation writes a placeholder where the org's host goes.
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(raw), "{yourOktaDomain}", "example.okta.com")), "\n")
	var values []string
	for _, l := range lines {
		values = append(values, strings.TrimSpace(strings.TrimPrefix(l, "link:")))
	}
	next, err := nextQuery(values)
	if err != nil || next == nil {
		t.Fatalf("nextQuery = %v, %v", next, err)
	}
	if next.Get("after") != "349996bd-5091-45dc-a39f-d357867a30d7" || next.Get("until") != "2017-09-17T15:41:12.994Z" || next.Get("since") != "2017-06-10T00:00:00+00:00" {
		t.Errorf("next query = %v", next)
	}
	if q, err := nextQuery(values[:1]); q != nil || err != nil {
		t.Errorf("a self link alone = %v, %v; want no next page", q, err)
	}
	if q, err := nextQuery([]string{strings.Join(values, ", ")}); err != nil || q.Get("after") == "" {
		t.Errorf("self and next in one header = %v, %v", q, err)
	}
	if _, err := nextQuery([]string{`<https://example.okta.com/api/v1/users?after=x>; rel="next"`}); err == nil {
		t.Error("a next link to another endpoint was followed")
	}
}

// A login with a quote or a backslash stays one string literal: it cannot end
// the literal and add a clause to the filter.
func TestActorFilterEscapes(t *testing.T) {
	for _, login := range []string{`alice@example.com`, `a"b\c@example.com`, `x" or actor.alternateId pr or "`, "new\nline", `<&>`} {
		f := actorFilter(login)
		lit, ok := strings.CutPrefix(f, "actor.alternateId eq ")
		if !ok {
			t.Fatalf("filter %q", f)
		}
		var back string
		if err := json.Unmarshal([]byte(lit), &back); err != nil || back != login {
			t.Errorf("actorFilter(%q) = %s; the literal decodes to %q, %v", login, f, back, err)
		}
		if strings.Count(lit, `"`)-strings.Count(lit, `\"`) != 2 {
			t.Errorf("actorFilter(%q) = %s: more than one unescaped literal", login, f)
		}
	}
	if got := actorFilter(`a"b\c`); got != `actor.alternateId eq "a\"b\\c"` {
		t.Errorf("actorFilter = %s", got)
	}
}
