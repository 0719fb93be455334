package testenv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/elevator-dev/elevator/internal/metrics"
)

// InProcessOptions configure StartInProcess.
type InProcessOptions struct {
	// Scheme holds the API types the manager's clients read and write.
	Scheme *runtime.Scheme
	// Namespace, when set, is the only namespace the manager's cache watches,
	// so that the operators of parallel specs never touch each other's objects.
	Namespace string
	// Setup registers the operator's reconcilers with mgr, reporting to
	// tracker: controller.Setup with the suite's options. It is given here
	// rather than called, because the controller package's own suite uses
	// this package and may not be imported by it.
	Setup func(mgr ctrl.Manager, tracker *metrics.Tracker) error
}

// InProcessOperator is the operator's reconcilers running in the test's own
// process, in a manager of their own, against the test's apiserver. Tests stop
// one and start another to play an operator crash. test/e2e runs the built
// binary instead (localcluster.Operator).
type InProcessOperator struct {
	// Tracker is the metrics tracker the reconcilers report to.
	Tracker *metrics.Tracker
	cancel  context.CancelFunc
	done    chan struct{}
	// err is what the manager's Start returned; read only after done is closed.
	err error
}

// StartInProcess builds a manager for cfg with metrics serving off, registers
// the reconcilers with opts.Setup and starts the manager in the background.
func StartInProcess(cfg *rest.Config, opts InProcessOptions) (*InProcessOperator, error) {
	mgrOpts := ctrl.Options{
		Scheme:  opts.Scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		// Every operator a suite starts registers controllers of the same names.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	}
	if opts.Namespace != "" {
		mgrOpts.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{opts.Namespace: {}}}
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	op := &InProcessOperator{Tracker: metrics.NewTracker(), done: make(chan struct{})}
	if err := opts.Setup(mgr, op.Tracker); err != nil {
		return nil, fmt.Errorf("set up the reconcilers: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	op.cancel = cancel
	go func() {
		defer close(op.done)
		op.err = mgr.Start(ctx)
	}()
	return op, nil
}

// Exited is closed once the manager has stopped, on Stop or on its own (a
// runnable that failed).
func (o *InProcessOperator) Exited() <-chan struct{} { return o.done }

// Stop stops the manager and waits up to timeout until it has. It returns the
// error the manager stopped with, or one saying it did not stop in time.
func (o *InProcessOperator) Stop(timeout time.Duration) error {
	o.cancel()
	select {
	case <-o.done:
	case <-time.After(timeout):
		return errors.New("the operator's manager did not stop within " + timeout.String())
	}
	if o.err != nil {
		return fmt.Errorf("the operator's manager: %w", o.err)
	}
	return nil
}
