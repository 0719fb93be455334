package ldap_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/ldap/slapdtest"
)

// activityClient is a client for srv, and the same as the controller's
// activity collection sees it.
func activityClient(t *testing.T, mutate ...func(*accessv1alpha1.LDAPProvider)) (provider.Client, provider.ActivitySource) {
	t.Helper()
	c := newClient(t, mutate...)
	src, ok := c.(provider.ActivitySource)
	if !ok {
		t.Fatal("the ldap client does not implement provider.ActivitySource")
	}
	return c, src
}

// nextSecond sleeps into the next wall-clock second: the accesslog is exact
// to the second, so writes meant to fall outside a window must be in
// another second than its bound.
func nextSecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + 50*time.Millisecond).Sub(now))
}

// settled waits until the source reads writes made up to at.
func settled(src provider.ActivitySource, at time.Time) {
	time.Sleep(time.Until(at.Truncate(time.Second).Add(time.Second + src.ActivityDelay() + 100*time.Millisecond)))
}

func modify(t *testing.T, c *goldap.Conn, dn string, change func(*goldap.ModifyRequest)) error {
	t.Helper()
	req := goldap.NewModifyRequest(dn, nil)
	change(req)
	return c.Modify(req)
}

func mustModify(t *testing.T, c *goldap.Conn, dn string, change func(*goldap.ModifyRequest)) {
	t.Helper()
	if err := modify(t, c, dn, change); err != nil {
		t.Fatalf("modify %s: %v", dn, err)
	}
}

func describe(r *goldap.ModifyRequest, v string) { r.Replace("description", []string{v}) }

// elevatedWindow is one elevation of a subject whose writes the tests read.
type elevatedWindow struct {
	subjectDN, group, locked string
	grant                    provider.Grant
	from, until              time.Time
	// secrets are the passwords the subject set; no action may hold one.
	secrets []string
}

// actInWindow grants the group to the subject, has the subject act through
// its own connection before, during and after the window, has the root DN
// write in the window too, and waits until the log can be read through the
// last write.
func actInWindow(t *testing.T, c provider.Client, src provider.ActivitySource, key string) elevatedWindow {
	t.Helper()
	p := slapdtest.People[key]
	w := elevatedWindow{subjectDN: p.DN()}
	w.group = srv.AddGroup(t, slapdtest.GroupsDN, "elevated", dnOf("bob"))
	w.locked = srv.AddGroup(t, slapdtest.RestrictedDN, "locked", dnOf("bob"))
	pw := srv.SetPassword(t, w.subjectDN)
	subject := srv.Conn(t, w.subjectDN, pw)
	root := srv.Conn(t, slapdtest.RootDN, srv.RootPassword)

	// Before the window: a write of its own, and a refused one on the group.
	mustModify(t, subject, w.subjectDN, func(r *goldap.ModifyRequest) { r.Replace("userPassword", []string{pw + "-before"}) })
	if err := modify(t, subject, w.group, func(r *goldap.ModifyRequest) { describe(r, "before") }); err == nil {
		t.Fatal("the subject changed the group before it was a member")
	}
	nextSecond()

	w.from = time.Now()
	var err error
	w.grant, err = c.Grant(ctx(t), entitlement(p.UID, w.group))
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	mustModify(t, subject, w.group, func(r *goldap.ModifyRequest) { r.Add("member", []string{dnOf("carol")}) })
	mustModify(t, subject, w.group, func(r *goldap.ModifyRequest) { describe(r, "changed while elevated") })
	mustModify(t, root, w.group, func(r *goldap.ModifyRequest) { describe(r, "by the root DN") })
	if err := modify(t, subject, w.locked, func(r *goldap.ModifyRequest) { r.Add("member", []string{w.subjectDN}) }); !goldap.IsErrorWithCode(err, goldap.LDAPResultInsufficientAccessRights) {
		t.Fatalf("add to %s: got %v, want insufficientAccessRights", w.locked, err)
	}
	secret := fmt.Sprintf("pw-window-%d", time.Now().UnixNano())
	mustModify(t, subject, w.subjectDN, func(r *goldap.ModifyRequest) { r.Replace("userPassword", []string{secret}) })
	// The Password Modify extended operation, which the overlay logs as a
	// modify of userPassword.
	if _, err := subject.PasswordModify(goldap.NewPasswordModifyRequest("", "", secret+"-exop")); err != nil {
		t.Fatalf("password modify: %v", err)
	}
	w.secrets = []string{pw, pw + "-before", secret, secret + "-exop"}
	w.until = time.Now()

	nextSecond()
	mustModify(t, subject, w.group, func(r *goldap.ModifyRequest) { describe(r, "after the window") })
	settled(src, time.Now())
	return w
}

