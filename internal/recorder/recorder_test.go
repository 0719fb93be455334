package recorder

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := accessv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func request() *accessv1alpha1.ElevationRequest {
	return &accessv1alpha1.ElevationRequest{ObjectMeta: metav1.ObjectMeta{Namespace: "payments", Name: "inc-4711", UID: "u-1"}}
}

func TestEventfBuildsTheEvent(t *testing.T) {
	r := New(nil, testScheme(t), Options{Controller: "elevator", Instance: "pod-a", QueueSize: 4, Log: logr.Discard()})
	r.Eventf(request(), nil, corev1.EventTypeNormal, "Granted", "Grant", "access granted until %s", "12:00")
	ev := <-r.queue
	if ev.Namespace != "payments" || !strings.HasPrefix(ev.Name, "inc-4711.") {
		t.Errorf("event %s/%s: want it in the request's namespace, named after it", ev.Namespace, ev.Name)
	}
	if ev.Regarding.Kind != "ElevationRequest" || ev.Regarding.Name != "inc-4711" || ev.Regarding.UID != "u-1" {
		t.Errorf("regarding = %+v, want the request", ev.Regarding)
	}
	if ev.Note != "access granted until 12:00" || ev.Reason != "Granted" || ev.Action != "Grant" || ev.Type != corev1.EventTypeNormal {
		t.Errorf("event = %q %q %q %q", ev.Type, ev.Reason, ev.Action, ev.Note)
	}
	if ev.ReportingController != "elevator" || ev.ReportingInstance != "pod-a" || ev.EventTime.IsZero() {
		t.Errorf("reporting %q/%q at %v: want elevator/pod-a and a time", ev.ReportingController, ev.ReportingInstance, ev.EventTime)
	}
}

func TestEventfRefusesAnUnknownType(t *testing.T) {
	r := New(nil, testScheme(t), Options{QueueSize: 4, Log: logr.Discard()})
	r.Eventf(request(), nil, "Error", "Granted", "Grant", "x")
	if len(r.queue) != 0 {
		t.Fatal("an Event of a type the API rejects was queued")
	}
}

func TestEventfDropsWhenTheQueueIsFullInsteadOfBlocking(t *testing.T) {
	r := New(nil, testScheme(t), Options{QueueSize: 2, Log: logr.Discard()})
	before := testutil.ToFloat64(dropped)
	for range 5 {
		r.Eventf(request(), nil, corev1.EventTypeWarning, "RevokeFailed", "Revoke", "attempt")
	}
	if len(r.queue) != 2 {
		t.Errorf("queued %d Events, want the queue's size 2", len(r.queue))
	}
	if got := testutil.ToFloat64(dropped) - before; got != 3 {
		t.Errorf("elevator_events_dropped_total rose by %v, want 3", got)
	}
}

func TestTruncate(t *testing.T) {
	cases := []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{strings.Repeat("a", 10), 10, strings.Repeat("a", 10)},
		{strings.Repeat("a", 11), 10, "aaaaaaa..."},
		{"aaaaaaé" + strings.Repeat("b", 10), 10, "aaaaaa..."}, // é (bytes 7-8) would be cut in half
	}
	for _, c := range cases {
		got := truncate(c.in, c.limit)
		if got != c.want || len(got) > c.limit || !utf8.ValidString(got) {
			t.Errorf("truncate(%q, %d) = %q, want %q (valid UTF-8, at most the limit)", c.in, c.limit, got, c.want)
		}
	}
}
