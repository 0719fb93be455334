package controller

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/metrics"
	"github.com/elevator-dev/elevator/internal/notify"
	"github.com/elevator-dev/elevator/internal/provider/endpoint"
)

// EventNotificationFailed is the Warning Event of a delivery that failed; it
// is retried with backoff.
const EventNotificationFailed = "NotificationFailed"

// notifyWorkers deliver notifications; each send is bounded by
// notify.SendTimeout, so a sink that never answers holds a worker that long.
const notifyWorkers = 4

// NotificationReconciler sends the notifications due for each request to the
// sinks of its connection, and records each delivery in status.notified so
// none is sent twice. It is its own controller, with its own queue and
// workers: a slow or absent sink never delays a grant or a revocation.
type NotificationReconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// AllowedHosts is --allowed-endpoint-hosts, applied to sink URLs too.
	AllowedHosts endpoint.Allowlist
	// AllowInsecure is --allow-insecure-notification-urls.
	AllowInsecure bool
}

// Reconcile delivers what is due to every sink of the request's connection.
func (r *NotificationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	er := &accessv1alpha1.ElevationRequest{}
	if err := r.Client.Get(ctx, req.NamespacedName, er); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	conn, err := connectionOf(ctx, r.Client, er)
	if err != nil || conn == nil {
		return ctrl.Result{}, err
	}
	if len(conn.Spec.Notifications) == 0 || !anythingDue(er, conn, r.Clock.Now()) {
		return r.nextReminder(er, conn, r.Clock.Now()), nil
	}
	// The cache may not hold our last delivery record yet: decide on a fresh
	// read, so nothing is sent twice because the cache was behind.
	if err := r.APIReader.Get(ctx, req.NamespacedName, er); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.Clock.Now()
	var delivered []accessv1alpha1.NotificationRecord
	var failed error
	for _, sink := range conn.Spec.Notifications {
		due := notify.Undelivered(notify.Due(er, expiringSoonLead(sink), now), sink.Name, er.Status.Notified)
		records, err := r.deliver(ctx, er, sink, due)
		delivered = append(delivered, records...)
		failed = errors.Join(failed, err)
	}
	if err := r.recordDeliveries(ctx, req.NamespacedName, delivered); err != nil {
		return ctrl.Result{}, err
	}
	if failed != nil {
		return ctrl.Result{}, failed
	}
	return r.nextReminder(er, conn, now), nil
}

// anythingDue reports whether some sink has a notification due that the
// request's records do not show delivered.
func anythingDue(er *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection, now time.Time) bool {
	for _, sink := range conn.Spec.Notifications {
		if len(notify.Undelivered(notify.Due(er, expiringSoonLead(sink), now), sink.Name, er.Status.Notified)) > 0 {
			return true
		}
	}
	return false
}

// nextReminder schedules the look at which the next reminder is due.
func (r *NotificationReconciler) nextReminder(er *accessv1alpha1.ElevationRequest, conn *accessv1alpha1.SaaSConnection, now time.Time) ctrl.Result {
	var next time.Time
	for _, sink := range conn.Spec.Notifications {
		if at := notify.NextDue(er, expiringSoonLead(sink), now); !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if next.IsZero() {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: next.Sub(now)}
}

// recordDeliveries adds the records of what was just delivered to the
// request's status, re-reading and retrying on a conflict rather than
// delivering again: a lifecycle write in between must not cause a duplicate.
func (r *NotificationReconciler) recordDeliveries(ctx context.Context, key types.NamespacedName, delivered []accessv1alpha1.NotificationRecord) error {
	if len(delivered) == 0 {
		return nil
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		er := &accessv1alpha1.ElevationRequest{}
		if err := r.APIReader.Get(ctx, key, er); err != nil {
			return client.IgnoreNotFound(err)
		}
		before := er.DeepCopy()
		for _, d := range delivered {
			if !slices.Contains(er.Status.Notified, d) {
				er.Status.Notified = notify.Record(er.Status.Notified, d.Sink, notify.Event{ID: d.ID})
			}
		}
		if err := r.Client.Status().Patch(ctx, er, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("record notifications of %s: %w", key, err)
		}
		return nil
	})
}

// deliver sends the events in order and records each one delivered; it stops
// at the first failure, so the order a person reads them in is kept.
func (r *NotificationReconciler) deliver(ctx context.Context, er *accessv1alpha1.ElevationRequest, sink accessv1alpha1.NotificationSink, due []notify.Event) ([]accessv1alpha1.NotificationRecord, error) {
	if len(due) == 0 {
		return nil, nil
	}
	var delivered []accessv1alpha1.NotificationRecord
	sender, err := r.sender(ctx, er.Namespace, sink)
	if err == nil {
		for _, e := range due {
			sendCtx, cancel := context.WithTimeout(ctx, notify.SendTimeout)
			err = sender.Send(sendCtx, e)
			cancel()
			if err != nil {
				break
			}
			delivered = append(delivered, accessv1alpha1.NotificationRecord{Sink: sink.Name, ID: e.ID})
			metrics.NotificationSent(sink.Name, string(e.Type))
		}
	}
	if err != nil {
		metrics.NotificationFailed(sink.Name)
		r.Recorder.Eventf(er, nil, corev1.EventTypeWarning, EventNotificationFailed, "Notify",
			"notification to sink %q failed, retrying with backoff: %s", sink.Name, err)
		return delivered, fmt.Errorf("notify sink %q: %w", sink.Name, err)
	}
	return delivered, nil
}

// sender reads the sink's Secret (labelled, as connection credentials must
// be) and checks its host against the operator's allowlist.
func (r *NotificationReconciler) sender(ctx context.Context, namespace string, sink accessv1alpha1.NotificationSink) (notify.Sender, error) {
	data, err := SecretReader(r.APIReader, namespace)(ctx, sink.SecretRef.Name)
	if err != nil {
		return nil, err
	}
	raw := string(data["url"])
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("key url of Secret %q is not a URL", sink.SecretRef.Name)
	}
	ep, err := endpoint.FromHost(fmt.Sprintf("the url of sink %q", sink.Name), u.Hostname())
	if err != nil {
		return nil, err
	}
	if err := r.AllowedHosts.Check(ep); err != nil {
		return nil, err
	}
	return notify.NewSender(notify.SinkConfig{Sink: sink, URL: raw, Token: string(data["token"]), CABundle: data["ca.crt"], AllowInsecure: r.AllowInsecure})
}

func expiringSoonLead(sink accessv1alpha1.NotificationSink) time.Duration {
	if d, err := time.ParseDuration(sink.ExpiringSoon); err == nil && d > 0 {
		return d
	}
	return notify.DefaultExpiringSoon
}

// SetupWithManager registers the notification controller. It looks at a
// request on every change (status included: the facts it notifies are
// status), and when the reminder is due.
func (r *NotificationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("notification").
		For(&accessv1alpha1.ElevationRequest{}).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: notifyWorkers,
			RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](time.Second, 5*time.Minute),
		}).
		Complete(r)
}