// query asks for the window's actions as the controller would.
func (w elevatedWindow) query(limit int, cursor string) provider.ActivityQuery {
	target := w.grant.Target
	return provider.ActivityQuery{
		Entitlement: provider.Entitlement{Subject: target.Subject.Name, Target: &target,
			Role: accessv1alpha1.Role{Name: "admins", LDAP: &accessv1alpha1.LDAPRole{GroupDN: w.group}}},
		From: w.from, Until: w.until, Cursor: cursor, Limit: limit,
	}
}

// wantAction is what one action must say.
type wantAction struct {
	category accessv1alpha1.ActivityCategory
	action   string
	object   string
	denied   bool
}

func (w elevatedWindow) wantActions() []wantAction {
	return []wantAction{
		{accessv1alpha1.ActivityAccess, "modify member", w.group, false},
		{accessv1alpha1.ActivityConfig, "modify description", w.group, false},
		{accessv1alpha1.ActivityAccess, "modify member", w.locked, true},
		{accessv1alpha1.ActivityAccess, "modify userPassword", w.subjectDN, false},
		{accessv1alpha1.ActivityAccess, "modify userPassword", w.subjectDN, false},
	}
}

func readAll(t *testing.T, src provider.ActivitySource, q provider.ActivityQuery) provider.ActivityPage {
	t.Helper()
	page, err := src.Activity(ctx(t), q)
	if err != nil {
		t.Fatalf("activity: %v", err)
	}
	return page
}

// The subject's writes in the window come back oldest first, sorted into
// categories, named by DN, with refused ones marked; the grant itself (by
// the bind account), the root DN's write in the window, and the subject's
// writes before and after it do not.
func TestActivityReturnsTheSubjectsWritesInTheWindow(t *testing.T) {
	t.Parallel()
	c, src := activityClient(t)
	// uid=paren(s)*: the DN must be escaped in the filter.
	w := actInWindow(t, c, src, "paren")
	readAt := time.Now()

	page := readAll(t, src, w.query(100, ""))
	wantWindowActions(t, w, page.Actions)
	if page.More || page.Gap != "" || page.Dropped != 0 {
		t.Errorf("page More=%v Gap=%q Dropped=%d, want a complete page", page.More, page.Gap, page.Dropped)
	}
	if page.Cursor == "" {
		t.Error("empty cursor after a read of the whole window")
	}
	// Through: everything up to the read minus the settle time.
	if lo, hi := readAt.Add(-src.ActivityDelay()-time.Second), time.Now().Add(-src.ActivityDelay()); page.Through.Before(lo) || page.Through.After(hi) {
		t.Errorf("through = %v, want between %v and %v", page.Through, lo, hi)
	}
	if src.ActivitySourceName() != "OpenLDAP accesslog" {
		t.Errorf("source name = %q", src.ActivitySourceName())
	}
}

func wantWindowActions(t *testing.T, w elevatedWindow, got []provider.Action) {
	t.Helper()
	want := w.wantActions()
	if len(got) != len(want) {
		t.Fatalf("got %d actions, want %d:\n%s", len(got), len(want), sprintActions(got))
	}
	for i, a := range got {
		wa := want[i]
		if a.Category != wa.category || a.Action != wa.action || !sameObject(a.Object, wa.object) || a.Denied != wa.denied {
			t.Errorf("action %d = %+v, want %+v", i, a, wa)
		}
		if a.At.Before(w.from.Truncate(time.Second)) || a.At.After(w.until) {
			t.Errorf("action %d at %v, outside the window %v – %v", i, a.At, w.from, w.until)
		}
		if i > 0 && a.ID <= got[i-1].ID {
			t.Errorf("action %d id %q not after %q: not oldest first", i, a.ID, got[i-1].ID)
		}
		for _, secret := range w.secrets {
			if strings.Contains(fmt.Sprintf("%+v", a), secret) {
				t.Errorf("action %d holds a password the subject set (not printed)", i)
			}
		}
	}
}

// sameObject compares two Objects, DNs, as the server matches them: the
// server writes reqDN in its own form of the DN (hex escapes, lower-case
// attribute types).
func sameObject(got, want string) bool {
	return sameDNs([]string{got}, []string{want})
}

func sprintActions(actions []provider.Action) string {
	var b strings.Builder
	for _, a := range actions {
		fmt.Fprintf(&b, "  %s %s %s %q %q denied=%v\n", a.ID, a.At.Format(time.RFC3339), a.Category, a.Action, a.Object, a.Denied)
	}
	return b.String()
}

