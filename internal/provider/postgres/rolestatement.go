package postgres

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// pgaudit names no object for role statements (roles are not in a database,
// so its event triggers do not see them) nor the grantee of a GRANT. The
// roles are read from the statement text instead, carefully: only
// identifiers in the positions that name a role, a privilege's object or a
// grantee are ever taken from it, never a literal (a password), and only from
// a statement string that holds one statement. pgaudit logs the whole string
// sent for each statement in it, so in "CREATE ROLE a; GRANT b TO c" the
// GRANT's line starts with CREATE ROLE.

// token is one lexical element of a statement: an identifier or keyword
// (text as PostgreSQL stores it: unquoted ones in lower case), a quoted
// identifier, or punctuation. Anything else stops the reading.
type token struct {
	text   string
	quoted bool
	punct  byte
}

func (t token) is(keyword string) bool { return !t.quoted && t.punct == 0 && t.text == keyword }
func (t token) isName() bool           { return t.punct == 0 && t.text != "" }

// name renders an identifier token as PostgreSQL shows it: quoted only when
// it would not read back as itself unquoted.
func (t token) name() string {
	if t.quoted && !plainIdentifier.MatchString(t.text) {
		return `"` + strings.ReplaceAll(t.text, `"`, `""`) + `"`
	}
	return t.text
}

// plainIdentifier is a name that needs no quotes.
var plainIdentifier = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// lex splits the start of stmt into tokens, up to the first element it does
// not know (a literal, an operator, a comment), where it stops.
func lex(stmt string) []token {
	var out []token
	s := stmt
	for {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if s == "" {
			return out
		}
		t, n := nextToken(s)
		if n == 0 {
			return out
		}
		out = append(out, t)
		s = s[n:]
	}
}

// nextToken reads one token at the start of s; n is 0 when it is none.
func nextToken(s string) (token, int) {
	switch c := s[0]; c {
	case ',', '.', '(', ')':
		return token{punct: c}, 1
	case '"':
		return quotedIdentifier(s)
	}
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if !identifierRune(r, n == 0) {
			break
		}
		n += size
	}
	return token{text: strings.ToLower(s[:n])}, n
}

// identifierRune reports whether r can be part of an unquoted identifier, at
// its start or further on.
func identifierRune(r rune, first bool) bool {
	return r == '_' || unicode.IsLetter(r) || !first && (unicode.IsDigit(r) || r == '$')
}

// quotedIdentifier reads "..." with "" for a quote.
func quotedIdentifier(s string) (token, int) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '"' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		if b.Len() == 0 {
			return token{}, 0
		}
		return token{text: b.String(), quoted: true}, i + 1
	}
	return token{}, 0
}

// singleStatement reports whether stmt holds one statement: no semicolon but
// at its end. A semicolon inside a literal also counts, which only means the
// roles are not read.
func singleStatement(stmt string) bool {
	return !strings.Contains(strings.TrimRight(stmt, "; \t\r\n"), ";")
}

// roleObject names what a role statement acted on, from its text: "ROLE
// name" for CREATE, ALTER and DROP ROLE, "ROLE a TO b" for GRANT and
// REVOKE of a role, the object and grantees for a GRANT or REVOKE of
// privileges. It is "" when the statement is not one it can read.
func roleObject(command, objectType, stmt string) string {
	if !singleStatement(stmt) {
		return ""
	}
	toks := lex(stmt)
	switch command {
	case "CREATE ROLE", "ALTER ROLE", "DROP ROLE":
		return roleDDLObject(toks)
	case "GRANT ROLE", "REVOKE ROLE":
		return membershipObject(toks)
	case "GRANT", "REVOKE":
		return privilegeObject(objectType, toks)
	}
	return ""
}

// roleDDLObject reads CREATE|ALTER|DROP ROLE|USER|GROUP [IF EXISTS] name[, ...].
func roleDDLObject(toks []token) string {
	if len(toks) < 3 || !toks[1].is("role") && !toks[1].is("user") && !toks[1].is("group") {
		return ""
	}
	rest := toks[2:]
	if toks[0].is("drop") && len(rest) > 2 && rest[0].is("if") && rest[1].is("exists") {
		rest = rest[2:]
	}
	names, _ := nameList(rest)
	if toks[0].is("create") || toks[0].is("alter") {
		names = names[:min(len(names), 1)]
	}
	if len(names) == 0 {
		return ""
	}
	return "ROLE " + strings.Join(names, ", ")
}

