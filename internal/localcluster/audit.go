package localcluster

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/elevator-dev/elevator/internal/testenv"
)

// The local control plane posts audit events quickly: a batch waits at most
// AuditBatchMaxWait, and a failed post is retried after auditRetryBackoff (the
// receiver starts after the apiserver; until then posts fail and, after their
// retries, are dropped by the apiserver without holding up any request).
const (
	AuditBatchMaxWait = time.Second
	// AuditDeliveryDelay is the operator's --audit-delivery-delay here: the
	// batch wait and a margin.
	AuditDeliveryDelay = 3 * time.Second
	auditRetryBackoff  = time.Second
	// auditMaxBatchBytes keeps a batch under the receiver's body limit.
	auditMaxBatchBytes = 4 << 20
)

// AuditReceiver is where the local kube-apiserver posts its audit events:
// the operator serves it with OperatorArgs, or a test serves it in its own
// process with kubeaudit.NewReceiver.
type AuditReceiver struct {
	// Address is the loopback host:port the apiserver posts to.
	Address string
	// CertDir holds the serving certificate (tls.crt, tls.key) the apiserver
	// trusts.
	CertDir string
	// TokenFile holds the bearer token the apiserver sends.
	TokenFile string
	// PolicyFile is the audit policy the apiserver runs with.
	PolicyFile string
	dir        string
}

// prepareAudit makes the receiver's certificate and token and the apiserver's
// webhook kubeconfig in a directory of their own, and sets the apiserver's
// audit flags. The policy is config/audit/policy.yaml, as shipped.
func prepareAudit(env *envtest.Environment) (*AuditReceiver, error) {
	addr, err := FreeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "elevator-audit-")
	if err != nil {
		return nil, fmt.Errorf("make the audit receiver's directory: %w", err)
	}
	a := &AuditReceiver{
		Address:    addr,
		CertDir:    dir,
		TokenFile:  filepath.Join(dir, "token"),
		PolicyFile: filepath.Join(testenv.ModuleRoot(), "config", "audit", "policy.yaml"),
		dir:        dir,
	}
	kubeconfig, err := a.writeCredentials()
	if err != nil {
		return nil, errors.Join(err, a.remove())
	}
	args := env.ControlPlane.GetAPIServer().Configure()
	args.Set("audit-policy-file", a.PolicyFile)
	args.Set("audit-webhook-config-file", kubeconfig)
	args.Set("audit-webhook-mode", "batch")
	args.Set("audit-webhook-batch-max-wait", AuditBatchMaxWait.String())
	args.Set("audit-webhook-initial-backoff", auditRetryBackoff.String())
	args.Set("audit-webhook-truncate-enabled", "true")
	args.Set("audit-webhook-truncate-max-batch-size", fmt.Sprint(auditMaxBatchBytes))
	return a, nil
}

// writeCredentials writes the serving certificate of a CA made for the run,
// a random token and the apiserver's webhook kubeconfig, which it returns.
func (a *AuditReceiver) writeCredentials() (string, error) {
	ca, err := testenv.NewCA("elevator local audit receiver CA")
	if err != nil {
		return "", err
	}
	certPEM, keyPEM, err := ca.IssueServer()
	if err != nil {
		return "", err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("make the audit receiver's token: %w", err)
	}
	token := hex.EncodeToString(secret)
	kc := clientcmdapi.NewConfig()
	kc.Clusters["receiver"] = &clientcmdapi.Cluster{Server: "https://" + a.Address, CertificateAuthorityData: ca.CertPEM}
	kc.AuthInfos["kube-apiserver"] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts["default"] = &clientcmdapi.Context{Cluster: "receiver", AuthInfo: "kube-apiserver"}
	kc.CurrentContext = "default"
	kubeconfig, err := clientcmd.Write(*kc)
	if err != nil {
		return "", fmt.Errorf("serialize the audit webhook kubeconfig: %w", err)
	}
	path := filepath.Join(a.dir, "webhook-kubeconfig.yaml")
	for file, data := range map[string][]byte{
		filepath.Join(a.CertDir, "tls.crt"): certPEM,
		filepath.Join(a.CertDir, "tls.key"): keyPEM,
		a.TokenFile:                         []byte(token),
		path:                                kubeconfig,
	} {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			return "", fmt.Errorf("write %s: %w", file, err)
		}
	}
	return path, nil
}

// OperatorArgs are the manager flags that serve the receiver where the
// apiserver posts.
func (a *AuditReceiver) OperatorArgs() []string {
	return []string{
		"--audit-receiver-bind-address=" + a.Address,
		"--audit-receiver-cert-path=" + a.CertDir,
		"--audit-receiver-token-file=" + a.TokenFile,
		"--audit-delivery-delay=" + AuditDeliveryDelay.String(),
	}
}

// remove deletes the receiver's credentials.
func (a *AuditReceiver) remove() error {
	if err := os.RemoveAll(a.dir); err != nil {
		return fmt.Errorf("remove %s: %w", a.dir, err)
	}
	return nil
}
