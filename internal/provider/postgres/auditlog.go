package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// logLine is the part of a jsonlog line the activity source reads. The
// "statement" and "query" fields are deliberately absent: they hold the
// statement text, which can hold a password, so they are never decoded.
type logLine struct {
	Timestamp string `json:"timestamp"`
	User      string `json:"user"`
	Database  string `json:"dbname"`
	SessionID string `json:"session_id"`
	LineNum   int64  `json:"line_num"`
	PS        string `json:"ps"`
	Severity  string `json:"error_severity"`
	StateCode string `json:"state_code"`
	Message   string `json:"message"`
}

// jsonlogTime is the layout of jsonlog's timestamp; the zone abbreviation is
// that of log_timezone.
const jsonlogTime = "2006-01-02 15:04:05.000"

// parseLogLine decodes one jsonlog line.
func parseLogLine(raw []byte) (logLine, error) {
	var l logLine
	if err := json.Unmarshal(raw, &l); err != nil {
		return logLine{}, fmt.Errorf("decode jsonlog line: %w", err)
	}
	return l, nil
}

// lineHead reads the fields before "message" of a jsonlog line too long to
// decode whole, of which prefix is the start: jsonlog writes the timestamp
// and the user first.
func lineHead(prefix []byte) (logLine, bool) {
	dec := json.NewDecoder(bytes.NewReader(prefix))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return logLine{}, false
	}
	var l logLine
	for {
		k, err := dec.Token()
		key, isKey := k.(string)
		if err != nil || !isKey || key == "message" {
			break
		}
		v, err := dec.Token()
		if err != nil {
			break
		}
		switch key {
		case "timestamp":
			l.Timestamp, _ = v.(string)
		case "user":
			l.User, _ = v.(string)
		}
	}
	return l, l.Timestamp != ""
}

// parseLogTime reads a jsonlog timestamp, "2026-12-02 02:50:11.293 UTC", in
// loc, the server's log_timezone. The abbreviation is read in loc, which
// tells summer from winter time; one loc does not know (a numeric one such as
// "+01", which Go would read as UTC) is dropped, and the clock read in loc.
func parseLogTime(ts string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(jsonlogTime+" MST", ts, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("jsonlog timestamp %q: %w", ts, err)
	}
	if name, offset := t.Zone(); offset == 0 && t.Location() != loc && name != "UTC" && name != "GMT" {
		fields := strings.Fields(ts)
		return time.ParseInLocation(jsonlogTime, fields[0]+" "+fields[1], loc)
	}
	return t, nil
}

// auditRecord is the part of a pgaudit message the activity source keeps.
type auditRecord struct {
	class, command       string
	objectType, objectID string
	// statement is only read for role statements, to name the role; see roleObject.
	statement string
}

// auditPrefixes start pgaudit's messages: session and object audit logging.
var auditPrefixes = []string{"AUDIT: SESSION,", "AUDIT: OBJECT,"}

// parseAudit reads pgaudit's message, "AUDIT: SESSION,statement_id,
// substatement_id,class,command,object_type,object_name,statement,parameter",
// whose fields are quoted as in CSV when they hold a comma or a quote. It
// reports false for any other message.
func parseAudit(msg string) (auditRecord, bool) {
	var rest string
	for _, p := range auditPrefixes {
		if strings.HasPrefix(msg, p) {
			rest = msg[len(p):]
		}
	}
	if rest == "" {
		return auditRecord{}, false
	}
	// statement_id, substatement_id, class, command, object_type, object_name, statement
	fields := make([]string, 0, 7)
	for len(fields) < 7 {
		f, next, ok := csvField(rest)
		if !ok {
			return auditRecord{}, false
		}
		fields = append(fields, f)
		rest = next
	}
	return auditRecord{
		class: fields[2], command: fields[3],
		objectType: fields[4], objectID: fields[5], statement: fields[6],
	}, fields[2] != "" && fields[3] != ""
}

