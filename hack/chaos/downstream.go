package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/localcluster"
)

// The targets a lifecycle may elevate into: the cluster itself and the three
// shared-entitlement servers, each behind a SaaSConnection of its own.
const (
	targetKubernetes = "kubernetes"
	targetLDAP       = "ldap"
	targetPostgres   = "postgres"
	targetSCIM       = "scim"
)

// downstreamRole is the role name every downstream connection offers.
const downstreamRole = "elevated"

// errNoOtherPath: the server has no second way to hold the role (a SCIM group
// in scimmy holds users only), so the re-add scenario does not apply to it.
var errNoOtherPath = errors.New("no other path to the role on this server")

// server is one real downstream server of the run and the harness's own
// access to it, which shares no code with the provider under test.
type server interface {
	// kind is the target name, e.g. targetLDAP.
	kind() string
	// providerSpec is the connection's spec.provider, with the credentials in
	// the Secret named secret; role is the connection's role.
	providerSpec(secret string) accessv1alpha1.ProviderSpec
	role() accessv1alpha1.Role
	credentials() map[string][]byte
	// members reads the role's direct members fresh from the server, by
	// subject name (the workload's subjects only).
	members(ctx context.Context) (map[string]bool, error)
	// down stops the server; up starts it again on the same address with the
	// same data.
	down() error
	up(ctx context.Context) error
	// addOtherPath gives subject the role by another path than the direct
	// membership Elevator grants (a nested group, a role holding the role),
	// as someone else with access to the server's files would while it is
	// down, and returns that path's name; errNoOtherPath if there is none.
	addOtherPath(ctx context.Context, subject string) (string, error)
	// removeOtherPath undoes addOtherPath, with the server up.
	removeOtherPath(ctx context.Context, path string) error
	close() error
}

// downstream is a server with its reachability as the checker sees it.
type downstream struct {
	server
	mu      sync.Mutex
	isUp    bool
	upSince time.Time
	// afterRestore is how long past upSince access that had to end while the
	// server was unreachable may last: restoreBound after an outage,
	// hangRestoreBound after a hang.
	afterRestore time.Duration
	// reading says a read of its members is in flight: a hung server holds
	// one until the read times out, and it is not read again meanwhile.
	reading bool
}

func (d *downstream) connection() string { return "chaos-" + d.kind() }

// reachable says whether the server is up, since when, and how long past
// that access that had to end while it was not may last.
func (d *downstream) reachable() (bool, time.Time, time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.isUp, d.upSince, d.afterRestore
}

func (d *downstream) setUp(up bool) { d.setUpWithin(up, restoreBound) }

func (d *downstream) setUpWithin(up bool, afterRestore time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.isUp = up
	if up {
		d.upSince, d.afterRestore = time.Now(), afterRestore
	}
}

// startRead marks a read of the members in flight; false if one already is.
func (d *downstream) startRead() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reading {
		return false
	}
	d.reading = true
	return true
}

func (d *downstream) endRead() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reading = false
}

// stopServer and startServer take the server down and bring it back,
// recording when.
func (d *downstream) stopServer() error {
	d.setUp(false)
	if err := d.down(); err != nil {
		return fmt.Errorf("stop the %s server: %w", d.kind(), err)
	}
	return nil
}

func (d *downstream) startServer(ctx context.Context) error {
	if err := d.up(ctx); err != nil {
		return fmt.Errorf("start the %s server again: %w", d.kind(), err)
	}
	d.setUp(true)
	return nil
}

// workloadSubjects are the people the random workload elevates; outageSubjects
// those of the outage batches, kept apart so that no request of the random
// workload holds (and so retains) a batch's membership.
func workloadSubjects() []string {
	out := make([]string, 0, subjects+outageBatch+1)
	for i := range subjects {
		out = append(out, fmt.Sprintf("dev-%d", i))
	}
	return append(out, outageSubjects()...)
}

func outageSubjects() []string {
	out := make([]string, 0, outageBatch+1)
	for i := range outageBatch + 1 {
		out = append(out, fmt.Sprintf("ops-%d", i))
	}
	return out
}

// startServers starts slapd, PostgreSQL and the SCIM server in dir, each
// seeded with the workload's subjects and the role's group.
func startServers(ctx context.Context, dir string) (map[string]*downstream, error) {
	out := map[string]*downstream{}
	starts := []func(context.Context, string) (server, error){startLDAP, startPostgres, startSCIM}
	for _, start := range starts {
		srv, err := start(ctx, dir)
		if err != nil {
			return out, err
		}
		out[srv.kind()] = &downstream{server: srv, isUp: true, upSince: time.Now(), afterRestore: restoreBound}
	}
	return out, nil
}

func closeServers(servers map[string]*downstream) error {
	var errs []error
	for _, d := range servers {
		errs = append(errs, d.close())
	}
	return errors.Join(errs...)
}

// installDownstream creates each server's credentials Secret and connection
// and waits until the connection is Ready.
func (e *env) installDownstream(ctx context.Context, servers map[string]*downstream) error {
	for _, d := range servers {
		secret := d.connection() + "-credentials"
		role := d.role()
		role.MaxDuration, role.RequiredApprovals = "10m", ptr.To[int32](1)
		objs := []client.Object{
			&corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: secret, Namespace: namespace, Labels: map[string]string{accessv1alpha1.LabelCredentials: "true"}},
				Data:       d.credentials(),
			},
			&accessv1alpha1.SaaSConnection{
				ObjectMeta: metav1.ObjectMeta{Name: d.connection(), Namespace: namespace},
				Spec: accessv1alpha1.SaaSConnectionSpec{
					Provider: d.providerSpec(secret), MaxDuration: "1h", PendingTimeout: pendingTimeout.String(),
					Roles: []accessv1alpha1.Role{role},
				},
			},
		}
		for _, obj := range objs {
			if err := e.admin.Create(ctx, obj); err != nil {
				return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
			}
		}
		if err := localcluster.WaitConnectionReady(ctx, e.admin, client.ObjectKey{Namespace: namespace, Name: d.connection()}); err != nil {
			return fmt.Errorf("connection %s: %w", d.connection(), err)
		}
	}
	return nil
}
