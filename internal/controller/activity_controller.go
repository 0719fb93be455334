package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/activity"
	"github.com/elevator-dev/elevator/internal/audit"
	"github.com/elevator-dev/elevator/internal/metrics"
	"github.com/elevator-dev/elevator/internal/provider"
)

// Defaults of the activity collection.
const (
	// DefaultActivityInterval is how often an open window's source is read
	// when nothing wakes it sooner (--activity-interval).
	DefaultActivityInterval = 10 * time.Second
	// activityPageSize bounds one read of a source, and activityPagesPerLook
	// the reads of one reconcile, so that one chatty subject cannot hold a
	// worker: the rest waits for the next look, a moment later.
	activityPageSize     = 500
	activityPagesPerLook = 4
	// activityFailGrace is how long past collectUntil a source that keeps
	// failing is retried before the record is closed as Partial.
	activityFailGrace = 15 * time.Minute
	// activityMoreDelay is the next look when a source has more waiting.
	activityMoreDelay = 100 * time.Millisecond
)

// Event reasons of the activity collection.
const (
	EventAccessChangedWhileElevated = "AccessChangedWhileElevated"
	EventActivityRecorded           = "ActivityRecorded"
)

// ActivityReconciler records what each subject did in the target while
// elevated (status.activity): from the grant until the revocation plus the
// source's delivery delay, it reads the request's activity source, folds what
// it returns into the record, writes one audit line per action, and flags every
// change of access as a Warning Event. It is its own controller, with its own
// queue and workers, so that reading audit logs never delays a grant or a
// revocation; it writes status.activity and the conditions only.
type ActivityReconciler struct {
	Client    client.Client
	APIReader client.Reader
	Providers *provider.Registry
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	Audit     audit.Logger
	// Interval is how often an open window's source is read; 0 means
	// DefaultActivityInterval.
	Interval time.Duration
	// Wakeups names subjects whose push source (the audit webhook receiver)
	// has new actions, so their requests are read at once; nil when none.
	Wakeups <-chan string
}

// collection is what one look at a request's source found, for the Events and
// metrics sent once its status is stored.
type collection struct {
	provider string
	actions  []provider.Action
	changes  []provider.Action
	finished bool
	// more is true when the look stopped with pages waiting.
	more bool
}

// Reconcile reads the request's activity source once (a few pages at most)
// and stores what it found.
func (r *ActivityReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	er := &accessv1alpha1.ElevationRequest{}
	if err := r.Client.Get(ctx, req.NamespacedName, er); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !collectsActivity(er) {
		return ctrl.Result{}, nil
	}
	if er.Spec.IsMultiTarget() {
		return r.reconcileTargets(ctx, er)
	}
	before := er.DeepCopy()
	now := r.Clock.Now()
	found, result, err := r.collect(ctx, er, now)
	if !found.more && !worthWriting(before.Status, er.Status) {
		return result, err
	}
	prepareStatusWrite(er)
	if perr := r.Client.Status().Patch(ctx, er, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); perr != nil {
		return conflictRetry(fmt.Errorf("patch activity of %s: %w", req.NamespacedName, perr))
	}
	r.report(er, found)
	return result, err
}

// reconcileTargets reads the source of each target of a multi-target request
// that still collects, each into its own status.targets[i].activity, and
// stores what they found in one write.
func (r *ActivityReconciler) reconcileTargets(ctx context.Context, er *accessv1alpha1.ElevationRequest) (ctrl.Result, error) {
	before := er.DeepCopy()
	now := r.Clock.Now()
	views := targetViews(er)
	found := make([]collection, len(views))
	results := make([]ctrl.Result, 0, len(views))
	var firstErr error
	changed := false
	for i, v := range views {
		if !collectsActivity(v) {
			continue
		}
		was := v.Status.DeepCopy()
		var result ctrl.Result
		var err error
		found[i], result, err = r.collect(ctx, v, now)
		storeView(er, i, v)
		results = append(results, result)
		changed = changed || found[i].more || worthWriting(*was, v.Status)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("target %s: %w", targetOf(v), err)
		}
	}
	if !changed {
		return soonest(results), firstErr
	}
	prepareStatusWrite(er)
	if perr := r.Client.Status().Patch(ctx, er, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); perr != nil {
		return conflictRetry(fmt.Errorf("patch activity of %s/%s: %w", er.Namespace, er.Name, perr))
	}
	for i, v := range views {
		r.report(v, found[i])
	}
	return soonest(results), firstErr
}

