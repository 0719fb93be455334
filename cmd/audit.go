package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/elevator-dev/elevator/internal/activity/kubeaudit"
	"github.com/elevator-dev/elevator/internal/activity/leaderlabel"
	"github.com/elevator-dev/elevator/internal/provider/kubernetes"
)

// auditOptions are the flags of the kube-apiserver audit receiver, the
// kubernetes provider's activity source.
type auditOptions struct {
	bindAddress  string
	certPath     string
	tokenFile    string
	clientCAFile string
	bufferEvents int
	delay        time.Duration
}

func (a *auditOptions) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&a.bindAddress, "audit-receiver-bind-address", "",
		"host:port to serve the kube-apiserver's audit webhook on (HTTPS), the activity source of kubernetes connections; empty serves none and their activity is Unavailable.")
	fs.StringVar(&a.certPath, "audit-receiver-cert-path", "",
		"Directory with the audit receiver's serving certificate (tls.crt, tls.key); empty means the webhook server's (--webhook-cert-path).")
	fs.StringVar(&a.tokenFile, "audit-receiver-token-file", "",
		"File with the bearer token the kube-apiserver's audit webhook kubeconfig sends.")
	fs.StringVar(&a.clientCAFile, "audit-receiver-client-ca-file", "",
		"File with the CA certificates that sign the kube-apiserver's audit webhook client certificate. At least one of this and --audit-receiver-token-file is required.")
	fs.IntVar(&a.bufferEvents, "audit-buffer-events", kubeaudit.DefaultCapacity,
		"Most completed audit events the receiver keeps in memory; the oldest are dropped beyond it, and a request whose actions were dropped gets a Partial activity record.")
	fs.DurationVar(&a.delay, "audit-delivery-delay", kubernetes.DefaultActivityDelay,
		"How long after a request the kube-apiserver may still post its audit event: its --audit-webhook-batch-max-wait plus a margin.")
}

func (a *auditOptions) validate() error {
	if a.bindAddress == "" {
		return nil
	}
	if a.tokenFile == "" && a.clientCAFile == "" {
		return fmt.Errorf("--audit-receiver-bind-address needs --audit-receiver-token-file or --audit-receiver-client-ca-file")
	}
	if a.bufferEvents <= 0 || a.delay <= 0 {
		return fmt.Errorf("--audit-buffer-events and --audit-delivery-delay must be positive, got %d and %s", a.bufferEvents, a.delay)
	}
	return nil
}

// setupAuditReceiver adds the audit receiver to the manager when it is on,
// and returns its store (nil when it is off): the kubernetes provider reads
// it, and its Wakeups say whose activity to read now.
func setupAuditReceiver(mgr ctrl.Manager, o options) (*kubeaudit.Store, error) {
	a := o.audit
	if a.bindAddress == "" {
		return nil, nil
	}
	certDir := a.certPath
	if certDir == "" {
		certDir = o.webhookCertPath
	}
	if certDir == "" {
		// The webhook server's own default.
		certDir = filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs")
	}
	store := kubeaudit.NewStore(a.bufferEvents, nil)
	receiver, err := kubeaudit.NewReceiver(store, kubeaudit.ReceiverOptions{
		BindAddress:  a.bindAddress,
		CertDir:      certDir,
		TokenFile:    a.tokenFile,
		ClientCAFile: a.clientCAFile,
		Log:          ctrl.Log.WithName("audit-receiver"),
		Leading:      mgr.Elected(),
	})
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(receiver); err != nil {
		return nil, fmt.Errorf("add the audit receiver: %w", err)
	}
	return store, labelLeader(mgr)
}

// labelLeader labels this replica's Pod while it leads, for the receiver's
// Service to route to the leader only (config/audit), when the downward API
// names the Pod (POD_NAME, POD_NAMESPACE); a local run has no Pod.
func labelLeader(mgr ctrl.Manager) error {
	pod := types.NamespacedName{Namespace: os.Getenv("POD_NAMESPACE"), Name: os.Getenv("POD_NAME")}
	if pod.Name == "" || pod.Namespace == "" {
		return nil
	}
	if err := leaderlabel.Clear(context.Background(), mgr.GetClient(), pod); err != nil {
		return err
	}
	if err := mgr.Add(leaderlabel.Labeler{Client: mgr.GetClient(), Pod: pod}); err != nil {
		return fmt.Errorf("add the leader labeler: %w", err)
	}
	return nil
}

// kubernetesOptions are the kubernetes provider's options: its activity
// source when the receiver is on.
func kubernetesOptions(store *kubeaudit.Store, o options) []kubernetes.Option {
	if store == nil {
		return nil
	}
	return []kubernetes.Option{kubernetes.WithAuditStore(store, o.audit.delay)}
}

// activityWakeups names the users with new audit events, for the activity
// controller to read their requests at once; nil when the receiver is off.
// The store forwards them for the life of the process.
func activityWakeups(store *kubeaudit.Store) <-chan string {
	if store == nil {
		return nil
	}
	return store.Wakeups(context.Background())
}