// Pages of two resume after the cursor: together they are the whole window,
// none twice; a read after the last page returns nothing and keeps moving
// nowhere back.
func TestActivityCursorResumesAfterTheLastAction(t *testing.T) {
	t.Parallel()
	c, src := activityClient(t)
	w := actInWindow(t, c, src, "plus")

	var all []provider.Action
	cursor := ""
	for i := 0; ; i++ {
		page := readAll(t, src, w.query(2, cursor))
		if len(page.Actions) > 2 {
			t.Fatalf("page %d has %d actions, limit 2", i, len(page.Actions))
		}
		all = append(all, page.Actions...)
		if page.Cursor <= cursor {
			t.Fatalf("page %d cursor %q does not move past %q", i, page.Cursor, cursor)
		}
		cursor = page.Cursor
		if !page.More {
			break
		}
		if i == 5 {
			t.Fatalf("still More after %d pages:\n%s", i+1, sprintActions(all))
		}
	}
	wantWindowActions(t, w, all)
	again := readAll(t, src, w.query(2, cursor))
	if len(again.Actions) != 0 || again.More {
		t.Errorf("a read after the last cursor returned %d actions (More=%v):\n%s", len(again.Actions), again.More, sprintActions(again.Actions))
	}
	if again.Cursor < cursor {
		t.Errorf("cursor moved back from %q to %q", cursor, again.Cursor)
	}
}

// The server matches the stored DN as a DN: in another case it finds the
// same writes.
func TestActivityMatchesTheSubjectDNWhateverItsCase(t *testing.T) {
	t.Parallel()
	c, src := activityClient(t)
	w := actInWindow(t, c, src, "dave")
	q := w.query(100, "")
	upper := *q.Entitlement.Target
	subject := *upper.Subject
	subject.ID = strings.ToUpper(subject.ID)
	upper.Subject = &subject
	q.Entitlement.Target = &upper
	wantWindowActions(t, w, readAll(t, src, q).Actions)
}

// A read that ends before the log has settled keeps the cursor: nothing is
// skipped when the writes appear.
func TestActivityBeforeTheLogSettledKeepsTheCursor(t *testing.T) {
	_, src := activityClient(t)
	now := time.Now()
	cursor := now.Add(-time.Hour).UTC().Format("20060102150405") + ".000004Z"
	page := readAll(t, src, provider.ActivityQuery{
		Entitlement: provider.Entitlement{Target: &accessv1alpha1.GrantTarget{Subject: &accessv1alpha1.TargetObject{ID: dnOf("carol")}}},
		From:        now, Until: now, Cursor: cursor, Limit: 10,
	})
	if page.Cursor != cursor || len(page.Actions) != 0 || page.More {
		t.Errorf("page = %+v, want no actions and the cursor kept", page)
	}
}

// A connection whose accessLogBaseDN is missing, not readable, not a log or
// not a DN has no activity source, and says what to configure.
func TestActivityWithoutAReadableLogIsUnavailable(t *testing.T) {
	for _, tc := range []struct {
		base string
		want []string
	}{
		{"cn=nothere", []string{"no OpenLDAP accesslog database is readable at cn=nothere as " + slapdtest.ServiceDN, "logdb", "accessLogBaseDN"}},
		{slapdtest.ServicesDN, []string{"readable at " + slapdtest.ServicesDN, "read access"}},
		{slapdtest.PeopleDN, []string{slapdtest.PeopleDN + " is not an OpenLDAP accesslog database", "accessLogBaseDN"}},
		{"not a DN", []string{"accessLogBaseDN", "not a valid DN"}},
	} {
		t.Run(tc.base, func(t *testing.T) {
			_, src := activityClient(t, func(s *accessv1alpha1.LDAPProvider) { s.AccessLogBaseDN = tc.base })
			now := time.Now()
			_, err := src.Activity(ctx(t), provider.ActivityQuery{
				Entitlement: provider.Entitlement{Target: &accessv1alpha1.GrantTarget{Subject: &accessv1alpha1.TargetObject{ID: dnOf("carol")}}},
				From:        now.Add(-time.Hour), Until: now, Limit: 10,
			})
			if !provider.IsUnavailable(err) {
				t.Fatalf("activity with accessLogBaseDN %q: got %v, want Unavailable", tc.base, err)
			}
			wantContains(t, err, tc.want...)
			wantNoSecret(t, err, srv.ServicePassword)
		})
	}
}

