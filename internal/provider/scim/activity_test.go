package scim_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/scim"
	"github.com/elevator-dev/elevator/internal/provider/scim/scimtest"
)

// logEnv is a scimmy server with its Okta-shaped System Log, a provider
// client reading that log, and SCIM clients for the subject and for another
// user, each calling with its own token.
type logEnv struct {
	admin   *scimtest.Admin
	subject *scimtest.Admin
	other   *scimtest.Admin
	client  provider.Client
}

const (
	subjectLogin = "alice@example.com"
	otherLogin   = "bob@example.com"
	oktaSecret   = "okta-creds"
)

// boundary separates writes from a window's edge by more than the log's
// millisecond precision and the moment the server takes to append an event
// after answering.
const boundary = 30 * time.Millisecond

func newLogEnv(t *testing.T, pageMax int) *logEnv {
	t.Helper()
	opToken, subjectToken, otherToken, logToken := randomToken(t), randomToken(t), randomToken(t), randomToken(t)
	base, org := scimtest.StartScimmyWithLog(t, opToken, scimtest.ScimmyLog{
		Token: logToken, Callers: map[string]string{subjectToken: subjectLogin, otherToken: otherLogin}, PageMax: pageMax,
	})
	conn := connection(base, "")
	conn.Spec.Provider.SCIM.Activity = &accessv1alpha1.SCIMActivitySource{OktaSystemLog: &accessv1alpha1.OktaSystemLogSource{
		URL: org, AllowInsecureHTTP: true, DeliveryDelay: "0s",
		CredentialsSecretRef: accessv1alpha1.LocalSecretReference{Name: oktaSecret},
	}}
	c, err := scim.New(context.Background(), provider.Config{Connection: conn, Secrets: secrets(map[string]map[string][]byte{
		secretName: {"token": []byte(opToken)}, oktaSecret: {"token": []byte(logToken)},
	})})
	if err != nil {
		t.Fatalf("scim.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &logEnv{
		admin: scimtest.NewAdmin(base, opToken), subject: scimtest.NewAdmin(base, subjectToken),
		other: scimtest.NewAdmin(base, otherToken), client: c,
	}
}

func source(t *testing.T, c provider.Client) provider.ActivitySource {
	t.Helper()
	src, ok := c.(provider.ActivitySource)
	if !ok {
		t.Fatal("the SCIM client is not a provider.ActivitySource")
	}
	return src
}

// write sends one SCIM write with api and checks the server's answer.
func write(t *testing.T, api *scimtest.Admin, method, path string, body any, want int) {
	t.Helper()
	if status, raw := api.Raw(t, method, path, body); status != want {
		t.Fatalf("%s %s answered %d, want %d: %s", method, path, status, want, raw)
	}
}

func addMember(userID string) map[string]any {
	return map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "add", "path": "members", "value": []map[string]string{{"value": userID}}}},
	}
}

func setDisplayName(name string) map[string]any {
	return map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "replace", "path": "displayName", "value": name}},
	}
}

func newGroup(name string) map[string]any {
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name}
}

// readAll reads the window page by page until the source says nothing more is
// waiting, and returns every page.
func readAll(t *testing.T, src provider.ActivitySource, q provider.ActivityQuery) []provider.ActivityPage {
	t.Helper()
	var pages []provider.ActivityPage
	for i := 0; i < 20; i++ {
		p, err := src.Activity(ctx(t), q)
		if err != nil {
			t.Fatalf("Activity (page %d): %v", i+1, err)
		}
		pages = append(pages, p)
		if !p.More {
			return pages
		}
		q.Cursor = p.Cursor
	}
	t.Fatal("Activity said More for 20 pages")
	return nil
}

