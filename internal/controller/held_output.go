package controller

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// heldOutput holds what a reconcile announces, its Events and its audit
// lines, until its status is stored: a reconcile that loses a write conflict
// (its read of the request was stale) is repeated, and must not announce a
// transition twice, or one that never happened. A mid-reconcile checkpoint
// that is stored releases what was held before it, so a later conflict cannot
// lose the record of a transition the checkpoint stored.
type heldOutput struct {
	mu     sync.Mutex
	events map[types.UID][]heldEvent
	audits map[types.UID][]func()
}

type heldEvent struct {
	eventType, reason, action, note string
}

func (h *heldOutput) addEvent(er *accessv1alpha1.ElevationRequest, e heldEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.events == nil {
		h.events = map[types.UID][]heldEvent{}
	}
	h.events[er.UID] = append(h.events[er.UID], e)
}

func (h *heldOutput) addAudit(er *accessv1alpha1.ElevationRequest, write func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.audits == nil {
		h.audits = map[types.UID][]func(){}
	}
	h.audits[er.UID] = append(h.audits[er.UID], write)
}

// take removes and returns what is held for the request.
func (h *heldOutput) take(er *accessv1alpha1.ElevationRequest) ([]heldEvent, []func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	evs, audits := h.events[er.UID], h.audits[er.UID]
	delete(h.events, er.UID)
	delete(h.audits, er.UID)
	return evs, audits
}

// flush writes what is held for the request when stored is true, and forgets
// it otherwise.
func (h *heldOutput) flush(rec events.EventRecorder, er *accessv1alpha1.ElevationRequest, stored bool) {
	evs, audits := h.take(er)
	if !stored {
		return
	}
	for _, write := range audits {
		write()
	}
	if rec == nil {
		return
	}
	for _, e := range evs {
		rec.Eventf(er, nil, e.eventType, e.reason, e.action, "%s", e.note)
	}
}

// event holds an Event about the request; it is recorded once the reconcile's
// status is stored.
func (r *ElevationRequestReconciler) event(er *accessv1alpha1.ElevationRequest, eventType, reason, action, note string, args ...any) {
	r.held.addEvent(er, heldEvent{eventType, reason, action, fmt.Sprintf(note, args...)})
}

// record holds an audit line about the request, as the request is now; it
// is written once the reconcile's status is stored.
func (r *ElevationRequestReconciler) record(action string, er *accessv1alpha1.ElevationRequest, actor string, extra ...any) {
	snapshot := er.DeepCopy()
	r.held.addAudit(er, func() { r.Audit.Record(action, snapshot, actor, extra...) })
}
