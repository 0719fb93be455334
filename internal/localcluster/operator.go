package localcluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/elevator-dev/elevator/internal/testenv"
)

// BuildOperator builds the manager binary (./cmd) to out.
func BuildOperator(ctx context.Context, out string) error {
	return BuildOperatorWithTags(ctx, out)
}

// BuildOperatorWithTags builds the manager binary with build tags, e.g.
// "failpoints" for one that can hold at a point of the lifecycle
// (internal/failpoint).
func BuildOperatorWithTags(ctx context.Context, out string, tags ...string) error {
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd")...)
	cmd.Dir = testenv.ModuleRoot()
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s ./cmd: %w\n%s", strings.Join(args, " "), err, output)
	}
	return nil
}

// Operator is the manager binary running as a child process with the
// operator's ServiceAccount identity.
type Operator struct {
	cmd       *exec.Cmd
	done      chan struct{}
	err       error
	probeAddr string
	webhook   string
}

// OperatorOptions configure StartOperator.
type OperatorOptions struct {
	// Binary is the manager binary.
	Binary string
	// Output receives the operator's log.
	Output io.Writer
	// MetricsAddr is --metrics-bind-address; empty disables metrics.
	MetricsAddr string
	// Args are more flags, e.g. --max-duration.
	Args []string
	// Env are more environment variables, NAME=value.
	Env []string
	// WebhookPort, when not 0, is the port this operator serves the webhooks
	// on instead of the one the apiserver calls; a caller running several
	// replicas puts its own forwarder on WebhookAddress.
	WebhookPort int
}

// StartOperator starts the manager against the cluster, as its ServiceAccount,
// serving the webhooks where the apiserver calls them. It runs in its own
// process group, so a Ctrl-C in the terminal reaches the caller, which stops it
// in order.
func (c *Cluster) StartOperator(opts OperatorOptions) (*Operator, error) {
	probe, err := FreeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	metrics := opts.MetricsAddr
	if metrics == "" {
		metrics = "0"
	}
	args := append([]string{
		"--kubeconfig=" + c.OperatorKubeconfig,
		"--health-probe-bind-address=" + probe,
		"--metrics-bind-address=" + metrics,
		"--leader-elect=false",
	}, c.OperatorArgs()...)
	webhook := c.WebhookAddress()
	if opts.WebhookPort != 0 {
		// The last of a repeated flag wins.
		args = append(args, "--webhook-port="+strconv.Itoa(opts.WebhookPort))
		webhook = c.env.WebhookInstallOptions.LocalServingHost + ":" + strconv.Itoa(opts.WebhookPort)
	}
	cmd := exec.Command(opts.Binary, append(args, opts.Args...)...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+c.OperatorKubeconfig), opts.Env...)
	cmd.Stdout, cmd.Stderr = opts.Output, opts.Output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", opts.Binary, err)
	}
	op := &Operator{cmd: cmd, done: make(chan struct{}), probeAddr: probe, webhook: webhook}
	go func() {
		op.err = cmd.Wait()
		close(op.done)
	}()
	return op, nil
}

// Done is closed when the process has exited.
func (o *Operator) Done() <-chan struct{} { return o.done }

// Err is how the process exited; valid once Done is closed.
func (o *Operator) Err() error { return o.err }

// ProbeAddr is where the operator serves /healthz and /readyz.
func (o *Operator) ProbeAddr() string { return o.probeAddr }

// PID is the operator's process id.
func (o *Operator) PID() int { return o.cmd.Process.Pid }

// WaitReady waits until the operator answers its readiness probe and its
// webhook server accepts TLS connections, or fails when it exits first.
func (o *Operator) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if o.ready(ctx) {
			return nil
		}
		select {
		case <-o.done:
			return fmt.Errorf("the operator exited before it was ready: %w", o.err)
		case <-ctx.Done():
			return fmt.Errorf("the operator was not ready within %s", timeout)
		case <-tick.C:
		}
	}
}

func (o *Operator) ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+o.probeAddr+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	dialer := &tls.Dialer{NetDialer: &net.Dialer{Timeout: time.Second}, Config: &tls.Config{
		InsecureSkipVerify: true, //nolint:gosec // only probing that the webhook server listens; the apiserver verifies it
	}}
	conn, err := dialer.DialContext(ctx, "tcp", o.webhook)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// Stop asks the operator to shut down (SIGTERM) and kills it if it has not
// exited within grace.
func (o *Operator) Stop(grace time.Duration) error {
	select {
	case <-o.done:
		return nil
	default:
	}
	if err := o.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal the operator: %w", err)
	}
	select {
	case <-o.done:
		return nil
	case <-time.After(grace):
		return errors.Join(fmt.Errorf("the operator did not stop within %s; killed", grace), o.Kill())
	}
}

// Kill ends the operator at once with SIGKILL, as a crash would, and waits for it.
func (o *Operator) Kill() error {
	if err := o.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill the operator: %w", err)
	}
	<-o.done
	return nil
}

// FreeLoopbackAddr returns a loopback address with a port free at the moment.
func FreeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	// The port must be free again before the operator binds it.
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("free port %s: %w", addr, err)
	}
	return addr, nil
}
