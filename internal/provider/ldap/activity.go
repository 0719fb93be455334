package ldap

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/elevator-dev/elevator/internal/provider"
)

// The activity source is OpenLDAP's accesslog overlay (slapo-accesslog(5)):
// every write to the directory is also written, as an entry, to a separate
// database, which the bind account reads over LDAP like any other.
const (
	// DefaultAccessLogBaseDN is the suffix of the accesslog database when the
	// connection names none.
	DefaultAccessLogBaseDN = "cn=accesslog"
	activitySourceName     = "OpenLDAP accesslog"
	// activitySettle is how long after an action its log entry may still
	// appear. The overlay writes the entry in the same operation, before the
	// client gets its answer, but stamps it with the time the operation
	// started: an operation still running at a read appears later with an
	// earlier reqStart. Reads stop this long before now, so the cursor never
	// passes such an entry; it also absorbs clock skew between the operator
	// and the server up to the same amount.
	activitySettle = 5 * time.Second
	// maxLogScan bounds one search of the log, well under OpenLDAP's default
	// size limit of 500; a window with more entries is read in narrower
	// time slices.
	maxLogScan = 400
	// defaultActivityLimit is the page size when the query sets none.
	defaultActivityLimit = 100
	// reqStartLayout is how the overlay writes reqStart: UTC GeneralizedTime
	// to the second, and six digits that are not a fraction of it but a
	// counter making each entry's reqStart (its RDN) unique within that
	// second. Only the seconds are a time.
	reqStartLayout = "20060102150405.000000Z"
	// adCapabilityOID in a root DSE's supportedCapabilities marks Active
	// Directory (LDAP_CAP_ACTIVE_DIRECTORY_OID).
	adCapabilityOID = "1.2.840.113556.1.4.800"
)

// The attributes of a log entry Activity reads. reqMod and reqOld hold
// values, passwords among them: only attribute names and objectClass values
// are taken from them.
const (
	reqStartAttr  = "reqStart"
	reqTypeAttr   = "reqType"
	reqDNAttr     = "reqDN"
	reqResultAttr = "reqResult"
	reqModAttr    = "reqMod"
	reqOldAttr    = "reqOld"
)

var _ provider.ActivitySource = (*client)(nil)

// ActivitySourceName names the log read.
func (c *client) ActivitySourceName() string { return activitySourceName }

// ActivityDelay is activitySettle: the overlay writes synchronously, so an
// action is readable once the operation has finished.
func (c *client) ActivityDelay() time.Duration { return activitySettle }

// Activity reads the subject's writes in the window from the accesslog
// database: entries whose reqAuthzID is the subject's DN as stored at the
// grant, oldest first, after the cursor (the last reqStart returned).
//
// Through is now less activitySettle on the page that ends the read, and
// left zero on one with More: the next page says how far it got.
func (c *client) Activity(ctx context.Context, q provider.ActivityQuery) (provider.ActivityPage, error) {
	base, err := c.accessLogBase()
	if err != nil {
		return provider.ActivityPage{}, err
	}
	through := time.Now().Add(-activitySettle)
	w, err := newLogWindow(q, through)
	if err != nil {
		return provider.ActivityPage{}, err
	}
	endpoint := ""
	if q.Entitlement.Target != nil {
		endpoint = q.Entitlement.Target.Endpoint
	}
	at, _ := c.atEndpoint(endpoint)
	s, err := at.connect(ctx)
	if err != nil {
		return provider.ActivityPage{}, err
	}
	defer s.close()
	if err := at.checkLogBase(s, base); err != nil {
		return provider.ActivityPage{}, err
	}
	w.subjectDN, err = at.subjectDN(s, q.Entitlement)
	if err != nil {
		return provider.ActivityPage{}, fmt.Errorf("activity of %q: %w", q.Entitlement.Subject, err)
	}
	page, err := at.readWindow(s, base, w)
	if err != nil {
		return provider.ActivityPage{}, err
	}
	if !page.More {
		page.Through = through
	}
	return page, nil
}

// accessLogBase is the connection's accessLogBaseDN, or the default. A DN
// that does not parse makes activity Unavailable rather than failing the
// connection: the log is optional, grants and revocations do not need it.
func (c *client) accessLogBase() (string, error) {
	base := c.cfg.accessLogBase
	if base == "" {
		return DefaultAccessLogBaseDN, nil
	}
	if err := checkDN("accessLogBaseDN", base); err != nil {
		return "", provider.Unavailable("spec.provider.ldap.%v", err)
	}
	return base, nil
}

// subjectDN is the subject's DN as stored at the grant; a request granted
// before targets were stored falls back to the connection's user filter now.
func (c *client) subjectDN(s *session, e provider.Entitlement) (string, error) {
	if t := e.Target; t != nil && t.Subject != nil && t.Subject.ID != "" {
		return t.Subject.ID, nil
	}
	user, err := c.findUser(s, e.Subject)
	if err != nil {
		return "", err
	}
	if !user.found() {
		return "", provider.Permanentf("no DN stored at the grant, and %s", user.describe())
	}
	return user.dn, nil
}

