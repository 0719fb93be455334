package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
)

// The fixture: one namespace, one kubernetes connection whose role binds the
// ClusterRole admin there, a requester and an approver.
const (
	namespace     = "chaos"
	connection    = "chaos-cluster"
	role          = "namespace-admin"
	requester     = "alice"
	approver      = "bob"
	approverGroup = "chaos-approvers"
	// pendingTimeout is short, so that unapproved requests expire in the run.
	pendingTimeout = 8 * time.Second
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(accessv1alpha1.AddToScheme(scheme))
}

// env is the run's control plane and clients. Every client reads from the
// apiserver directly: none has a cache.
type env struct {
	cluster   *localcluster.Cluster
	cfg       *rest.Config
	admin     client.Client
	requester client.Client
	approver  client.Client
	binary    string
	dir       string
}

// start brings up the control plane and builds the operator; the returned
// function stops and removes everything.
func start(ctx context.Context) (e *env, stop func() error, err error) {
	dir, err := os.MkdirTemp("", "elevator-chaos-")
	if err != nil {
		return nil, nil, fmt.Errorf("work directory: %w", err)
	}
	e = &env{dir: dir, binary: filepath.Join(dir, "elevator")}
	step("building the operator and starting the local control plane")
	built := make(chan error, 1)
	go func() { built <- localcluster.BuildOperator(ctx, e.binary) }()
	cluster, err := localcluster.Start(ctx, localcluster.Options{Dir: dir, Users: []localcluster.User{
		{Name: requester},
		{Name: approver, Groups: []string{approverGroup}},
	}})
	if err := errors.Join(err, <-built); err != nil {
		return nil, nil, errors.Join(err, os.RemoveAll(dir))
	}
	e.cluster = cluster
	stop = func() error { return errors.Join(cluster.Stop(), os.RemoveAll(dir)) }
	if err := e.connectClients(); err != nil {
		return nil, nil, errors.Join(err, stop())
	}
	return e, stop, nil
}

func (e *env) connectClients() error {
	e.cfg = rest.CopyConfig(e.cluster.Config)
	e.cfg.QPS, e.cfg.Burst = 1000, 2000
	var err error
	if e.admin, err = client.New(e.cfg, client.Options{Scheme: scheme}); err != nil {
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
	cfg.QPS, cfg.Burst = 1000, 2000
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", kubeconfig, err)
	}
	return c, nil
}

// operatorNamespace is the namespace of the operator's ServiceAccount, where
// config/rbac lets it hold the leader-election Lease.
func (e *env) operatorNamespace() string {
	ns, _, _ := strings.Cut(e.cluster.ServiceAccount, "/")
	return ns
}

// installFixture creates the namespace, the requester's and the approver's
// RBAC (the approver holds the verb approve on the connection) and the
// connection; a replica's webhook must be serving.
func (e *env) installFixture(ctx context.Context) error {
	group := accessv1alpha1.GroupVersion.Group
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "chaos-requester", Namespace: namespace},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{group}, Resources: []string{"elevationrequests"}, Verbs: []string{"create", "get", "list", "watch", "patch"}},
				{APIGroups: []string{group}, Resources: []string{"saasconnections"}, Verbs: []string{"get", "list", "watch"}},
			},
		},
		localcluster.RoleBindingTo(namespace, "chaos-requester", rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: requester}),
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "chaos-approver", Namespace: namespace},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{group}, Resources: []string{"saasconnections"}, ResourceNames: []string{connection, "chaos-" + targetLDAP, "chaos-" + targetPostgres, "chaos-" + targetSCIM}, Verbs: []string{"approve"}},
				{APIGroups: []string{group}, Resources: []string{"elevationrequests"}, Verbs: []string{"get", "list", "watch", "patch"}},
			},
		},
		localcluster.RoleBindingTo(namespace, "chaos-approver", rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: approverGroup}),
		&accessv1alpha1.SaaSConnection{
			ObjectMeta: metav1.ObjectMeta{Name: connection, Namespace: namespace},
			Spec: accessv1alpha1.SaaSConnectionSpec{
				Provider:       accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}},
				MaxDuration:    "1h",
				PendingTimeout: pendingTimeout.String(),
				Roles: []accessv1alpha1.Role{{
					Name: role, MaxDuration: "10m", RequiredApprovals: ptr.To[int32](1),
					Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: "admin", Namespaces: []string{namespace}},
				}},
			},
		},
	}
	for _, obj := range objs {
		if err := e.admin.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return localcluster.WaitConnectionReady(ctx, e.admin, client.ObjectKey{Namespace: namespace, Name: connection})
}
