// Package recorder writes Kubernetes Events (events.k8s.io/v1) for the operator.
//
// client-go's event broadcaster keeps a copy of every Event it wrote for six to
// twelve minutes, to fold repeats into a series. Elevator's Events are about
// distinct requests and rarely repeat (a retried revocation counts its attempts
// in the note), so that cache held only memory: at 10,000 elevations it was the
// operator's largest live object set (see docs/performance.md). This writer keeps
// nothing once an Event is written. Writing is asynchronous and never blocks a
// reconcile: when the API server falls behind and the queue is full, an Event is
// dropped and counted in elevator_events_dropped_total. Events are a courtesy;
// the request's status and the audit log are the record.
package recorder

import (
	"context"
	"fmt"
	"os"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/record/util"
	"k8s.io/client-go/tools/reference"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// noteLimit is the API server's limit on an Event's note, in bytes.
const noteLimit = 1024

// writeTimeout bounds one Event's write, so a hung API server cannot hold a writer.
const writeTimeout = 10 * time.Second

var dropped = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "elevator_events_dropped_total",
	Help: "Events not written because the queue of Events to write was full.",
})

func init() { ctrlmetrics.Registry.MustRegister(dropped) }

// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// Recorder is an events.EventRecorder that writes each Event once, from a
// bounded queue, and keeps no copy.
type Recorder struct {
	client     client.Client
	scheme     *runtime.Scheme
	controller string // reportingController
	instance   string // reportingInstance
	queue      chan *eventsv1.Event
	writers    int
	log        logr.Logger
}

var _ events.EventRecorder = (*Recorder)(nil)

// Options configure a Recorder.
type Options struct {
	// Controller is the reportingController, e.g. "elevator".
	Controller string
	// Instance is the reportingInstance, e.g. the pod's name.
	Instance string
	// QueueSize is how many Events may wait to be written; 0 means 8192
	// (about 8 MiB at most).
	QueueSize int
	// Writers is how many Events are written at once; 0 means 8.
	Writers int
	Log     logr.Logger
}

// New returns a Recorder that writes through c. It writes nothing until Start.
func New(c client.Client, scheme *runtime.Scheme, o Options) *Recorder {
	if o.QueueSize <= 0 {
		o.QueueSize = 8192
	}
	if o.Writers <= 0 {
		o.Writers = 8
	}
	return &Recorder{client: c, scheme: scheme, controller: o.Controller, instance: o.Instance,
		queue: make(chan *eventsv1.Event, o.QueueSize), writers: o.Writers, log: o.Log}
}

// Eventf queues an Event about regarding; it never blocks.
func (r *Recorder) Eventf(regarding runtime.Object, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	ev, err := r.makeEvent(regarding, related, eventtype, reason, action, fmt.Sprintf(note, args...))
	if err != nil {
		r.log.Error(err, "not recording an Event", "reason", reason)
		return
	}
	select {
	case r.queue <- ev:
	default:
		dropped.Inc()
	}
}

func (r *Recorder) makeEvent(regarding, related runtime.Object, eventtype, reason, action, note string) (*eventsv1.Event, error) {
	if eventtype != corev1.EventTypeNormal && eventtype != corev1.EventTypeWarning {
		return nil, fmt.Errorf("event type %q is neither %s nor %s", eventtype, corev1.EventTypeNormal, corev1.EventTypeWarning)
	}
	ref, err := reference.GetReference(r.scheme, regarding)
	if err != nil {
		return nil, fmt.Errorf("reference the regarding object: %w", err)
	}
	now := time.Now()
	ev := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: util.GenerateEventName(ref.Name, now.UnixNano()), Namespace: ref.Namespace},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: r.controller,
		ReportingInstance:   r.instance,
		Action:              action,
		Reason:              reason,
		Regarding:           *ref,
		Note:                truncate(note, noteLimit),
		Type:                eventtype,
	}
	if ev.Namespace == "" {
		ev.Namespace = metav1.NamespaceDefault
	}
	if related != nil {
		if rel, err := reference.GetReference(r.scheme, related); err == nil {
			ev.Related = rel
		}
	}
	return ev, nil
}

// truncate cuts s to at most limit bytes without splitting a character.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const ellipsis = "..."
	cut := limit - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// Start writes queued Events until ctx ends; it implements manager.Runnable.
func (r *Recorder) Start(ctx context.Context) error {
	done := make(chan struct{})
	for range r.writers {
		go func() {
			defer func() { done <- struct{}{} }()
			r.write(ctx)
		}()
	}
	for range r.writers {
		<-done
	}
	return nil
}

// NeedLeaderElection is false: a standby replica's webhooks may record Events too.
func (r *Recorder) NeedLeaderElection() bool { return false }

func (r *Recorder) write(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.queue:
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			if err := r.client.Create(wctx, ev); err != nil {
				r.log.V(1).Info("could not write an Event", "reason", ev.Reason, "regarding", ev.Regarding.Name, "error", err.Error())
			}
			cancel()
		}
	}
}

// ForManager returns a Recorder that writes through the manager's client and
// runs with the manager. The reporting instance is the host (in a cluster, the
// pod) name.
func ForManager(mgr manager.Manager, controller string) (*Recorder, error) {
	instance, err := os.Hostname()
	if err != nil {
		instance = controller
	}
	r := New(mgr.GetClient(), mgr.GetScheme(), Options{Controller: controller, Instance: instance, Log: mgr.GetLogger().WithName("events")})
	if err := mgr.Add(r); err != nil {
		return nil, fmt.Errorf("add the Event recorder to the manager: %w", err)
	}
	return r, nil
}
