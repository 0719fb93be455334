// Package metrics defines Elevator's Prometheus metrics, registered with
// controller-runtime's registry so the manager's metrics endpoint serves them.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/types"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

var (
	elevations = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "elevator_elevations",
		Help: "ElevationRequests known to this operator, by phase.",
	}, []string{"phase"})

	approvalToGrant = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "elevator_approval_to_grant_seconds",
		Help:    "Time from the approval of a request to its access being granted and verified present.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
	})

	expiryToVerified = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "elevator_expiry_to_verified_revocation_seconds",
		Help:    "Time from a request's expiresAt to the fresh read that verified its access gone; 0 when that was before expiresAt (see elevator_verified_before_expiry_seconds).",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
	})

	verifiedBeforeExpiry = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "elevator_verified_before_expiry_seconds",
		Help:    "For expired requests whose removal was verified before their expiresAt (the operator's --expiry-lead), how long before.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 10),
	})

	revocationFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "elevator_revocation_failures_total",
		Help: "Failed revoke or verification attempts, by provider and reason.",
	}, []string{"provider", "reason"})

	missedNextLook = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "elevator_missed_next_look_total",
		Help: "Reconciles of an unfinished request whose lifecycle step scheduled no next look, by phase; the operator looked again after a safety delay. Any value above 0 is a bug.",
	}, []string{"phase"})

	residualAccess = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "elevator_residual_access_paths_total",
		Help: "Paths by which a subject still held a role's access after Elevator's grant was verified gone, by provider and whether the path was created inside the elevation window (a likely backdoor).",
	}, []string{"provider", "inside_window"})

	activityActions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "elevator_activity_actions_total",
		Help: "Actions subjects took in their targets while elevated, recorded on their requests, by provider and category.",
	}, []string{"provider", "category"})

	activityAccessChanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "elevator_activity_access_changes_total",
		Help: "Changes of who may do what (a binding, a GRANT, a group member added) that subjects made while elevated, by provider: each a likely backdoor, and a Warning Event.",
	}, []string{"provider"})

	activityToStatus = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "elevator_activity_action_to_status_seconds",
		Help:    "Time from an action in the target to its being recorded in the request's status.activity.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
	})

	notificationsSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "elevator_notifications_sent_total",
		Help: "Notifications delivered, by sink and type.",
	}, []string{"sink", "type"})

	notificationsFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "elevator_notifications_failed_total",
		Help: "Failed notification deliveries (each retried with backoff), by sink.",
	}, []string{"sink"})

	breakGlassUsed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "elevator_break_glass_total",
		Help: "Requests their subject approved by break-glass, by connection.",
	}, []string{"connection"})

	breakGlassUnreviewed = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "elevator_break_glass_reviews_overdue",
		Help: "Break-glass uses past their review deadline without an approver's review (elevator.dev/review). Alert when above 0.",
	})

	overdue = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "elevator_revocations_overdue",
		Help: "Requests whose access should have ended but whose revocation is not yet verified, after a failed attempt. Alert when above 0.",
	})
)

func init() {
	crmetrics.Registry.MustRegister(elevations, approvalToGrant, expiryToVerified, verifiedBeforeExpiry, revocationFailures, missedNextLook, residualAccess, overdue,
		activityActions, activityAccessChanges, activityToStatus, notificationsSent, notificationsFailed,
		breakGlassUsed, breakGlassUnreviewed)
	for _, phase := range []accessv1alpha1.Phase{accessv1alpha1.PhasePending, accessv1alpha1.PhaseApproved, accessv1alpha1.PhaseActive,
		accessv1alpha1.PhaseRevoking, accessv1alpha1.PhaseRevoked, accessv1alpha1.PhaseDenied, accessv1alpha1.PhaseExpired, accessv1alpha1.PhaseFailed} {
		elevations.WithLabelValues(string(phase))
	}
	for _, phase := range []accessv1alpha1.Phase{accessv1alpha1.PhasePending, accessv1alpha1.PhaseApproved, accessv1alpha1.PhaseActive, accessv1alpha1.PhaseRevoking} {
		missedNextLook.WithLabelValues(string(phase))
	}
}

// revocationFailureReasons are the reasons RevocationFailed is called with.
var revocationFailureReasons = []string{accessv1alpha1.ReasonRevokeFailed, accessv1alpha1.ReasonVerifyFailed, accessv1alpha1.ReasonStillPresent}

// activityCategories are the categories ActivityRecorded is called with.
var activityCategories = []accessv1alpha1.ActivityCategory{accessv1alpha1.ActivityConfig, accessv1alpha1.ActivityAccess,
	accessv1alpha1.ActivityData, accessv1alpha1.ActivityOther}

// InitProviders creates, at 0, the series of every counter labelled by
// provider kind, for the kinds given (the operator's provider registry). A
// counter vector serves nothing until its first increment, and Prometheus
// cannot see a first increment from "no series" to 1: rate() and increase()
// over it stay empty, so an alert on the first revocation failure would never
// fire. Zero is the true count before anything happened. Series labelled by
// user data (a sink, a connection) appear with their first event.
func InitProviders(kinds ...string) {
	for _, kind := range kinds {
		for _, reason := range revocationFailureReasons {
			revocationFailures.WithLabelValues(kind, reason)
		}
		residualAccess.WithLabelValues(kind, "false")
		residualAccess.WithLabelValues(kind, "true")
		for _, category := range activityCategories {
			activityActions.WithLabelValues(kind, string(category))
		}
		activityAccessChanges.WithLabelValues(kind)
	}
}

