package ldap

import (
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// A subject DN with filter metacharacters is escaped: the filter still has
// four conditions, and its reqAuthzID value is the DN itself.
func TestLogFilterEscapesTheSubjectDN(t *testing.T) {
	dn := `cn=star*\2C (paren) back\5Cslash,ou=people,dc=example,dc=org`
	at := time.Date(2026, 12, 2, 14, 2, 3, 0, time.UTC)
	w := logWindow{subjectDN: dn}
	got := w.filter(at, at.Add(time.Hour+999999*time.Microsecond))
	want := `(&(objectClass=auditWriteObject)(reqAuthzID=cn=star\2a\5c2C \28paren\29 back\5c5Cslash,ou=people,dc=example,dc=org)` +
		`(reqStart>=20261202140203.000000Z)(!(reqStart>=20261202150204.000000Z)))`
	if got != want {
		t.Fatalf("filter =\n%s\nwant\n%s", got, want)
	}
	packet, err := goldap.CompileFilter(got)
	if err != nil {
		t.Fatalf("filter does not compile: %v", err)
	}
	if n := len(packet.Children); n != 4 {
		t.Fatalf("filter has %d conditions, want 4: the DN changed its structure", n)
	}
	if v := packet.Children[1].Children[1].Data.String(); v != dn {
		t.Fatalf("reqAuthzID value = %q, want the DN %q", v, dn)
	}
}

// The window runs from the start of From's second (or just after the cursor)
// to the end of the second of Until or of the settled instant, in UTC.
func TestLogWindowBounds(t *testing.T) {
	zone := time.FixedZone("CET", 3600)
	from := time.Date(2026, 12, 2, 15, 2, 3, 700_000_000, zone) // 14:02:03.7 UTC
	until := time.Date(2026, 12, 2, 14, 30, 9, 100_000_000, time.UTC)
	settledAt := until.Add(time.Hour)
	for _, tc := range []struct {
		name, cursor string
		through      time.Time
		lo, hi       string
		open         bool
	}{
		{"no cursor", "", settledAt, "20261202140203.000000Z", "20261202143009.999999Z", false},
		{"after the cursor", "20261202141000.000004Z", settledAt, "20261202141000.000005Z", "20261202143009.999999Z", false},
		{"a cursor before From", "20261202130000.000001Z", settledAt, "20261202140203.000000Z", "20261202143009.999999Z", false},
		{"a counter at its end", "20261202141000.999999Z", settledAt, "20261202141001.000000Z", "20261202143009.999999Z", false},
		{"the log has not settled to Until", "", until.Add(-time.Minute), "20261202140203.000000Z", "20261202142909.999999Z", false},
		{"no Until: the window is open", "", until.Add(-time.Minute), "20261202140203.000000Z", "20261202142909.999999Z", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := provider.ActivityQuery{From: from, Until: until, Cursor: tc.cursor}
			if tc.open {
				q.Until = time.Time{}
			}
			w, err := newLogWindow(q, tc.through)
			if err != nil {
				t.Fatal(err)
			}
			if lo, hi := w.lo.Format(reqStartLayout), w.hi.Format(reqStartLayout); lo != tc.lo || hi != tc.hi {
				t.Errorf("window = [%s, %s], want [%s, %s]", lo, hi, tc.lo, tc.hi)
			}
			if w.limit != defaultActivityLimit {
				t.Errorf("limit = %d, want the default %d for none", w.limit, defaultActivityLimit)
			}
		})
	}
}

// A cursor that is not a reqStart (edited by hand, or from another source)
// is refused, not read as some other instant.
func TestLogWindowRefusesAForeignCursor(t *testing.T) {
	for _, cursor := range []string{"20261202141000Z", "*", "20261202141000.000004Z)(reqAuthzID=*", "file:/var/log/x:42"} {
		_, err := newLogWindow(provider.ActivityQuery{Cursor: cursor}, time.Now())
		if !provider.IsPermanent(err) || !strings.Contains(err.Error(), "not a reqStart") {
			t.Errorf("cursor %q: got %v, want a permanent error", cursor, err)
		}
	}
}

const secretValue = "S3cret-never-shown"

func logEntry(typ, dn, result string, mods, old []string) *goldap.Entry {
	return goldap.NewEntry("reqStart=20261202140203.000007Z,cn=accesslog", map[string][]string{
		"reqStart": {"20261202140203.000007Z"}, "reqType": {typ}, "reqDN": {dn}, "reqResult": {result},
		"reqMod": mods, "reqOld": old,
	})
}