// worthWriting reports whether a look changed what the record says. A
// cursor or collectedThrough that moved without a new action is not written:
// reading again from the stored cursor returns nothing twice, and skipping
// those writes keeps a quiet window at no API write at all until it ends. (A
// look that stopped with pages waiting is always written, so the stored
// cursor trails the source by at most one look's pages.)
func worthWriting(before, after accessv1alpha1.ElevationRequestStatus) bool {
	if after.Activity == nil {
		return before.Activity != nil
	}
	if before.Activity == nil {
		return after.Activity.Counts != (accessv1alpha1.ActivityCounts{}) || after.Activity.State != accessv1alpha1.ActivityCollecting
	}
	b, a := *before.Activity, *after.Activity
	b.Cursor, a.Cursor = "", ""
	b.CollectedThrough, a.CollectedThrough = nil, nil
	b.CollectUntil, a.CollectUntil = nil, nil
	return !equality.Semantic.DeepEqual(b, a) || !equality.Semantic.DeepEqual(before.ResidualAccess, after.ResidualAccess)
}

// collectsActivity reports whether the request has a window whose record is
// not final yet.
func collectsActivity(er *accessv1alpha1.ElevationRequest) bool {
	if er.Spec.IsMultiTarget() {
		return anyTarget(er, collectsActivity)
	}
	if er.Status.GrantedAt == nil || er.Status.Grant == nil {
		return false
	}
	return er.Status.Activity == nil || er.Status.Activity.FinishedAt == nil
}

func (r *ActivityReconciler) collect(ctx context.Context, er *accessv1alpha1.ElevationRequest, now time.Time) (collection, ctrl.Result, error) {
	conn, err := connectionOf(ctx, r.Client, er)
	if err != nil {
		return collection{}, ctrl.Result{}, err
	}
	if conn == nil {
		closeRecord(er, accessv1alpha1.ReasonActivityConnectionGone, fmt.Sprintf("connection %q was deleted before collection finished", er.Spec.Connection), now)
		return collection{}, ctrl.Result{}, nil
	}
	cl, reg, err := connectTo(ctx, r.Providers, r.APIReader, conn)
	if err != nil {
		return r.sourceFailed(er, err, now)
	}
	defer func() { _ = cl.Close() }()
	src, ok := cl.(provider.ActivitySource)
	if !ok {
		closeRecord(er, accessv1alpha1.ReasonNoActivitySource, fmt.Sprintf("the %s provider keeps no audit log Elevator can read", reg.Kind), now)
		return collection{}, ctrl.Result{}, nil
	}
	found, err := r.readPages(ctx, er, src, now)
	found.provider = reg.Kind
	if provider.IsUnavailable(err) {
		closeRecord(er, accessv1alpha1.ReasonNoActivitySource, err.Error(), now)
		return found, ctrl.Result{}, nil
	}
	if err != nil {
		_, result, ferr := r.sourceFailed(er, err, now)
		return found, result, ferr
	}
	found.finished = !found.more && r.finishIfDone(er, src.ActivityDelay(), now)
	return found, r.nextActivityLook(er, found.more, now), nil
}

// readPages reads the source from the stored cursor and folds each page into
// the record.
func (r *ActivityReconciler) readPages(ctx context.Context, er *accessv1alpha1.ElevationRequest, src provider.ActivitySource, now time.Time) (collection, error) {
	if er.Status.Activity == nil {
		er.Status.Activity = activity.Collecting(src.ActivitySourceName())
	}
	rec := er.Status.Activity
	q := provider.ActivityQuery{Entitlement: grantedEntitlement(er), From: windowStart(er), Until: now, Limit: activityPageSize}
	if er.Status.RevokedAt != nil {
		q.Until = er.Status.RevokedAt.Time
		collectUntil := activity.CollectUntil(q.Until, src.ActivityDelay())
		rec.CollectUntil = accessv1alpha1.NewMilliTime(collectUntil)
	}
	var found collection
	for range activityPagesPerLook {
		q.Cursor = rec.Cursor
		page, err := src.Activity(ctx, q)
		if err != nil {
			return found, fmt.Errorf("read %s: %w", src.ActivitySourceName(), err)
		}
		found.changes = append(found.changes, activity.Add(rec, page)...)
		found.actions = append(found.actions, page.Actions...)
		if found.more = page.More; !found.more {
			break
		}
	}
	activity.LinkResidual(er.Status.ResidualAccess, rec.AccessChanges)
	return found, nil
}

// finishIfDone makes the record final once the window has ended and the
// source can deliver nothing more from it.
func (r *ActivityReconciler) finishIfDone(er *accessv1alpha1.ElevationRequest, delay time.Duration, now time.Time) bool {
	if er.Status.RevokedAt == nil {
		return false
	}
	end := er.Status.RevokedAt.Time
	if !activity.Done(er.Status.Activity, end, activity.CollectUntil(end, delay), now) {
		return false
	}
	activity.Finish(er.Status.Activity, er.Spec.Subject, now)
	return true
}