// checkLogBase reads the log's suffix entry, which the overlay makes an
// auditContainer. A base that is missing or unreadable, or that is not a log,
// makes activity Unavailable, saying what to configure; on Active Directory
// it says there is no such log.
func (c *client) checkLogBase(s *session, base string) error {
	res, err := s.conn.Search(goldap.NewSearchRequest(base, goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		1, c.timeLimit(), false, "(objectClass=auditContainer)", []string{noAttrs}, nil))
	switch {
	case err == nil && len(res.Entries) == 1:
		return nil
	case err == nil:
		return provider.Unavailable("%s is not an OpenLDAP accesslog database (its entry is no auditContainer): "+
			"set spec.provider.ldap.accessLogBaseDN to the suffix the accesslog overlay's logdb (olcAccessLogDB) names", base)
	case !isAbsentOrDenied(err):
		return classify(fmt.Errorf("read accesslog base %s as %s: %w", base, c.cfg.bindDN, err))
	}
	if ad, adErr := c.isActiveDirectory(s); adErr == nil && ad {
		return provider.Unavailable("Active Directory keeps no audit log readable over LDAP; " +
			"its directory changes are in the domain controllers' Security event log (audit policy \"Directory Service Changes\", event 5136), which Elevator does not read")
	}
	return provider.Unavailable("no OpenLDAP accesslog database is readable at %s as %s (%v): "+
		"enable the accesslog overlay on the directory's database with logdb (olcAccessLogDB) %s and logops writes, "+
		"give %s read access to that database, or set spec.provider.ldap.accessLogBaseDN to its suffix (see docs/providers/ldap.md)",
		base, c.cfg.bindDN, err, base, c.cfg.bindDN)
}

// isAbsentOrDenied reports whether a search of a base failed because the
// entry is not there or not visible to the bind account (OpenLDAP answers
// noSuchObject for both, so as not to disclose it), or is held elsewhere.
func isAbsentOrDenied(err error) bool {
	for _, code := range []uint16{goldap.LDAPResultNoSuchObject, goldap.LDAPResultInsufficientAccessRights, goldap.LDAPResultReferral} {
		if goldap.IsErrorWithCode(err, code) {
			return true
		}
	}
	return false
}

// isActiveDirectory reads the root DSE's supportedCapabilities.
func (c *client) isActiveDirectory(s *session) (bool, error) {
	res, err := s.conn.Search(goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases,
		1, c.timeLimit(), false, "(objectClass=*)", []string{"supportedCapabilities"}, nil))
	if err != nil || len(res.Entries) == 0 {
		return false, err
	}
	return slices.Contains(res.Entries[0].GetAttributeValues("supportedCapabilities"), adCapabilityOID), nil
}

// logWindow is the part of the log one Activity call reads.
type logWindow struct {
	subjectDN string
	// lo and hi bound reqStart, both included.
	lo, hi time.Time
	limit  int
	// cursor is the query's, kept when there is nothing to read yet.
	cursor string
}

