// Package activity keeps the record of what a subject did in the target while
// elevated (status.activity): it folds the pages an activity source returns
// into that record, bounded whatever the subject does, and decides when the
// record is final. It is pure: no clock, no apiserver, no provider. The sources
// themselves live with their providers (provider.ActivitySource) and, for the
// kube-apiserver's audit webhook, in kubeaudit below this package.
package activity

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/provider"
)

// Collecting starts a record for a window whose source is named source.
func Collecting(source string) *accessv1alpha1.Activity {
	return &accessv1alpha1.Activity{
		State:  accessv1alpha1.ActivityCollecting,
		Reason: accessv1alpha1.ReasonActivityCollecting,
		Source: source,
	}
}

// Unavailable is the final record of a target that keeps no log Elevator can
// read, saying why.
func Unavailable(reason, message string, now time.Time) *accessv1alpha1.Activity {
	return &accessv1alpha1.Activity{
		State:      accessv1alpha1.ActivityUnavailable,
		Reason:     reason,
		Message:    truncate(message, 1024),
		FinishedAt: timePtr(now),
	}
}

// Add folds one page into the record and returns the access changes it added,
// which the caller flags. The record's cursor moves to the page's, so the
// same page is never folded in twice as long as the record and the cursor are
// written together.
func Add(rec *accessv1alpha1.Activity, page provider.ActivityPage) []provider.Action {
	var changes []provider.Action
	for _, a := range page.Actions {
		count(&rec.Counts, a)
		rec.Recent = appendLast(rec.Recent, actionRecord(a))
		if a.Category == accessv1alpha1.ActivityAccess && !a.Denied {
			changes = append(changes, a)
			if len(rec.AccessChanges) < accessv1alpha1.MaxRecentActions {
				rec.AccessChanges = append(rec.AccessChanges, actionRecord(a))
			}
		}
	}
	rec.Cursor = page.Cursor
	if !page.Through.IsZero() && (rec.CollectedThrough == nil || page.Through.After(rec.CollectedThrough.Time)) {
		rec.CollectedThrough = accessv1alpha1.NewMilliTime(page.Through)
	}
	rec.Counts.Dropped += page.Dropped
	switch {
	case page.Gap != "":
		markPartial(rec, accessv1alpha1.ReasonActivitySourceGap, page.Gap)
	case page.Dropped > 0:
		markPartial(rec, accessv1alpha1.ReasonActivityDropped,
			fmt.Sprintf("%d actions of the subject were received but dropped: the receiver's buffer was full", rec.Counts.Dropped))
	}
	return changes
}

// markPartial records the first reason the record is incomplete; a later one
// does not hide it.
func markPartial(rec *accessv1alpha1.Activity, reason, message string) {
	if rec.State == accessv1alpha1.ActivityPartial {
		return
	}
	rec.State = accessv1alpha1.ActivityPartial
	rec.Reason = reason
	rec.Message = truncate(message, 1024)
}

// Failed marks the record Partial because the source could not be read
// before the collection's deadline, and finishes it.
func Failed(rec *accessv1alpha1.Activity, err error, now time.Time) {
	markPartial(rec, accessv1alpha1.ReasonActivitySourceFailed, "the activity source could not be read before collection ended: "+err.Error())
	rec.FinishedAt = timePtr(now)
}

// Finish makes the record final: Complete unless something was missed.
func Finish(rec *accessv1alpha1.Activity, subject string, now time.Time) {
	if rec.State == accessv1alpha1.ActivityCollecting {
		rec.State = accessv1alpha1.ActivityComplete
		rec.Reason = accessv1alpha1.ReasonActivityComplete
		rec.Message = Summary(subject, rec.Counts)
	}
	rec.FinishedAt = timePtr(now)
}

// CollectUntil is when collection of a window that ended at revokedAt ends:
// once the source can no longer deliver actions from inside it.
func CollectUntil(revokedAt time.Time, delay time.Duration) time.Time {
	return revokedAt.Add(delay)
}

// Done reports whether collection of a window that ended at windowEnd is
// over: the source has delivered everything through windowEnd, and its
// delivery delay has passed (collectUntil), so nothing more can arrive.
func Done(rec *accessv1alpha1.Activity, windowEnd, collectUntil, now time.Time) bool {
	return rec.CollectedThrough != nil && !rec.CollectedThrough.Before(windowEnd) && !now.Before(collectUntil)
}

// Summary says what the subject did, for the condition and the Event:
// "alice made 14 changes while elevated: 3 config, 2 access, 9 data".
func Summary(subject string, c accessv1alpha1.ActivityCounts) string {
	changes := c.Config + c.Access + c.Data
	var b strings.Builder
	if changes == 0 {
		fmt.Fprintf(&b, "%s made no changes while elevated", subject)
	} else {
		fmt.Fprintf(&b, "%s made %s while elevated: %d config, %d access, %d data", subject, plural(changes, "change"), c.Config, c.Access, c.Data)
	}
	if c.Other > 0 {
		fmt.Fprintf(&b, "; %s", plural(c.Other, "other action"))
	}
	if c.Denied > 0 {
		fmt.Fprintf(&b, "; %s", plural(c.Denied, "denied attempt"))
	}
	if c.NotViaElevation > 0 {
		fmt.Fprintf(&b, "; %d allowed by access other than the elevation", c.NotViaElevation)
	}
	return b.String()
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func count(c *accessv1alpha1.ActivityCounts, a provider.Action) {
	c.Total++
	if a.Denied {
		c.Denied++
		return
	}
	if a.NotViaElevation {
		c.NotViaElevation++
	}
	switch a.Category {
	case accessv1alpha1.ActivityConfig:
		c.Config++
	case accessv1alpha1.ActivityAccess:
		c.Access++
	case accessv1alpha1.ActivityData:
		c.Data++
	default:
		c.Other++
	}
}

// appendLast keeps the last MaxRecentActions actions, oldest first.
func appendLast(recent []accessv1alpha1.ActivityAction, a accessv1alpha1.ActivityAction) []accessv1alpha1.ActivityAction {
	recent = append(recent, a)
	if over := len(recent) - accessv1alpha1.MaxRecentActions; over > 0 {
		recent = append(recent[:0:0], recent[over:]...)
	}
	return recent
}

func actionRecord(a provider.Action) accessv1alpha1.ActivityAction {
	category := a.Category
	if category == "" {
		category = accessv1alpha1.ActivityOther
	}
	return accessv1alpha1.ActivityAction{
		At:              metav1.NewMicroTime(a.At),
		ID:              truncate(a.ID, accessv1alpha1.MaxActivityText),
		Category:        category,
		Action:          truncate(a.Action, accessv1alpha1.MaxActivityText),
		Object:          truncate(a.Object, accessv1alpha1.MaxActivityText),
		ImpersonatedBy:  truncate(a.ImpersonatedBy, accessv1alpha1.MaxActivityText),
		Denied:          a.Denied,
		NotViaElevation: a.NotViaElevation,
	}
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func timePtr(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}
