package ldap

import (
	"slices"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// memberAttrs are the attributes that make a group's members.
var memberAttrs = []string{"member", "uniquemember", "memberuid", "memberurl"}

// groupClasses are the objectClass values of groups.
var groupClasses = []string{"groupofnames", "groupofuniquenames", "posixgroup", "groupofurls", "groupofmembers", "group"}

// credentialAttrs hold what a person or service authenticates with.
var credentialAttrs = []string{
	"userpassword", "authpassword", "unicodepwd", "sambantpassword", "sambalmpassword",
	"sshpublickey", "usercertificate", "userpkcs12", "krbprincipalkey",
}

// operationalAttrs are written by the server itself on every change; they
// say nothing about what the subject did.
var operationalAttrs = []string{
	"entrycsn", "modifiersname", "modifytimestamp", "creatorsname", "createtimestamp",
	"entryuuid", "structuralobjectclass", "contextcsn", "pwdchangedtime", "pwdhistory",
	"pwdfailuretime", "pwdgraceusetime",
}

// logAction is what Activity takes from one accesslog entry.
type logAction struct {
	start time.Time
	id    string
	// typ is reqType: add, delete, modify, modrdn.
	typ, dn, result string
	// attrs are the user attributes the write named (from reqMod), without
	// their values.
	attrs []string
	// group is true when the entry written is a group: a member attribute
	// was changed, or the objectClass added or deleted names a group.
	group bool
}

// parseLogEntry reads one accesslog entry; ok is false for one whose
// reqStart is not in the overlay's format.
func parseLogEntry(e *goldap.Entry) (logAction, bool) {
	id := e.GetAttributeValue(reqStartAttr)
	start, err := time.Parse(reqStartLayout, id)
	if err != nil {
		return logAction{}, false
	}
	a := logAction{
		start:  start,
		id:     id,
		typ:    e.GetAttributeValue(reqTypeAttr),
		dn:     e.GetAttributeValue(reqDNAttr),
		result: e.GetAttributeValue(reqResultAttr),
	}
	mods := e.GetAttributeValues(reqModAttr)
	a.attrs = modAttrs(mods)
	switch a.typ {
	case "add":
		a.group = namesGroupClass(mods, ":+ ")
	case "delete":
		// The old entry is there when the overlay's logold filter matched it.
		a.group = namesGroupClass(e.GetAttributeValues(reqOldAttr), ": ")
	case "modify":
		a.group = slices.ContainsFunc(a.attrs, func(n string) bool { return isOneOf(n, memberAttrs) })
	}
	return a, true
}

// modAttrs returns the attribute names of reqMod values ("member:+ uid=x",
// "userPassword:= secret", "description:-"), in order, once each, without
// the server's operational attributes. The values are never kept.
func modAttrs(mods []string) []string {
	var names []string
	for _, m := range mods {
		name, _, found := strings.Cut(m, ":")
		if !found || name == "" || isOneOf(name, operationalAttrs) {
			continue
		}
		if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) }) {
			names = append(names, name)
		}
	}
	return names
}

// namesGroupClass reports whether one of values is "objectClass<sep><a
// group class>".
func namesGroupClass(values []string, sep string) bool {
	for _, v := range values {
		name, value, found := strings.Cut(v, sep)
		if found && strings.EqualFold(name, "objectClass") && isOneOf(value, groupClasses) {
			return true
		}
	}
	return false
}

// isOneOf reports whether the attribute name or value, without options
// (";binary"), is one of the lower-case names.
func isOneOf(name string, names []string) bool {
	base, _, _ := strings.Cut(name, ";")
	return slices.Contains(names, strings.ToLower(strings.TrimSpace(base)))
}

// category sorts a write: a change of a group's members, the creation or
// deletion of a group, or a change of a credential is Access; any other
// write is Config.
func (a logAction) category() accessv1alpha1.ActivityCategory {
	switch a.typ {
	case "add", "delete", "modify":
		if a.group || slices.ContainsFunc(a.attrs, func(n string) bool { return isOneOf(n, credentialAttrs) }) {
			return accessv1alpha1.ActivityAccess
		}
		return accessv1alpha1.ActivityConfig
	case "modrdn":
		return accessv1alpha1.ActivityConfig
	}
	return accessv1alpha1.ActivityOther
}

// action is the provider's Action: the operation and, for a modify, the
// attribute names; never a value.
func (a logAction) action() provider.Action {
	category := a.category()
	verb := a.typ
	if a.typ == "modify" && len(a.attrs) > 0 {
		verb += " " + strings.Join(a.attrs, ", ")
	}
	return provider.Action{
		// The fraction of reqStart is a counter, not a time.
		At:       a.start.Truncate(time.Second),
		ID:       a.id,
		Category: category,
		Action:   verb,
		// The DN alone, as the server wrote it: Check names groups by DN in
		// a residual path ("LDAP group <nested>, a member of <group>, has
		// member <subject>"), so a path found at revocation is tied to the
		// change of either group that made it.
		Object: a.dn,
		Denied: a.result != "0",
	}
}

// actionsOf turns accesslog entries, sorted by reqStart, into actions.
func actionsOf(entries []*goldap.Entry) []provider.Action {
	out := make([]provider.Action, 0, len(entries))
	for _, e := range entries {
		if a, ok := parseLogEntry(e); ok {
			out = append(out, a.action())
		}
	}
	return out
}