// newLogWindow bounds the read: from the start of From's second, or just
// after the cursor, to the end of the second of Until or of through,
// whichever is earlier. The log is exact to the second only, so actions in
// the second of the grant before it, or of the revocation after it, are in.
func newLogWindow(q provider.ActivityQuery, through time.Time) (logWindow, error) {
	until := q.Until
	if until.IsZero() {
		// A window still open.
		until = through
	}
	w := logWindow{
		lo:     q.From.UTC().Truncate(time.Second),
		hi:     minTime(until, through).UTC().Truncate(time.Second).Add(time.Second - time.Microsecond),
		limit:  q.Limit,
		cursor: q.Cursor,
	}
	if w.limit <= 0 {
		w.limit = defaultActivityLimit
	}
	if q.Cursor != "" {
		after, err := time.Parse(reqStartLayout, q.Cursor)
		if err != nil {
			return w, provider.Permanentf("activity cursor %q is not a reqStart of the accesslog: %w", q.Cursor, err)
		}
		if next := after.Add(time.Microsecond); next.After(w.lo) {
			w.lo = next
		}
	}
	return w, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// filter selects the subject's writes with reqStart in [lo, hi]. The server
// matches reqAuthzID with distinguishedNameMatch (the overlay stores the
// bound DN normalised, lower case), so the DN matches whatever its case.
//
// The upper bound is written (!(reqStart>=hi+1µs)), not (reqStart<=hi): the
// overlay stores reqStart as it wrote it, trailing zeros and all, while the
// server drops trailing zeros of an assertion's fraction, and its ordering
// match then takes the longer of two equal prefixes for the greater. An entry
// "...44.633970Z" is not <= "...44.633970Z" (tested against slapd 2.5), but
// ">=" a bound is right in every case.
func (w logWindow) filter(lo, hi time.Time) string {
	return fmt.Sprintf("(&(objectClass=auditWriteObject)(reqAuthzID=%s)(reqStart>=%s)(!(reqStart>=%s)))",
		goldap.EscapeFilter(w.subjectDN), goldap.EscapeFilter(lo.Format(reqStartLayout)),
		goldap.EscapeFilter(hi.Add(time.Microsecond).Format(reqStartLayout)))
}

// readWindow returns the oldest entries of the window, at most limit, as
// actions. The server returns entries in no order the protocol promises, so
// it first lists reqStart alone to choose the oldest, then reads those.
func (c *client) readWindow(s *session, base string, w logWindow) (provider.ActivityPage, error) {
	page := provider.ActivityPage{Cursor: w.cursor}
	if w.hi.Before(w.lo) {
		return page, nil
	}
	scan, err := c.oldestStarts(s, base, w)
	if err != nil {
		return page, err
	}
	page.Gap = scan.gap
	done := scan.complete
	if len(scan.starts) > w.limit {
		scan.starts = scan.starts[:w.limit]
		done = scan.starts[w.limit-1]
	}
	if len(scan.starts) > 0 {
		entries, err := c.readEntries(s, base, w, scan.starts[0], scan.starts[len(scan.starts)-1])
		if err != nil {
			return page, err
		}
		page.Actions = actionsOf(entries)
	}
	if len(page.Actions) > w.limit {
		// Entries that appeared between the two searches.
		page.Actions = page.Actions[:w.limit]
		done, _ = time.Parse(reqStartLayout, page.Actions[w.limit-1].ID) // parsed once already
	}
	// The cursor is the instant through which every entry has been read: the
	// last one returned, or the end of a stretch with none of the subject's.
	page.Cursor = done.Format(reqStartLayout)
	page.More = done.Before(w.hi)
	return page, nil
}

// logScan is what listing reqStart in a window found.
type logScan struct {
	// starts are the reqStart of the entries, sorted.
	starts []time.Time
	// complete is the instant through which starts lists every entry.
	complete time.Time
	// gap is set when one second held more entries than a search returns.
	gap string
}

// oldestStarts lists the reqStart of every entry in [w.lo, end], with end as
// far as w.hi as one search under maxLogScan allows: a window with more
// entries is halved until its first part fits.
func (c *client) oldestStarts(s *session, base string, w logWindow) (logScan, error) {
	end := w.hi
	for {
		entries, truncated, err := c.searchLog(s, base, w.filter(w.lo, end), []string{reqStartAttr})
		if err != nil {
			return logScan{}, err
		}
		first := w.lo.Truncate(time.Second)
		secs := end.Truncate(time.Second).Sub(first) / time.Second
		if truncated && secs > 0 {
			end = first.Add(secs / 2 * time.Second).Add(time.Second - time.Microsecond)
			continue
		}
		scan := logScan{starts: parseStarts(entries), complete: end}
		if truncated && len(scan.starts) > 0 {
			// One second with more of the subject's writes than a search
			// returns: those the server sent are all that can be had.
			scan.complete = scan.starts[len(scan.starts)-1]
			scan.gap = fmt.Sprintf("the subject made more than %d writes in the second %s; the accesslog search returned only some of them",
				len(scan.starts), first.Format(time.RFC3339))
		}
		return scan, nil
	}
}

// parseStarts reads reqStart of each entry, sorted, skipping any the overlay
// did not write in its own format.
func parseStarts(entries []*goldap.Entry) []time.Time {
	starts := make([]time.Time, 0, len(entries))
	for _, e := range entries {
		if t, err := time.Parse(reqStartLayout, e.GetAttributeValue(reqStartAttr)); err == nil {
			starts = append(starts, t)
		}
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	return starts
}

// readEntries reads the entries with reqStart from first to last, with the
// attributes an Action is made of.
func (c *client) readEntries(s *session, base string, w logWindow, first, last time.Time) ([]*goldap.Entry, error) {
	attrs := []string{reqStartAttr, reqTypeAttr, reqDNAttr, reqResultAttr, reqModAttr, reqOldAttr}
	entries, _, err := c.searchLog(s, base, w.filter(first, last), attrs)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b *goldap.Entry) int {
		return cmp.Compare(a.GetAttributeValue(reqStartAttr), b.GetAttributeValue(reqStartAttr))
	})
	return entries, nil
}

// searchLog runs one subtree search of the log, at most maxLogScan entries.
// truncated says the server stopped at a size limit, its own or ours.
func (c *client) searchLog(s *session, base, filter string, attrs []string) ([]*goldap.Entry, bool, error) {
	res, err := s.conn.Search(goldap.NewSearchRequest(base, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases,
		maxLogScan, c.timeLimit(), false, filter, attrs, nil))
	truncated := goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded)
	if err != nil && !truncated {
		return nil, false, classify(fmt.Errorf("search accesslog %s for %s: %w", base, filter, err))
	}
	return res.Entries, truncated, nil
}
