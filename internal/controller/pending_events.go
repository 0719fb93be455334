package controller

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// pendingEvents holds the Events of a reconcile until its status is stored: a
// reconcile that loses a write conflict (its read of the request was stale) is
// repeated, and must not announce a transition twice, or one that never happened.
type pendingEvents struct {
	mu    sync.Mutex
	byUID map[types.UID][]pendingEvent
}

type pendingEvent struct {
	eventType, reason, action, note string
}

func (p *pendingEvents) add(er *accessv1alpha1.ElevationRequest, eventType, reason, action, note string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byUID == nil {
		p.byUID = map[types.UID][]pendingEvent{}
	}
	p.byUID[er.UID] = append(p.byUID[er.UID], pendingEvent{eventType, reason, action, fmt.Sprintf(note, args...)})
}

// take removes and returns the request's Events.
func (p *pendingEvents) take(er *accessv1alpha1.ElevationRequest) []pendingEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	evs := p.byUID[er.UID]
	delete(p.byUID, er.UID)
	return evs
}

// flush records the request's Events when stored is true and forgets them otherwise.
func (p *pendingEvents) flush(rec events.EventRecorder, er *accessv1alpha1.ElevationRequest, stored bool) {
	evs := p.take(er)
	if !stored || rec == nil {
		return
	}
	for _, e := range evs {
		rec.Eventf(er, nil, e.eventType, e.reason, e.action, "%s", e.note)
	}
}

// event queues an Event about the request; it is recorded once the reconcile's
// status is stored.
func (r *ElevationRequestReconciler) event(er *accessv1alpha1.ElevationRequest, eventType, reason, action, note string, args ...any) {
	r.pending.add(er, eventType, reason, action, note, args...)
}
