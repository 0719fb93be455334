package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/localcluster"
	"github.com/elevator-dev/elevator/internal/testenv"
)

// The fixture every run uses: one namespace, one kubernetes connection with one
// role that needs one approval (-targets K: K connections, see targets.go), a
// requester and an approver.
const (
	namespace     = "bench"
	connection    = "bench-cluster"
	role          = "namespace-admin"
	requester     = "alice"
	approver      = "bob"
	approverGroup = "bench-approvers"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(accessv1alpha1.AddToScheme(scheme))
}

// env is one run's control plane, operator and clients.
type env struct {
	cluster   *localcluster.Cluster
	operator  *localcluster.Operator
	metrics   string
	admin     client.Client
	requester client.Client
	approver  client.Client
	adminCfg  *rest.Config
	// sink receives the connection's notifications when -sink is set.
	sink *benchSink
	// binary and logDir are kept to restart the operator (-pattern backlog).
	binary, logDir string
	// targets is -targets: how many connections the fixture has.
	targets int
}

// start brings up the control plane and the operator, and installs the fixture.
// The returned stop function tears everything down in order.
func start(ctx context.Context, cfg config, n int) (e *env, stop func() error, err error) {
	root := testenv.ModuleRoot()
	dir, err := os.MkdirTemp("", "elevator-bench-")
	if err != nil {
		return nil, nil, fmt.Errorf("work directory: %w", err)
	}
	stops := []func() error{func() error { return os.RemoveAll(dir) }}
	// stopAll, not the named result stop: an error return sets stop to nil
	// before the deferred clean-up runs.
	stopAll := func() error {
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i]())
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, stopAll())
		}
	}()

	binary := filepath.Join(dir, "elevator")
	step("N=%d: building the operator and starting the local control plane", n)
	built := make(chan error, 1)
	go func() { built <- localcluster.BuildOperator(ctx, binary) }()
	cluster, err := localcluster.Start(ctx, localcluster.Options{Dir: dir, Users: []localcluster.User{
		{Name: requester},
		{Name: approver, Groups: []string{approverGroup}},
	}})
	if err := errors.Join(err, <-built); err != nil {
		return nil, nil, err
	}
	stops = append(stops, cluster.Stop)

	e = &env{cluster: cluster, adminCfg: fastConfig(cluster.Config), targets: cfg.targets}
	if err := e.connectClients(); err != nil {
		return nil, nil, err
	}
	e.binary, e.logDir = binary, cfg.logDir
	if !filepath.IsAbs(e.logDir) {
		// Relative to the module root, like the default bin/bench; an
		// absolute -log-dir such as /tmp/bench is taken as it is.
		e.logDir = filepath.Join(root, cfg.logDir)
	}
	if err := e.startOperator(ctx, cfg, fmt.Sprintf("elevator-n%d.log", n)); err != nil {
		return nil, nil, err
	}
	stops = append(stops, func() error { return e.operator.Stop(30 * time.Second) })
	if cfg.sink != sinkNone {
		if e.sink, err = startSink(ctx, cfg.sink); err != nil {
			return nil, nil, err
		}
		stops = append(stops, e.sink.close)
	}
	// After the operator: its webhook admits the connection.
	if err := e.installFixture(ctx); err != nil {
		return nil, nil, err
	}
	for _, name := range connectionNames(e.targets) {
		if err := localcluster.WaitConnectionReady(ctx, e.admin, client.ObjectKey{Namespace: namespace, Name: name}); err != nil {
			return nil, nil, err
		}
	}
	return e, stopAll, nil
}

// fastConfig lifts client-side rate limits, so the bench never throttles itself.
func fastConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = 5000, 10000
	return c
}

func (e *env) connectClients() error {
	var err error
	if e.admin, err = client.New(e.adminCfg, client.Options{Scheme: scheme}); err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	if e.requester, err = userClient(e.cluster.UserKubeconfigs[requester]); err != nil {
		return err
	}
	e.approver, err = userClient(e.cluster.UserKubeconfigs[approver])
	return err
}

