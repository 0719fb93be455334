// Package localcluster starts a local Kubernetes control plane (the kube-apiserver
// and etcd that hack/build-controlplane.sh builds, run by controller-runtime's
// envtest) set up for the Elevator operator as a real cluster would be: the CRDs,
// the webhook configurations pointing at a locally served webhook with a
// generated certificate, and the operator's own ServiceAccount bound by the RBAC
// in config/rbac, with a token from the TokenRequest API. The apiserver runs
// with the audit policy of config/audit and posts its audit events to the
// operator's audit receiver (OperatorArgs turns it on). `make run`, `make
// bench` and the end-to-end suite all use it, so what a newcomer sees is what
// the suite tests.
package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/elevator-dev/elevator/internal/testenv"
)

// User is a person of the local cluster: a client-certificate user with a
// kubeconfig of its own.
type User struct {
	Name   string
	Groups []string
}

// Options configure Start.
type Options struct {
	// Dir receives the kubeconfigs: kubeconfig (the admin), kubeconfig-<user>
	// for each user and elevator-operator.kubeconfig (the operator's
	// ServiceAccount). It must exist.
	Dir string
	// Users get a kubeconfig each.
	Users []User
}

// Cluster is a running local control plane.
type Cluster struct {
	env *envtest.Environment
	// Config is the admin's REST config (group system:masters).
	Config *rest.Config
	// AdminKubeconfig is the path of the admin's kubeconfig.
	AdminKubeconfig string
	// OperatorKubeconfig is the path of the kubeconfig with the operator's
	// ServiceAccount token.
	OperatorKubeconfig string
	// UserKubeconfigs maps each user's name to the path of its kubeconfig.
	UserKubeconfigs map[string]string
	// ServiceAccount is the operator's, as namespace/name.
	ServiceAccount string
	// Audit is where the apiserver posts its audit events: the operator's
	// audit receiver, which OperatorArgs turns on.
	Audit   *AuditReceiver
	written []string
}

// Start starts the control plane and sets it up for the operator. On error,
// whatever was started is stopped again.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if err := RequireBinaries(); err != nil {
		return nil, err
	}
	env := testenv.Environment()
	env.WebhookInstallOptions = envtest.WebhookInstallOptions{
		Paths:            []string{testenv.WebhookDir()},
		LocalServingHost: "127.0.0.1",
	}
	audit, err := prepareAudit(env)
	if err != nil {
		return nil, err
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start the local control plane: %w", err), env.Stop(), audit.remove())
	}
	c = &Cluster{env: env, Config: cfg, UserKubeconfigs: map[string]string{}, Audit: audit}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()
	if err := c.writeKubeconfigs(opts); err != nil {
		return nil, err
	}
	admin, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	if err := AggregateClusterRoles(ctx, admin); err != nil {
		return nil, err
	}
	if err := c.installOperatorIdentity(ctx, admin, opts.Dir); err != nil {
		return nil, err
	}
	return c, nil
}

// RequireBinaries fails, naming the make target that builds them, when the
// control-plane binaries are missing.
func RequireBinaries() error {
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		path := filepath.Join(testenv.AssetsDir(), bin)
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("control-plane binary %s is missing (%w): run `make controlplane` (part of `make test` and `make run`) to build it", path, err)
		}
	}
	return nil
}

// Stop stops the control plane and removes the kubeconfigs it wrote (they hold
// credentials for a server that no longer exists).
func (c *Cluster) Stop() error {
	errs := []error{c.env.Stop(), c.Audit.remove()}
	for _, path := range c.written {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", path, err))
		}
	}
	return errors.Join(errs...)
}

// Kubectl is the path of the kubectl binary built with the control plane.
func (c *Cluster) Kubectl() string { return testenv.Kubectl() }

// WebhookAddress is the host:port the apiserver calls the webhooks on.
func (c *Cluster) WebhookAddress() string {
	o := c.env.WebhookInstallOptions
	return o.LocalServingHost + ":" + strconv.Itoa(o.LocalServingPort)
}

// OperatorArgs are the manager flags that make it serve the webhooks where the
// apiserver calls them, with the locally generated certificate, and the audit
// receiver where the apiserver posts its audit events.
func (c *Cluster) OperatorArgs() []string {
	o := c.env.WebhookInstallOptions
	return append([]string{
		"--webhook-host=" + o.LocalServingHost,
		"--webhook-port=" + strconv.Itoa(o.LocalServingPort),
		"--webhook-cert-path=" + o.LocalServingCertDir,
	}, c.Audit.OperatorArgs()...)
}

// writeKubeconfigs writes the admin's and each user's kubeconfig.
func (c *Cluster) writeKubeconfigs(opts Options) error {
	c.AdminKubeconfig = filepath.Join(opts.Dir, "kubeconfig")
	if err := c.writeFile(c.AdminKubeconfig, c.env.KubeConfig); err != nil {
		return err
	}
	for _, u := range opts.Users {
		au, err := c.env.AddUser(envtest.User{Name: u.Name, Groups: u.Groups}, nil)
		if err != nil {
			return fmt.Errorf("add user %s: %w", u.Name, err)
		}
		data, err := au.KubeConfig()
		if err != nil {
			return fmt.Errorf("kubeconfig of user %s: %w", u.Name, err)
		}
		path := filepath.Join(opts.Dir, "kubeconfig-"+u.Name)
		if err := c.writeFile(path, data); err != nil {
			return err
		}
		c.UserKubeconfigs[u.Name] = path
	}
	return nil
}

// writeFile writes a file only its owner may read, and remembers it for Stop.
func (c *Cluster) writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	c.written = append(c.written, path)
	return nil
}
