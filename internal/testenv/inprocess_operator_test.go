package testenv

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/elevator-dev/elevator/internal/metrics"
)

// No apiserver is needed: the manager is built lazily and runs no controller.
var unreachable = &rest.Config{Host: "http://127.0.0.1:1"}

func TestStartInProcessReportsAFailedSetup(t *testing.T) {
	boom := errors.New("boom")
	_, err := StartInProcess(unreachable, InProcessOptions{
		Scheme: runtime.NewScheme(),
		Setup:  func(ctrl.Manager, *metrics.Tracker) error { return boom },
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "set up the reconcilers") {
		t.Fatalf("StartInProcess = %v, want the setup's error with context", err)
	}
}

func TestStopReturnsWhatTheManagerStoppedWith(t *testing.T) {
	failed := errors.New("a runnable failed")
	var tracker *metrics.Tracker
	op, err := StartInProcess(unreachable, InProcessOptions{
		Scheme:    runtime.NewScheme(),
		Namespace: "team",
		Setup: func(mgr ctrl.Manager, tr *metrics.Tracker) error {
			tracker = tr
			return mgr.Add(manager.RunnableFunc(func(context.Context) error { return failed }))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if op.Tracker == nil || op.Tracker != tracker {
		t.Error("the operator's Tracker is not the one its reconcilers were given")
	}
	select {
	case <-op.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("the manager kept running after its runnable failed")
	}
	if err := op.Stop(10 * time.Second); !errors.Is(err, failed) {
		t.Errorf("Stop = %v, want the runnable's error", err)
	}
}