// The subject is elevated, then really writes through SCIM as itself: Activity
// returns exactly those writes, categorised, including one the server
// refused; not the operator's grant, not another user's write in the same
// window, not the subject's own writes before and after the window.
func TestActivityReturnsTheSubjectsOwnWritesInTheWindow(t *testing.T) {
	e := newLogEnv(t, 0)
	subjectID := e.admin.CreateUser(t, subjectLogin)
	e.admin.CreateUser(t, otherLogin)
	mallory := e.admin.CreateUser(t, "mallory@example.com")
	e.admin.CreateGroup(t, "billing-admins")
	payroll := e.admin.CreateGroup(t, "payroll")

	write(t, e.subject, http.MethodPatch, "/Users/"+url.PathEscape(subjectID), setDisplayName("before"), http.StatusOK)
	time.Sleep(boundary)
	from := time.Now()
	g, err := e.client.Grant(ctx(t), ent(subjectLogin, byName("billing-admins")))
	if err != nil {
		t.Fatalf("Grant: %v", err)
	}
	write(t, e.subject, http.MethodPatch, "/Groups/"+url.PathEscape(payroll), addMember(mallory), http.StatusOK)
	write(t, e.other, http.MethodPatch, "/Groups/"+url.PathEscape(payroll), addMember(subjectID), http.StatusOK)
	write(t, e.subject, http.MethodPatch, "/Users/"+url.PathEscape(subjectID), setDisplayName("during"), http.StatusOK)
	write(t, e.subject, http.MethodPost, "/Groups", newGroup("billing-admins"), http.StatusConflict)
	time.Sleep(boundary)
	until := time.Now()
	time.Sleep(boundary)
	write(t, e.subject, http.MethodPatch, "/Users/"+url.PathEscape(subjectID), setDisplayName("after"), http.StatusOK)

	granted := ent("request-subject-is-not-read", byName("billing-admins"))
	granted.Target = &g.Target
	pages := readAll(t, source(t, e.client), provider.ActivityQuery{Entitlement: granted, From: from, Until: until, Limit: 100})
	if len(pages) != 1 {
		t.Fatalf("%d pages, want 1", len(pages))
	}
	got := pages[0].Actions
	type seen struct {
		action   string
		category accessv1alpha1.ActivityCategory
		denied   bool
	}
	var summary []seen
	for _, a := range got {
		summary = append(summary, seen{a.Action, a.Category, a.Denied})
		if a.At.Before(from.Truncate(time.Millisecond)) || a.At.After(until) {
			t.Errorf("action %s at %s is outside [%s, %s]", a.ID, a.At, from, until)
		}
	}
	want := []seen{
		{"group.user_membership.add", accessv1alpha1.ActivityAccess, false},
		{"user.account.update_profile", accessv1alpha1.ActivityConfig, false},
		{"group.lifecycle.create", accessv1alpha1.ActivityConfig, true},
	}
	if !slices.Equal(summary, want) {
		t.Fatalf("actions = %+v, want %+v", summary, want)
	}
	wantObject := `SCIM group "payroll" (id ` + payroll + `), user "mallory@example.com" (id ` + mallory + `)`
	if got[0].Object != wantObject {
		t.Errorf("the membership's object = %q, want %q", got[0].Object, wantObject)
	}
	if pages[0].Gap != "" || pages[0].Through.Before(until) {
		t.Errorf("gap %q, through %s; want no gap and the whole window delivered", pages[0].Gap, pages[0].Through)
	}
}

// More of the subject's writes than one page holds, across System Log pages
// smaller still: every one is returned once, in order, and the cursor resumes
// where the last page ended.
func TestActivityPagesWithoutDuplicates(t *testing.T) {
	e := newLogEnv(t, 2)
	subjectID := e.admin.CreateUser(t, subjectLogin)
	from := time.Now()
	const writes = 7
	for i := 0; i < writes; i++ {
		write(t, e.subject, http.MethodPatch, "/Users/"+url.PathEscape(subjectID), setDisplayName("name-"+strings.Repeat("x", i)), http.StatusOK)
		write(t, e.other, http.MethodPost, "/Groups", newGroup("other-"+strings.Repeat("y", i)), http.StatusCreated)
	}
	time.Sleep(boundary)
	q := provider.ActivityQuery{Entitlement: ent(subjectLogin, byName("billing-admins")), From: from, Until: time.Now(), Limit: 3}
	pages := readAll(t, source(t, e.client), q)

	var sizes []int
	var all []provider.Action
	for _, p := range pages {
		sizes = append(sizes, len(p.Actions))
		all = append(all, p.Actions...)
	}
	if !slices.Equal(sizes, []int{3, 3, 1}) {
		t.Errorf("page sizes = %v, want [3 3 1]", sizes)
	}
	idsSeen := map[string]bool{}
	for i, a := range all {
		if idsSeen[a.ID] {
			t.Errorf("action %s returned twice", a.ID)
		}
		idsSeen[a.ID] = true
		if a.Action != "user.account.update_profile" {
			t.Errorf("action %d is %s, not one of the subject's writes", i, a.Action)
		}
		if i > 0 && a.At.Before(all[i-1].At) {
			t.Errorf("action %d at %s is before the one returned ahead of it", i, a.At)
		}
	}
	if len(all) != writes {
		t.Errorf("%d actions, want %d", len(all), writes)
	}
	again, err := source(t, e.client).Activity(ctx(t), provider.ActivityQuery{Entitlement: q.Entitlement, From: q.From, Until: q.Until, Limit: 3, Cursor: pages[len(pages)-1].Cursor})
	if err != nil || len(again.Actions) != 0 || again.More {
		t.Errorf("reading on from the last cursor = %d actions, more=%v, %v; want nothing", len(again.Actions), again.More, err)
	}
}

// A SCIM connection without an activity source says so; it never answers with
// an empty record that looks like "did nothing".
func TestActivityWithoutSourceAgainstTheServer(t *testing.T) {
	e := newEnv(t, peer{name: "scimmy", start: scimtest.StartScimmy})
	e.admin.CreateUser(t, subjectLogin)
	_, err := source(t, e.client).Activity(ctx(t), provider.ActivityQuery{Entitlement: ent(subjectLogin, byName("g")), From: time.Now().Add(-time.Minute), Until: time.Now(), Limit: 10})
	if !provider.IsUnavailable(err) || !strings.Contains(err.Error(), "payments/billing") {
		t.Errorf("Activity = %v, want Unavailable naming the connection", err)
	}
}
