package slapdtest

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"
)

// The directory every test server holds.
const (
	BaseDN       = "dc=example,dc=org"
	PeopleDN     = "ou=people," + BaseDN
	ContractorDN = "ou=contractors," + PeopleDN
	GroupsDN     = "ou=groups," + BaseDN
	// RestrictedDN holds groups the service account may read but not change.
	RestrictedDN = "ou=restricted," + BaseDN
	ServicesDN   = "ou=services," + BaseDN
	// ServiceDN is the account the provider binds as. Its ACLs let it write the
	// member attribute of groups under GroupsDN and read people, nothing more.
	ServiceDN = "cn=elevator," + ServicesDN
	// RootDN is the database's rootdn, used only to set up and to confirm.
	RootDN = "cn=admin," + BaseDN
	// AccessLogDN is the suffix of the accesslog overlay's database, which
	// logs every write to BaseDN; ServiceDN may read it.
	AccessLogDN = "cn=accesslog"
)

// Person is one user entry of the fixture.
type Person struct {
	// RDN is the naming attribute and value, unescaped, e.g. {"cn", "Smith, John"}.
	RDNType, RDNValue string
	// UID is the uid attribute, the subject the default filter finds.
	UID string
	// Mail is the mail attribute.
	Mail string
	// Parent is the DN of the entry the person sits under.
	Parent string
}

// DN is the person's DN, with the RDN value escaped as RFC 4514 requires.
func (p Person) DN() string {
	return p.RDNType + "=" + goldap.EscapeDN(p.RDNValue) + "," + p.Parent
}

// People is every user in the fixture, keyed by a short name for tests. Some
// names are chosen to need escaping in a DN or in a filter, and "twin" and
// "twin-contractor" share a uid so that a search for it is ambiguous.
var People = map[string]Person{
	"alice":           {RDNType: "uid", RDNValue: "alice", UID: "alice", Mail: "alice@example.org", Parent: PeopleDN},
	"bob":             {RDNType: "uid", RDNValue: "bob", UID: "bob", Mail: "bob@example.org", Parent: PeopleDN},
	"carol":           {RDNType: "uid", RDNValue: "carol", UID: "carol", Mail: "carol@example.org", Parent: PeopleDN},
	"dave":            {RDNType: "uid", RDNValue: "dave", UID: "dave", Mail: "dave@example.org", Parent: PeopleDN},
	"smith":           {RDNType: "cn", RDNValue: "Smith, John", UID: "jsmith", Mail: "john.smith@example.org", Parent: PeopleDN},
	"plus":            {RDNType: "uid", RDNValue: "j+doe;<x>", UID: "j+doe;<x>", Mail: "jdoe@example.org", Parent: PeopleDN},
	"paren":           {RDNType: "uid", RDNValue: "paren(s)*", UID: "paren(s)*", Mail: "paren@example.org", Parent: PeopleDN},
	"hash":            {RDNType: "uid", RDNValue: "#hash", UID: "#hash", Mail: "hash@example.org", Parent: PeopleDN},
	"zoe":             {RDNType: "cn", RDNValue: "Zoë Ångström", UID: "zoe", Mail: "zoe@example.org", Parent: PeopleDN},
	"twin":            {RDNType: "uid", RDNValue: "twin", UID: "twin", Mail: "twin1@example.org", Parent: PeopleDN},
	"twin-contractor": {RDNType: "uid", RDNValue: "twin", UID: "twin", Mail: "twin2@example.org", Parent: ContractorDN},
}

// entry is one LDIF record: its DN and attributes in order.
type entry struct {
	dn    string
	attrs [][2]string
}

// fixtureEntries is the directory loaded with slapadd before the server starts.
func fixtureEntries(servicePassword string) []entry {
	entries := []entry{
		{BaseDN, [][2]string{{"objectClass", "dcObject"}, {"objectClass", "organization"}, {"dc", "example"}, {"o", "Example"}}},
		{PeopleDN, [][2]string{{"objectClass", "organizationalUnit"}, {"ou", "people"}}},
		{ContractorDN, [][2]string{{"objectClass", "organizationalUnit"}, {"ou", "contractors"}}},
		{GroupsDN, [][2]string{{"objectClass", "organizationalUnit"}, {"ou", "groups"}}},
		{RestrictedDN, [][2]string{{"objectClass", "organizationalUnit"}, {"ou", "restricted"}}},
		{ServicesDN, [][2]string{{"objectClass", "organizationalUnit"}, {"ou", "services"}}},
		{ServiceDN, [][2]string{
			{"objectClass", "simpleSecurityObject"}, {"objectClass", "organizationalRole"},
			{"cn", "elevator"}, {"userPassword", servicePassword},
		}},
	}
	for _, key := range sortedKeys(People) {
		p := People[key]
		cn, sn := p.UID, p.UID
		if p.RDNType == "cn" {
			cn, sn = p.RDNValue, p.RDNValue
		}
		entries = append(entries, entry{p.DN(), [][2]string{
			{"objectClass", "inetOrgPerson"}, {p.RDNType, p.RDNValue},
			{"uid", p.UID}, {"cn", cn}, {"sn", sn}, {"mail", p.Mail},
		}})
	}
	return dedupeAttrs(entries)
}

// dedupeAttrs drops repeated attribute values (a person whose RDN is its uid
// would otherwise list the uid twice, which slapadd rejects).
func dedupeAttrs(entries []entry) []entry {
	for i := range entries {
		seen := map[[2]string]bool{}
		kept := entries[i].attrs[:0]
		for _, a := range entries[i].attrs {
			if !seen[a] {
				seen[a] = true
				kept = append(kept, a)
			}
		}
		entries[i].attrs = kept
	}
	return entries
}

// sortedKeys makes the LDIF the same on every run. Every person's parent is
// one of the organizational units listed before the people.
func sortedKeys(m map[string]Person) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ldif renders entries as LDIF, base64-encoding any value LDIF cannot hold
// as plain text (RFC 2849 SAFE-STRING).
func ldif(entries []entry) string {
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(ldifLine("dn", e.dn))
		for _, a := range e.attrs {
			b.WriteString(ldifLine(a[0], a[1]))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func ldifLine(attr, value string) string {
	if isSafeString(value) {
		return fmt.Sprintf("%s: %s\n", attr, value)
	}
	return fmt.Sprintf("%s:: %s\n", attr, base64.StdEncoding.EncodeToString([]byte(value)))
}

func isSafeString(s string) bool {
	if s == "" {
		return true
	}
	if !utf8.ValidString(s) || s[0] == ' ' || s[0] == ':' || s[0] == '<' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] == '\n' || s[i] == '\r' || s[i] > 0x7f {
			return false
		}
	}
	return true
}
