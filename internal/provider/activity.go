package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// ActivitySource is implemented by a Client whose target keeps an audit log
// Elevator can read: what the subject did while elevated. A provider whose
// target keeps none does not implement it; one whose log depends on the
// target's configuration returns an error wrapped by Unavailable when it is
// not there.
//
// The contract:
//
//   - Activity returns the actions of the subject (as resolved at the grant,
//     q.Entitlement.Target) between q.From and q.Until, that the source has
//     not returned for q.Cursor before, oldest first, at most q.Limit of them.
//     Actions by anyone else, or outside the window, are never returned.
//   - It reads the source fresh and stateless: everything it needs next time
//     is in the returned Cursor, which the controller stores in
//     status.activity.cursor and passes back. An empty Cursor starts at the
//     beginning of the window.
//   - Through is the instant up to which the source has delivered every
//     action it ever will; More is true when there are further actions after
//     Cursor right now (the page was full).
//   - A gap the source can tell (a rotated-away log, a receiver restarted
//     since the window began, actions dropped under load) is reported in Gap
//     and Dropped, never hidden: it turns the record Partial.
//   - For an access change, Action.Object names the object as the provider's
//     Check names a residual path (e.g. "RoleBinding payments/backdoor"), so
//     that a backdoor found at revocation is tied to the action that made it.
//   - Credentials and statement parameters never appear in an Action.
type ActivitySource interface {
	// Activity reads the subject's actions in the window after the cursor.
	Activity(ctx context.Context, q ActivityQuery) (ActivityPage, error)
	// ActivityDelay is how long after an action the source may still deliver
	// it (a webhook batch's wait, a log's flush interval): collection goes on
	// until revokedAt plus this.
	ActivityDelay() time.Duration
	// ActivitySourceName names the log read, for status.activity.source.
	ActivitySourceName() string
}

// ActivityQuery asks for the subject's actions in one window.
type ActivityQuery struct {
	// Entitlement is the request's entitlement, with the Target stored at the
	// grant: the subject is matched as it was resolved then.
	Entitlement Entitlement
	// From and Until bound the window: from just before the grant call to the
	// revocation (or now, while the window is open).
	From, Until time.Time
	// Cursor is where the previous page ended; "" for the first.
	Cursor string
	// Limit is the most actions to return.
	Limit int
}

// ActivityPage is one read of an activity source.
type ActivityPage struct {
	Actions []Action
	// Cursor is where the next read starts.
	Cursor string
	// Through is the instant up to which every action has been delivered.
	Through time.Time
	// More is true when actions beyond Limit are waiting.
	More bool
	// Dropped counts the subject's actions in the window the source received
	// but could not keep.
	Dropped int64
	// Gap says what part of the window the source cannot account for, and
	// why; "" when it can account for all of it.
	Gap string
}

// Action is one action the subject took in the target.
type Action struct {
	At             time.Time
	ID             string
	Category       accessv1alpha1.ActivityCategory
	Action         string
	Object         string
	ImpersonatedBy string
	Denied         bool
	// NotViaElevation is true when the target says the action was allowed by
	// access other than the elevation's grant.
	NotViaElevation bool
}

// unavailableError marks a target that keeps no log Elevator can read.
type unavailableError struct{ reason string }

func (e unavailableError) Error() string { return e.reason }

// Unavailable says the connection's target has no activity source Elevator
// can read, and why (for status.activity.message).
func Unavailable(format string, args ...any) error {
	return unavailableError{reason: fmt.Sprintf(format, args...)}
}

// IsUnavailable reports whether err says the target has no activity source.
func IsUnavailable(err error) bool {
	var u unavailableError
	return errors.As(err, &u)
}
