package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const faultEtcd = "etcd restart"

// etcdDown is how long etcd stays stopped: longer than the renew deadline, so
// the leader loses its lease, as with the kube-apiserver restart.
const etcdDown = 10 * time.Second

// etcdBatch is how many requests expire while etcd is down.
const etcdBatch = 4

// etcd is the run's etcd, found by the client URL the kube-apiserver stores
// to (its --etcd-servers). Started again with the same command line it keeps
// its data directory (--data-dir) and its client and peer URLs, so the
// apiserver finds it where it was, with everything it held.
type etcd struct {
	restartable
	clientURL string
}

// newEtcd reads the client URL from the apiserver's command line; envtest
// starts etcd with the same URL as --listen-client-urls.
func newEtcd(api *apiserver) (*etcd, error) {
	_, args, err := api.find()
	if err != nil {
		return nil, err
	}
	servers := flagValue(args, "etcd-servers")
	if servers == "" {
		return nil, errors.New("the kube-apiserver has no --etcd-servers")
	}
	first, _, _ := strings.Cut(servers, ",")
	return &etcd{restartable: restartable{binary: "etcd", flag: "--listen-client-urls=" + first}, clientURL: first}, nil
}

// etcdTimes are the moments of one etcd restart.
type etcdTimes struct {
	// signalled is the SIGTERM: etcd serves nothing new from then, though it
	// takes seconds to exit while the apiserver's watch streams drain.
	signalled time.Time
	exited    time.Time
	healthy   time.Time // the restarted etcd answered /health
	serving   time.Time // the kube-apiserver answered a list again
}

// restartFor stops etcd (SIGTERM), starts it again down after the signal (at
// once if it took longer to exit) with the same command line and data
// directory, and waits until it is healthy and then until the
// kube-apiserver, which ran all along, serves again.
func (d *etcd) restartFor(ctx context.Context, api *apiserver, e *env, down time.Duration, logPath string) (etcdTimes, error) {
	at := etcdTimes{signalled: time.Now()}
	args, err := d.terminate(ctx)
	if err != nil {
		return at, err
	}
	at.exited = time.Now()
	sleep(ctx, time.Until(at.signalled.Add(down)))
	if err := d.relaunch(args, logPath); err != nil {
		return at, err
	}
	if err := d.waitHealthy(ctx); err != nil {
		return at, err
	}
	at.healthy = time.Now()
	if err := api.waitServing(ctx, e); err != nil {
		return at, fmt.Errorf("after etcd's restart: %w", err)
	}
	at.serving = time.Now()
	return at, nil
}

// waitHealthy waits up to a minute for etcd's /health to answer 200.
func (d *etcd) waitHealthy(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if d.healthy(ctx) {
			return nil
		}
		select {
		case <-d.done:
			return errors.New("etcd exited after its restart: see its log in the log directory")
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("etcd was not healthy within a minute of its restart")
}

func (d *etcd) healthy(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.clientURL+"/health", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close() // the status is the answer
	return resp.StatusCode == http.StatusOK
}

// etcdResult is what one etcd restart measured.
type etcdResult struct {
	at etcdTimes
	// lags are the apiserver serving again → the checker's first read of
	// each request of the batch Revoked and verified.
	lags []time.Duration
}

// etcdRestart grants a batch on the cluster, stops etcd 3 s before it
// expires, starts it again after down, and measures etcd stopped → the
// apiserver serving again and that → the checker's first read of each
// request Revoked and verified. The apiserver runs throughout but can serve
// nothing that needs storage: the leader cannot renew its lease and exits,
// as with the apiserver restart; the invariants count from the apiserver
// serving again.
func (f *faults) etcdRestart(ctx context.Context, d *etcd, api *apiserver, down time.Duration, logPath string) {
	names, expires, err := f.clusterBatch(ctx, scenarioEtcd, etcdBatch)
	if err != nil {
		f.fail(fmt.Errorf("etcd restart: %w", err))
		return
	}
	step("etcd restart: stop etcd for %s, %s before %d requests expire at %s", down, outageLead, len(names), expires.Format("15:04:05"))
	f.c.setControlPlaneUp(false)
	f.count(faultEtcd)
	at, err := d.restartFor(ctx, api, f.w.e, down, logPath)
	f.c.setControlPlaneUp(true)
	if err != nil {
		f.fail(fmt.Errorf("etcd restart: %w", err))
		return
	}
	step("etcd restart: etcd exited %s after SIGTERM, healthy again after %s, the kube-apiserver serves again %s after that",
		at.exited.Sub(at.signalled).Round(100*time.Millisecond), at.healthy.Sub(at.signalled).Round(100*time.Millisecond),
		at.serving.Sub(at.healthy).Round(100*time.Millisecond))
	res := etcdResult{at: at, lags: f.collectRestoreLags(ctx, "etcd", names, at.serving)}
	f.mu.Lock()
	f.etcds = append(f.etcds, res)
	f.mu.Unlock()
}

// shutdownAfter stops the kube-apiserver first if it still runs as envtest
// started it (it was not restarted), while etcd still serves: without etcd
// it does not stop within envtest's timeout. Then it ends the etcd this
// program started again.
func (d *etcd) shutdownAfter(ctx context.Context, api *apiserver) error {
	if d.cmd == nil {
		return nil
	}
	var err error
	if _, _, findErr := api.find(); findErr == nil {
		_, err = api.terminate(ctx)
	}
	return errors.Join(err, d.shutdown())
}