// Each kind of write gets its category, action and object; values written,
// passwords among them, never appear.
func TestLogEntryCategories(t *testing.T) {
	const group, person = "cn=ops,ou=groups,dc=example,dc=org", "uid=alice,ou=people,dc=example,dc=org"
	serverAttrs := []string{"entryCSN:= 20261202140203.1Z#000000#000#000000", "modifiersName:= " + person, "modifyTimestamp:= 20261202140203Z"}
	for _, tc := range []struct {
		name           string
		entry          *goldap.Entry
		category       accessv1alpha1.ActivityCategory
		action, object string
		denied         bool
	}{
		{"member added", logEntry("modify", group, "0", append([]string{"member:+ uid=bob,ou=people,dc=example,dc=org"}, serverAttrs...), nil),
			accessv1alpha1.ActivityAccess, "modify member", group, false},
		{"uniqueMember deleted", logEntry("modify", group, "0", []string{"uniqueMember:- uid=bob,ou=people,dc=example,dc=org"}, nil),
			accessv1alpha1.ActivityAccess, "modify uniqueMember", group, false},
		{"memberUid replaced, refused", logEntry("modify", group, "50", []string{"memberUid:= bob"}, nil),
			accessv1alpha1.ActivityAccess, "modify memberUid", group, true},
		{"description and member", logEntry("modify", group, "0", []string{"description:= x", "member:+ uid=bob,dc=x", "member:+ uid=carol,dc=x"}, nil),
			accessv1alpha1.ActivityAccess, "modify description, member", group, false},
		{"description", logEntry("modify", group, "0", append([]string{"description:= " + secretValue}, serverAttrs...), nil),
			accessv1alpha1.ActivityConfig, "modify description", group, false},
		{"password", logEntry("modify", person, "0", append([]string{"userPassword:= " + secretValue}, serverAttrs...), nil),
			accessv1alpha1.ActivityAccess, "modify userPassword", person, false},
		{"password with an option", logEntry("modify", person, "0", []string{"userPassword;binary:= " + secretValue}, nil),
			accessv1alpha1.ActivityAccess, "modify userPassword;binary", person, false},
		{"ssh key deleted", logEntry("modify", person, "0", []string{"sshPublicKey:-"}, nil),
			accessv1alpha1.ActivityAccess, "modify sshPublicKey", person, false},
		{"group added", logEntry("add", group, "0", []string{"objectClass:+ groupOfNames", "member:+ " + person, "cn:+ ops"}, nil),
			accessv1alpha1.ActivityAccess, "add", group, false},
		{"person with a password added", logEntry("add", person, "0", []string{"objectClass:+ inetOrgPerson", "userPassword:+ " + secretValue}, nil),
			accessv1alpha1.ActivityAccess, "add", person, false},
		{"unit added", logEntry("add", "ou=x,dc=example,dc=org", "0", []string{"objectClass:+ organizationalUnit", "ou:+ x"}, nil),
			accessv1alpha1.ActivityConfig, "add", "ou=x,dc=example,dc=org", false},
		{"group deleted", logEntry("delete", group, "0", nil, []string{"objectClass: top", "objectClass: groupOfNames", "member: " + person}),
			accessv1alpha1.ActivityAccess, "delete", group, false},
		{"entry deleted, no old entry logged", logEntry("delete", group, "0", nil, nil),
			accessv1alpha1.ActivityConfig, "delete", group, false},
		{"renamed", logEntry("modrdn", group, "0", nil, nil),
			accessv1alpha1.ActivityConfig, "modrdn", group, false},
		{"extended operation", logEntry("extended", "", "0", nil, nil),
			accessv1alpha1.ActivityOther, "extended", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := actionsOf([]*goldap.Entry{tc.entry})
			if len(got) != 1 {
				t.Fatalf("%d actions, want 1", len(got))
			}
			a := got[0]
			if a.Category != tc.category || a.Action != tc.action || a.Object != tc.object || a.Denied != tc.denied {
				t.Errorf("action = {%s %q %q denied=%v}, want {%s %q %q denied=%v}",
					a.Category, a.Action, a.Object, a.Denied, tc.category, tc.action, tc.object, tc.denied)
			}
			if a.ID != "20261202140203.000007Z" || !a.At.Equal(time.Date(2026, 12, 2, 14, 2, 3, 0, time.UTC)) {
				t.Errorf("id %q at %v, want the reqStart and its second", a.ID, a.At)
			}
			if strings.Contains(a.Action+a.Object+a.ID, secretValue) {
				t.Errorf("an action holds a value written: %+v", a)
			}
		})
	}
}

// An entry whose reqStart is not the overlay's is skipped, not misdated.
func TestLogEntryWithoutReqStartIsSkipped(t *testing.T) {
	e := goldap.NewEntry("cn=odd,cn=accesslog", map[string][]string{"reqStart": {"yesterday"}, "reqType": {"modify"}})
	if got := actionsOf([]*goldap.Entry{e}); len(got) != 0 {
		t.Fatalf("got %+v, want no action", got)
	}
}