// membershipObject reads GRANT role[, ...] TO grantee[, ...] and REVOKE
// [ADMIN|INHERIT|SET OPTION FOR] role[, ...] FROM grantee[, ...].
func membershipObject(toks []token) string {
	if len(toks) < 4 {
		return ""
	}
	rest, link := toks[1:], "to"
	if toks[0].is("revoke") {
		link = "from"
		if len(rest) > 3 && rest[1].is("option") && rest[2].is("for") {
			rest = rest[3:]
		}
	}
	roles, rest := nameList(rest)
	if len(roles) == 0 || len(rest) < 2 || !rest[0].is(link) {
		return ""
	}
	grantees, _ := nameList(rest[1:])
	if len(grantees) == 0 {
		return ""
	}
	return "ROLE " + strings.Join(roles, ", ") + " " + strings.ToUpper(link) + " " + strings.Join(grantees, ", ")
}

// privilegeObject reads GRANT|REVOKE privileges ON [kind] object[, ...]
// TO|FROM grantee[, ...]: "TABLE public.t TO mallory". The kind is the
// statement's, else pgaudit's object type.
func privilegeObject(objectType string, toks []token) string {
	link := "to"
	if toks[0].is("revoke") {
		link = "from"
	}
	rest := afterOn(toks)
	var kind []string
	for len(rest) > 0 && !rest[0].quoted && targetKeywords[rest[0].text] {
		kind = append(kind, strings.ToUpper(rest[0].text))
		rest = rest[1:]
	}
	n := 0
	for n < len(rest) && !rest[n].is(link) {
		if !rest[n].isName() && rest[n].punct != '.' && rest[n].punct != ',' {
			return objectType
		}
		n++
	}
	if n == 0 || n == len(rest) {
		return objectType
	}
	grantees, _ := nameList(rest[n+1:])
	if len(grantees) == 0 {
		return objectType
	}
	switch {
	case len(kind) > 0:
	case objectType != "":
		kind = []string{objectType}
	default: // GRANT ... ON name, without a kind, is on a table
		kind = []string{"TABLE"}
	}
	what := strings.TrimSpace(strings.Join(kind, " ") + " " + joinNames(rest[:n]))
	return what + " " + strings.ToUpper(link) + " " + strings.Join(grantees, ", ")
}

// targetKeywords are the words of GRANT's privilege targets before the names:
// TABLE, ALL TABLES IN SCHEMA, FOREIGN DATA WRAPPER, LARGE OBJECT, ...
var targetKeywords = map[string]bool{
	"table": true, "sequence": true, "database": true, "domain": true, "function": true,
	"procedure": true, "routine": true, "language": true, "schema": true, "tablespace": true,
	"type": true, "foreign": true, "data": true, "wrapper": true, "server": true, "large": true,
	"object": true, "parameter": true, "all": true, "tables": true, "sequences": true,
	"functions": true, "procedures": true, "routines": true, "in": true,
}

// afterOn is what follows the ON of a GRANT or REVOKE, past the privileges
// (whose column lists are in parentheses).
func afterOn(toks []token) []token {
	depth := 0
	for i, t := range toks {
		switch {
		case t.punct == '(':
			depth++
		case t.punct == ')':
			depth--
		case depth == 0 && t.is("on"):
			return toks[i+1:]
		}
	}
	return nil
}

// joinNames renders names and the dots and commas between them: "public.t, u".
func joinNames(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		switch t.punct {
		case '.':
			b.WriteByte('.')
		case ',':
			b.WriteString(", ")
		default:
			b.WriteString(t.name())
		}
	}
	return b.String()
}

// nameList reads name[, name ...] and returns the names and what follows.
func nameList(toks []token) ([]string, []token) {
	var names []string
	for len(toks) > 0 && toks[0].isName() {
		names = append(names, toks[0].name())
		toks = toks[1:]
		if len(toks) == 0 || toks[0].punct != ',' {
			break
		}
		toks = toks[1:]
	}
	return names, toks
}
