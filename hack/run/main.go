// Command run is `make run` on a machine with no cluster: it starts a local
// control plane, runs the operator there as a child process with its own
// ServiceAccount and its webhooks, applies config/samples, prints the commands
// to try, and on Ctrl-C (SIGINT or SIGTERM) stops the operator and then the
// control plane. Arguments are passed on to the operator.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/elevator-dev/elevator/internal/localcluster"
	"github.com/elevator-dev/elevator/internal/testenv"
)

// The people of the walk-through; config/samples gives them their RBAC.
var users = []localcluster.User{
	{Name: "alice"},
	{Name: "bob", Groups: []string{"payments-approvers"}},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "make run:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, operatorArgs []string) (err error) {
	began := time.Now()
	root := testenv.ModuleRoot()
	bin := filepath.Join(root, "bin")
	binary := filepath.Join(bin, "elevator")

	step("building %s and starting the local control plane (etcd, kube-apiserver)", rel(root, binary))
	built := make(chan error, 1)
	go func() { built <- localcluster.BuildOperator(ctx, binary) }()
	cluster, err := localcluster.Start(ctx, localcluster.Options{Dir: bin, Users: users})
	if err != nil {
		return errors.Join(err, <-built)
	}
	defer func() {
		step("stopping the control plane")
		stopping := time.Now()
		err = errors.Join(err, cluster.Stop())
		step("stopped in %s", time.Since(stopping).Round(100*time.Millisecond))
	}()
	if err := <-built; err != nil {
		return err
	}

	op, metrics, err := startOperator(ctx, cluster, bin, binary, operatorArgs)
	if err != nil {
		return err
	}
	defer func() {
		step("stopping the operator")
		stopping := time.Now()
		err = errors.Join(err, op.Stop(15*time.Second))
		step("stopped in %s", time.Since(stopping).Round(100*time.Millisecond))
	}()
	if err := applySamples(ctx, cluster, root); err != nil {
		return err
	}
	printWalkthrough(root, cluster, metrics, time.Since(began))

	select {
	case <-ctx.Done():
		fmt.Println()
		return nil
	case <-op.Done():
		return fmt.Errorf("the operator exited (%w); see %s", op.Err(), rel(root, filepath.Join(bin, "elevator.log")))
	}
}

// startOperator runs the operator with its log in bin/elevator.log and waits
// until it is ready.
func startOperator(ctx context.Context, c *localcluster.Cluster, bin, binary string, args []string) (*localcluster.Operator, string, error) {
	logFile, err := os.Create(filepath.Join(bin, "elevator.log"))
	if err != nil {
		return nil, "", fmt.Errorf("create the operator's log: %w", err)
	}
	metrics, err := localcluster.FreeLoopbackAddr()
	if err != nil {
		return nil, "", err
	}
	step("starting the operator as ServiceAccount %s, webhooks on https://%s", c.ServiceAccount, c.WebhookAddress())
	op, err := c.StartOperator(localcluster.OperatorOptions{Binary: binary, Output: logFile, MetricsAddr: metrics, Args: args})
	if err != nil {
		return nil, "", err
	}
	if err := op.WaitReady(ctx, 2*time.Minute); err != nil {
		return nil, "", errors.Join(err, op.Stop(5*time.Second))
	}
	return op, metrics, nil
}

// applySamples applies config/samples as the admin and waits for the sample
// connection to be Ready.
func applySamples(ctx context.Context, c *localcluster.Cluster, root string) error {
	step("applying config/samples: the prod-cluster connection and the RBAC of alice (requester) and bob (approver)")
	if err := kubectl(ctx, c, "apply", "-k", filepath.Join(root, "config", "samples")); err != nil {
		return err
	}
	return kubectl(ctx, c, "wait", "--for=condition=Ready", "--timeout=60s", "-n", "payments", "saasconnection/prod-cluster")
}

func kubectl(ctx context.Context, c *localcluster.Cluster, args ...string) error {
	cmd := exec.CommandContext(ctx, c.Kubectl(), append([]string{"--kubeconfig", c.AdminKubeconfig}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl %v: %w", args, err)
	}
	return nil
}

func step(format string, args ...any) { fmt.Printf(">> "+format+"\n", args...) }

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil {
		return r
	}
	return path
}

func printWalkthrough(root string, c *localcluster.Cluster, metrics string, took time.Duration) {
	kubectlDir := filepath.Dir(c.Kubectl())
	fmt.Printf(`
Elevator is running on a local control plane (ready in %s).
In another terminal, from %s:

  export PATH=%s:%s:$PATH KUBECONFIG=%s

  # alice reads payments for 10 minutes: the viewer role needs no approval
  kubectl elevate request prod-cluster/viewer --for 10m --reason "INC-4711: look at the billing pods" -n payments --as alice --wait
  kubectl auth can-i list pods -n payments --as alice

  # alice asks for namespace-admin in payments for 2 minutes
  kubectl elevate request prod-cluster/namespace-admin --for 2m --reason "INC-4711: roll back the billing config" --ticket INC-4711 -n payments --as alice
  kubectl get elevations -n payments -w          # leave this running in a third terminal

  # alice cannot approve her own request; bob, in the group payments-approvers, can
  kubectl elevate ls --to-approve -n payments --as bob --as-group payments-approvers
  kubectl elevate approve NAME -n payments --as alice
  kubectl elevate approve NAME -n payments --as bob --as-group payments-approvers --comment "INC-4711 confirmed"

  # alice is admin of payments now: what she does is recorded on the request
  kubectl --as alice -n payments create configmap billing-rollback --from-literal=version=41
  kubectl --as alice -n payments create rolebinding alice-keeps-admin --clusterrole=admin --user=alice

  # the timeline, how the removal was verified, the activity, once the 2 minutes are over
  kubectl elevate status NAME -n payments
  kubectl describe elevationrequest NAME -n payments

Users alice and bob also have kubeconfigs of their own: %s, %s.
Operator log: %s   metrics: http://%s/metrics
The apiserver posts its audit events to the operator's receiver on https://%s (docs/activity.md).
Ctrl-C stops the operator and the control plane.
`, took.Round(100*time.Millisecond), root, filepath.Join(root, "bin"), kubectlDir, c.AdminKubeconfig,
		rel(root, c.UserKubeconfigs["alice"]), rel(root, c.UserKubeconfigs["bob"]),
		rel(root, filepath.Join(root, "bin", "elevator.log")), metrics, c.Audit.Address)
}