// csvField splits the first CSV field off s: a quoted one ("" for a quote)
// or one up to the next comma. ok is false for a quoted field without its
// closing quote, or one followed by anything but a comma.
func csvField(s string) (field, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		f, r, _ := strings.Cut(s, ",")
		return f, r, true
	}
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
		after := s[i+1:]
		if after == "" {
			return b.String(), "", true
		}
		if after[0] != ',' {
			return "", "", false
		}
		return b.String(), after[1:], true
	}
	return "", "", false
}

// category sorts a pgaudit class.
func category(class string) accessv1alpha1.ActivityCategory {
	switch class {
	case "ROLE":
		return accessv1alpha1.ActivityAccess
	case "DDL":
		return accessv1alpha1.ActivityConfig
	case "WRITE":
		return accessv1alpha1.ActivityData
	}
	return accessv1alpha1.ActivityOther
}

// object names what an audited statement acted on: pgaudit's object type and
// name when it gives them, else, for role statements, the roles named.
func (r auditRecord) object() string {
	if r.objectID != "" {
		return strings.TrimSpace(r.objectType + " " + r.objectID)
	}
	if r.class == "ROLE" {
		if o := roleObject(r.command, r.objectType, r.statement); o != "" {
			return o
		}
	}
	return r.objectType
}

// action is what the subject did, as an Action.
func (r auditRecord) action() provider.Action {
	return provider.Action{Category: category(r.class), Action: r.command, Object: r.object()}
}

// deniedCode is insufficient_privilege, the SQLSTATE of a refused statement.
const deniedCode = "42501"

// commandTag matches a command tag as the ps field shows it ("ALTER ROLE").
var commandTag = regexp.MustCompile(`^[A-Z]+( [A-Z]+)*$`)

// notCommands are values of ps that are a session's state, not a statement.
var notCommands = map[string]bool{"IDLE": true, "AUTHENTICATION": true, "STARTUP": true}

// deniedObject reads the object from the server's own messages for
// insufficient_privilege, "permission denied for table pg_authid" and
// "must be owner of table t".
var deniedObject = regexp.MustCompile(`^(?:permission denied for|must be owner of) ([a-z]+(?: [a-z]+)*?) (\S+)$`)

// deniedAction is the Action of a refused statement: the command (from ps,
// the command tag the server was running), the object when the message
// names one in the server's own words, never the statement.
func deniedAction(l logLine) provider.Action {
	command := strings.ToUpper(strings.TrimSpace(l.PS))
	if !commandTag.MatchString(command) || notCommands[command] {
		command = "statement"
	}
	a := provider.Action{Action: command, Denied: true, Category: commandCategory(command)}
	if m := deniedObject.FindStringSubmatch(l.Message); m != nil {
		a.Object = strings.ToUpper(m[1]) + " " + m[2]
	}
	return a
}

// commandCategory sorts a command tag the way pgaudit sorts statements into
// classes, for refused statements, which pgaudit does not log.
func commandCategory(command string) accessv1alpha1.ActivityCategory {
	first, rest, _ := strings.Cut(command, " ")
	switch {
	case first == "GRANT" || first == "REVOKE" || strings.HasSuffix(rest, "ROLE") || strings.HasSuffix(rest, "USER"):
		return accessv1alpha1.ActivityAccess
	case first == "INSERT" || first == "UPDATE" || first == "DELETE" || first == "TRUNCATE" || first == "COPY" || first == "MERGE":
		return accessv1alpha1.ActivityData
	case first == "CREATE" || first == "ALTER" || first == "DROP" || first == "COMMENT":
		return accessv1alpha1.ActivityConfig
	}
	return accessv1alpha1.ActivityOther
}

// truncateText cuts s to the bound of an action's text fields, on a rune
// boundary.
func truncateText(s string) string {
	if len(s) <= accessv1alpha1.MaxActivityText {
		return s
	}
	cut := accessv1alpha1.MaxActivityText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