// A window with more of the subject's writes than one search returns (the
// server's size limit) is read in narrower slices: every write comes back,
// oldest first, once, with no gap reported.
func TestActivityReadsAWindowLargerThanOneSearch(t *testing.T) {
	t.Parallel()
	c, src := activityClient(t)
	group := srv.AddGroup(t, slapdtest.GroupsDN, "busy", dnOf("bob"))
	p := slapdtest.People["zoe"] // cn=Zoë Ångström
	subject := srv.Conn(t, p.DN(), srv.SetPassword(t, p.DN()))
	from := time.Now()
	grant, err := c.Grant(ctx(t), entitlement(p.UID, group))
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	const writes = 450
	// Spread over about three seconds, so that no one second holds more
	// than a search returns.
	for i := range writes {
		mustModify(t, subject, group, func(r *goldap.ModifyRequest) { describe(r, fmt.Sprint(i)) })
		time.Sleep(7 * time.Millisecond)
	}
	until := time.Now()
	settled(src, until)

	q := provider.ActivityQuery{Entitlement: provider.Entitlement{Subject: p.UID, Target: &grant.Target}, From: from, Until: until}
	all, pages := readPages(t, src, q, 1000)
	if len(all) != writes || pages < 2 {
		t.Fatalf("%d actions in %d pages, want %d in more than one page: more than one search returns", len(all), pages, writes)
	}
	for i, a := range all {
		if a.Action != "modify description" || (i > 0 && a.ID <= all[i-1].ID) {
			t.Fatalf("action %d = %+v after %q: want modify description, oldest first, once each", i, a, all[max(i-1, 0)].ID)
		}
	}
	// Pages of 7 end on an entry each: every bound is some entry's exact
	// reqStart, ending in a zero or not; none may lose that entry.
	small, _ := readPages(t, src, q, 7)
	if len(small) != writes {
		t.Fatalf("pages of 7 returned %d actions, want %d", len(small), writes)
	}
	for i := range small {
		if small[i].ID != all[i].ID {
			t.Fatalf("pages of 7: action %d is %s, pages of 1000 had %s", i, small[i].ID, all[i].ID)
		}
	}
}

// readPages reads the window in pages of limit until the source says there
// is no more, and fails the test on a gap or a page over the limit.
func readPages(t *testing.T, src provider.ActivitySource, q provider.ActivityQuery, limit int) ([]provider.Action, int) {
	t.Helper()
	q.Limit = limit
	var all []provider.Action
	pages := 0
	for more := true; more; pages++ {
		if pages == 200 {
			t.Fatalf("still More after %d pages, %d actions", pages, len(all))
		}
		page := readAll(t, src, q)
		if page.Gap != "" || len(page.Actions) > limit {
			t.Fatalf("page %d: %d actions, gap %q", pages, len(page.Actions), page.Gap)
		}
		all = append(all, page.Actions...)
		q.Cursor, more = page.Cursor, page.More
	}
	return all, pages
}

// A backdoor: while elevated, the subject puts a group it is a member of into
// the role's group. After the revocation Check reports that group as residual
// access, and the path's name holds the Object of the action that made it, so
// that the record ties the two together.
func TestActivityNamesTheGroupAsTheResidualPathDoes(t *testing.T) {
	t.Parallel()
	c, src := activityClient(t)
	p := slapdtest.People["hash"] // uid=#hash: a DN that starts its value with an escape
	group := srv.AddGroup(t, slapdtest.GroupsDN, "role", dnOf("bob"))
	nested := srv.AddGroup(t, slapdtest.GroupsDN, "side", p.DN())
	subject := srv.Conn(t, p.DN(), srv.SetPassword(t, p.DN()))
	from := time.Now()
	grant, err := c.Grant(ctx(t), entitlement(p.UID, group))
	if err != nil {
		t.Fatalf("grant: %v", err)
	}
	mustModify(t, subject, group, func(r *goldap.ModifyRequest) { r.Add("member", []string{nested}) })
	until := time.Now()
	e := provider.Entitlement{Subject: p.UID, Role: entitlement(p.UID, group).Role, Target: &grant.Target}
	if err := c.Revoke(ctx(t), e); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	obs := mustCheck(t, c, e, false)
	if len(obs.Residual) != 1 {
		t.Fatalf("residual = %+v, want the nested group %s", obs.Residual, nested)
	}
	settled(src, until)

	page := readAll(t, src, provider.ActivityQuery{Entitlement: e, From: from, Until: until, Limit: 10})
	if len(page.Actions) != 1 || page.Actions[0].Category != accessv1alpha1.ActivityAccess {
		t.Fatalf("actions:\n%s want one access change", sprintActions(page.Actions))
	}
	if object := page.Actions[0].Object; !strings.Contains(obs.Residual[0].Name, object) {
		t.Fatalf("residual path %q does not name the action's object %q", obs.Residual[0].Name, object)
	}
}