func userClient(kubeconfig string) (client.Client, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", kubeconfig, err)
	}
	c, err := client.New(fastConfig(cfg), client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", kubeconfig, err)
	}
	return c, nil
}

func (e *env) startOperator(ctx context.Context, cfg config, logName string) error {
	if err := os.MkdirAll(e.logDir, 0o750); err != nil { //nolint:gosec // the bench's own -log-dir flag
		return fmt.Errorf("create %s: %w", e.logDir, err)
	}
	logPath := filepath.Join(e.logDir, logName)
	logFile, err := os.Create(logPath) //nolint:gosec // under the bench's own -log-dir flag
	if err != nil {
		return fmt.Errorf("create the operator's log: %w", err)
	}
	if e.metrics, err = localcluster.FreeLoopbackAddr(); err != nil {
		return err
	}
	step("starting the operator as ServiceAccount %s (log %s, flags %v, env %v)", e.cluster.ServiceAccount, logPath, cfg.operatorArgs, cfg.operatorEnv)
	op, err := e.cluster.StartOperator(localcluster.OperatorOptions{Binary: e.binary, Output: logFile, MetricsAddr: e.metrics, Args: cfg.operatorArgs, Env: cfg.operatorEnv})
	if err != nil {
		return errors.Join(err, logFile.Close())
	}
	e.operator = op
	if err := op.WaitReady(ctx, 2*time.Minute); err != nil {
		return errors.Join(err, op.Stop(5*time.Second))
	}
	return nil
}

// installFixture creates the namespaces, the RBAC of the requester and the
// approver (the approver holds the custom verb approve on the connections, as
// config/samples/approver_rbac.yaml shows) and the connections.
func (e *env) installFixture(ctx context.Context) error {
	var objs []client.Object
	for _, ns := range targetNamespaces(e.targets) {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	if e.sink != nil {
		objs = append(objs, sinkSecretObject(e.sink.url))
	}
	objs = append(objs,
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "bench-requester", Namespace: namespace},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{accessv1alpha1.GroupVersion.Group}, Resources: []string{"elevationrequests"}, Verbs: []string{"create", "get", "list", "watch", "patch"}},
				{APIGroups: []string{accessv1alpha1.GroupVersion.Group}, Resources: []string{"saasconnections"}, Verbs: []string{"get", "list", "watch"}}},
		},
		localcluster.RoleBindingTo(namespace, "bench-requester", rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: requester}),
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "bench-approver", Namespace: namespace},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{accessv1alpha1.GroupVersion.Group}, Resources: []string{"saasconnections"}, ResourceNames: connectionNames(e.targets), Verbs: []string{"approve"}},
				{APIGroups: []string{accessv1alpha1.GroupVersion.Group}, Resources: []string{"elevationrequests"}, Verbs: []string{"get", "list", "watch", "patch"}}},
		},
		localcluster.RoleBindingTo(namespace, "bench-approver", rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: approverGroup}),
	)
	for i := range e.targets {
		conn := connectionObject(i)
		if i == 0 && e.sink != nil {
			conn.Spec.Notifications = sinkSpec()
		}
		objs = append(objs, conn)
	}
	for _, obj := range objs {
		if err := e.admin.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

// connectionObject is the i-th connection of the fixture: the role
// namespace-admin, the ClusterRole admin in the connection's own target
// namespace, needing one approval.
func connectionObject(i int) *accessv1alpha1.SaaSConnection {
	return &accessv1alpha1.SaaSConnection{
		ObjectMeta: metav1.ObjectMeta{Name: connectionName(i), Namespace: namespace},
		Spec: accessv1alpha1.SaaSConnectionSpec{
			Provider:       accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}},
			MaxDuration:    "4h",
			PendingTimeout: "24h",
			Roles: []accessv1alpha1.Role{{
				Name: role, MaxDuration: "1h", RequiredApprovals: ptr.To[int32](1),
				Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: "admin", Namespaces: []string{targetNamespace(i)}},
			}},
		},
	}
}