// Tracker keeps the per-request state behind the gauges, so that a request
// counted once is counted in one phase only and forgotten when deleted.
type Tracker struct {
	mu      sync.Mutex
	phases  map[types.NamespacedName]accessv1alpha1.Phase
	overdue map[types.NamespacedName]bool
	// unreviewed are the break-glass uses past their review deadline.
	unreviewed map[types.NamespacedName]bool
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{phases: map[types.NamespacedName]accessv1alpha1.Phase{}, overdue: map[types.NamespacedName]bool{},
		unreviewed: map[types.NamespacedName]bool{}}
}

// ObserveReview records whether the request's break-glass review is overdue,
// and reports whether it just became so.
func (t *Tracker) ObserveReview(key types.NamespacedName, isOverdue bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	was := t.unreviewed[key]
	if isOverdue {
		t.unreviewed[key] = true
	} else {
		delete(t.unreviewed, key)
	}
	breakGlassUnreviewed.Set(float64(len(t.unreviewed)))
	return isOverdue && !was
}

// Observe records the request's current phase and whether its revocation is overdue.
func (t *Tracker) Observe(key types.NamespacedName, phase accessv1alpha1.Phase, isOverdue bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.phases[key]; ok {
		elevations.WithLabelValues(string(old)).Dec()
	}
	t.phases[key] = phase
	elevations.WithLabelValues(string(phase)).Inc()
	t.setOverdue(key, isOverdue)
}

// Forget removes a deleted request.
func (t *Tracker) Forget(key types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.phases[key]; ok {
		elevations.WithLabelValues(string(old)).Dec()
		delete(t.phases, key)
	}
	t.setOverdue(key, false)
	delete(t.unreviewed, key)
	breakGlassUnreviewed.Set(float64(len(t.unreviewed)))
}

func (t *Tracker) setOverdue(key types.NamespacedName, isOverdue bool) {
	if isOverdue {
		t.overdue[key] = true
	} else {
		delete(t.overdue, key)
	}
	overdue.Set(float64(len(t.overdue)))
}

// Overdue is the number of overdue revocations.
func (t *Tracker) Overdue() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.overdue)
}

// ApprovalToGrant observes the approval → verified grant latency.
func ApprovalToGrant(seconds float64) { approvalToGrant.Observe(seconds) }

// ExpiryToVerified observes the expiry → verified revocation lag, seconds
// after expiresAt. A removal verified before expiresAt (negative seconds) is no
// lag, observed as 0, and how early it was goes to verifiedBeforeExpiry: the
// lag histogram's buckets start at 10 ms and cannot hold negative values.
func ExpiryToVerified(seconds float64) {
	if seconds < 0 {
		verifiedBeforeExpiry.Observe(-seconds)
		seconds = 0
	}
	expiryToVerified.Observe(seconds)
}

// RevocationFailed counts a failed revoke or verification attempt.
func RevocationFailed(provider, reason string) {
	revocationFailures.WithLabelValues(provider, reason).Inc()
}

// MissedNextLook counts a step that scheduled no next look for an unfinished request.
func MissedNextLook(phase string) { missedNextLook.WithLabelValues(phase).Inc() }

// MissedNextLooks is the number of missed next looks counted so far, in every phase.
func MissedNextLooks() int {
	ch := make(chan prometheus.Metric, 16)
	go func() { missedNextLook.Collect(ch); close(ch) }()
	total := 0.0
	for m := range ch {
		var out dto.Metric
		if m.Write(&out) == nil && out.Counter != nil {
			total += out.Counter.GetValue()
		}
	}
	return int(total)
}

// ResidualAccess counts residual access paths found at a verified revocation:
// before the window (or of unknown age), and created inside it.
func ResidualAccess(provider string, before, inside int) {
	residualAccess.WithLabelValues(provider, "false").Add(float64(before))
	residualAccess.WithLabelValues(provider, "true").Add(float64(inside))
}

// ActivityRecorded counts actions recorded on a request, and how long after the
// action each was recorded.
func ActivityRecorded(provider, category string, sinceAction time.Duration) {
	activityActions.WithLabelValues(provider, category).Inc()
	activityToStatus.Observe(sinceAction.Seconds())
}

// ActivityAccessChange counts an access change a subject made while elevated.
func ActivityAccessChange(provider string) { activityAccessChanges.WithLabelValues(provider).Inc() }

// NotificationSent counts a delivered notification.
func NotificationSent(sink, eventType string) {
	notificationsSent.WithLabelValues(sink, eventType).Inc()
}

// NotificationFailed counts a failed delivery.
func NotificationFailed(sink string) { notificationsFailed.WithLabelValues(sink).Inc() }

// BreakGlassUsed counts a break-glass approval.
func BreakGlassUsed(connection string) { breakGlassUsed.WithLabelValues(connection).Inc() }

// Unreviewed is the number of break-glass uses past their review deadline.
func (t *Tracker) Unreviewed() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.unreviewed)
}
