package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

const faultAPIServer = "kube-apiserver restart"

// apiserver is the run's kube-apiserver, found by its secure port.
type apiserver struct{ restartable }

func newAPIServer(e *env) (*apiserver, error) {
	u, err := url.Parse(e.cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("the apiserver's URL: %w", err)
	}
	return &apiserver{restartable{binary: "kube-apiserver", flag: "--secure-port=" + u.Port()}}, nil
}

// restartFor stops the apiserver (SIGTERM), waits down, and starts it again
// with the same command line, then waits until it serves requests.
func (a *apiserver) restartFor(ctx context.Context, e *env, down time.Duration, logPath string) error {
	args, err := a.terminate(ctx)
	if err != nil {
		return err
	}
	sleep(ctx, down)
	if err := a.relaunch(args, logPath); err != nil {
		return err
	}
	return a.waitServing(ctx, e)
}

// waitServing waits up to a minute until the apiserver answers a list (a
// read it must take to etcd), failing early if the process this program
// started again exits.
func (a *apiserver) waitServing(ctx context.Context, e *env) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		// A short timeout per attempt: one call to a starting apiserver can
		// hang long after it serves.
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		var list accessv1alpha1.SaaSConnectionList
		err := e.admin.List(attempt, &list)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-a.done: // nil, never ready, unless this program started it again
			return errors.New("kube-apiserver exited after its restart: see its log in the log directory")
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("kube-apiserver did not serve within a minute")
}

// apiBatch is how many requests expire while the kube-apiserver is down.
const apiBatch = 4

// apiserverRestart grants a batch on the cluster, stops the kube-apiserver
// 3 s before it expires, starts it again after down, and measures restore →
// the checker's first read of each request Revoked and verified. The
// replicas lose their watches and the leader its lease (it exits and is
// started again); the invariants hold them to the bound from the restore on.
func (f *faults) apiserverRestart(ctx context.Context, a *apiserver, down time.Duration, logPath string) {
	names, expires, err := f.clusterBatch(ctx, scenarioAPIServer, apiBatch)
	if err != nil {
		f.fail(fmt.Errorf("apiserver restart: %w", err))
		return
	}
	step("apiserver restart: stop kube-apiserver for %s, %s before %d requests expire at %s", down, outageLead, len(names), expires.Format("15:04:05"))
	f.c.setControlPlaneUp(false)
	f.count(faultAPIServer)
	err = a.restartFor(ctx, f.w.e, down, logPath)
	f.c.setControlPlaneUp(true)
	if err != nil {
		f.fail(fmt.Errorf("apiserver restart: %w", err))
		return
	}
	upAt := time.Now()
	step("apiserver restart: kube-apiserver serves again")
	lags := f.collectRestoreLags(ctx, "kube-apiserver", names, upAt)
	f.mu.Lock()
	f.apiLags = append(f.apiLags, lags...)
	f.mu.Unlock()
}

// clusterBatch grants n requests on the cluster together for 15 s, waits
// until they are Active and then until outageLead before they expire, and
// returns them and their expiry.
func (f *faults) clusterBatch(ctx context.Context, scenario string, n int) ([]string, time.Time, error) {
	f.waitBothUp(ctx)
	var names []string
	for i := range n {
		names = append(names, f.w.launch(ctx, scenario, targetKubernetes, fmt.Sprintf("dev-%d", subjects-1-i), 15*time.Second))
	}
	expires, err := f.waitAllActive(ctx, names)
	if err != nil {
		return nil, time.Time{}, err
	}
	sleep(ctx, time.Until(expires.Add(-outageLead)))
	return names, expires, nil
}
