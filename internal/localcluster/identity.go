package localcluster

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/elevator-dev/elevator/internal/testenv"
)

// OperatorKubeconfigName is the file name of the operator's kubeconfig.
const OperatorKubeconfigName = "elevator-operator.kubeconfig"

// tokenLifetime bounds the operator's token; a local session that runs longer
// is restarted.
const tokenLifetime = 24 * time.Hour

// installOperatorIdentity creates the operator's namespace and the RBAC of
// config/rbac as config/default deploys them, then writes a kubeconfig with a
// token of the operator's ServiceAccount.
func (c *Cluster) installOperatorIdentity(ctx context.Context, cl client.Client, dir string) error {
	root := testenv.ModuleRoot()
	ov, err := ReadOverlay(filepath.Join(root, "config", "default"))
	if err != nil {
		return err
	}
	objs, err := LoadRBAC(filepath.Join(root, "config", "rbac"), ov)
	if err != nil {
		return err
	}
	sa, err := ServiceAccountOf(objs)
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ov.Namespace}}
	if err := cl.Create(ctx, ns); err != nil {
		return fmt.Errorf("create namespace %s: %w", ov.Namespace, err)
	}
	for _, obj := range objs {
		if err := cl.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %T %s: %w", obj, client.ObjectKeyFromObject(obj), err)
		}
	}
	c.ServiceAccount = sa.Namespace + "/" + sa.Name
	token, err := serviceAccountToken(ctx, c.Config, sa)
	if err != nil {
		return err
	}
	c.OperatorKubeconfig = filepath.Join(dir, OperatorKubeconfigName)
	data, err := tokenKubeconfig(c.Config, sa.Name, token)
	if err != nil {
		return err
	}
	return c.writeFile(c.OperatorKubeconfig, data)
}

// serviceAccountToken asks the TokenRequest API for a token of the account.
func serviceAccountToken(ctx context.Context, cfg *rest.Config, sa *corev1.ServiceAccount) (string, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", fmt.Errorf("clientset: %w", err)
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To(int64(tokenLifetime.Seconds())),
	}}
	resp, err := cs.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("request a token for ServiceAccount %s/%s: %w", sa.Namespace, sa.Name, err)
	}
	return resp.Status.Token, nil
}

// tokenKubeconfig is a kubeconfig for the cluster of cfg that authenticates
// with the bearer token only.
func tokenKubeconfig(cfg *rest.Config, user, token string) ([]byte, error) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts[user] = &clientcmdapi.Context{Cluster: "local", AuthInfo: user}
	kc.CurrentContext = user
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return nil, fmt.Errorf("serialize the operator's kubeconfig: %w", err)
	}
	return data, nil
}