// sourceFailed keeps retrying a source that cannot be read, until the window
// has been closed for activityFailGrace; then the record ends Partial.
func (r *ActivityReconciler) sourceFailed(er *accessv1alpha1.ElevationRequest, err error, now time.Time) (collection, ctrl.Result, error) {
	end := er.Status.RevokedAt
	if end != nil && now.After(end.Add(activityFailGrace)) || provider.IsPermanent(err) {
		if er.Status.Activity == nil {
			er.Status.Activity = activity.Collecting("")
		}
		activity.Failed(er.Status.Activity, err, now)
		return collection{}, ctrl.Result{}, nil
	}
	return collection{}, ctrl.Result{}, fmt.Errorf("collect activity of %s/%s: %w", er.Namespace, er.Name, err)
}

// closeRecord ends collection for a reason that will not change: with
// nothing recorded yet the record is Unavailable, else what was recorded
// stays, Partial.
func closeRecord(er *accessv1alpha1.ElevationRequest, reason, message string, now time.Time) {
	rec := er.Status.Activity
	if rec == nil || rec.Counts.Total == 0 && rec.State == accessv1alpha1.ActivityCollecting {
		er.Status.Activity = activity.Unavailable(reason, message, now)
		return
	}
	activity.Failed(rec, errors.New(message), now)
	rec.Reason = reason
}

// nextActivityLook schedules the next read: at once when the source has more
// waiting, at the collection's end when that comes first, else after the
// interval (push sources wake the request sooner).
func (r *ActivityReconciler) nextActivityLook(er *accessv1alpha1.ElevationRequest, more bool, now time.Time) ctrl.Result {
	if more {
		return ctrl.Result{RequeueAfter: activityMoreDelay}
	}
	rec := er.Status.Activity
	if rec == nil || rec.FinishedAt != nil {
		return ctrl.Result{}
	}
	next := r.interval()
	if rec.CollectUntil != nil {
		if untilEnd := rec.CollectUntil.Sub(now); untilEnd < next {
			next = max(untilEnd, activityMoreDelay)
		}
	}
	return ctrl.Result{RequeueAfter: next}
}

func (r *ActivityReconciler) interval() time.Duration {
	if r.Interval > 0 {
		return r.Interval
	}
	return DefaultActivityInterval
}

// windowStart is when access may have begun: just before the grant call.
func windowStart(er *accessv1alpha1.ElevationRequest) time.Time {
	if g := er.Status.Grant; g != nil && !g.StartedAt.IsZero() {
		return g.StartedAt.Time
	}
	return er.Status.GrantedAt.Time
}

// grantedEntitlement is what was granted, as the grant resolved it: the
// source matches the subject's identity stored then.
func grantedEntitlement(er *accessv1alpha1.ElevationRequest) provider.Entitlement {
	e := entitlement(er, er.Status.Grant.Role)
	e.Target = er.Status.Grant.Target
	return e
}

// report writes the audit trail, the Events and the metrics of what a stored
// look found: after the status write, so a conflict that repeats the look
// does not repeat them.
func (r *ActivityReconciler) report(er *accessv1alpha1.ElevationRequest, found collection) {
	now := r.Clock.Now()
	for _, a := range found.actions {
		r.Audit.Record(audit.ActionActivity, er, er.Spec.Subject, actionTrail(a)...)
		metrics.ActivityRecorded(found.provider, string(a.Category), now.Sub(a.At))
	}
	for _, a := range found.changes {
		metrics.ActivityAccessChange(found.provider)
		r.Recorder.Eventf(er, nil, corev1.EventTypeWarning, EventAccessChangedWhileElevated, "Activity",
			"%s changed access while elevated: %s %s at %s", er.Spec.Subject, a.Action, a.Object, a.At.UTC().Format(time.RFC3339))
	}
	if rec := er.Status.Activity; found.finished && rec.State != accessv1alpha1.ActivityUnavailable {
		note := activity.Summary(er.Spec.Subject, rec.Counts)
		if rec.State == accessv1alpha1.ActivityPartial {
			note += "; the record is Partial: " + rec.Message
		}
		r.Recorder.Eventf(er, nil, corev1.EventTypeNormal, EventActivityRecorded, "Activity", "%s", note)
	}
}

// actionTrail is the audit line's fields for one action.
func actionTrail(a provider.Action) []any {
	kv := []any{
		"activityID", a.ID,
		"at", a.At.UTC().Format(time.RFC3339Nano),
		"category", string(a.Category),
		"operation", a.Action,
		"object", a.Object,
		"denied", a.Denied,
		"notViaElevation", a.NotViaElevation,
	}
	if a.ImpersonatedBy != "" {
		kv = append(kv, "impersonatedBy", a.ImpersonatedBy)
	}
	return kv
}
