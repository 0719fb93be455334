package v1alpha1

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/identity"
	"github.com/elevator-dev/elevator/internal/policy"
	"github.com/elevator-dev/elevator/internal/testenv"
)

// The operator's --max-duration in the suite.
const globalMaxDuration = 8 * time.Hour

// The operator's --max-open-requests-per-subject in the suite: none, because
// its specs leave many requests of one subject open (no controller ends them).
const maxOpenRequests = 0

const ns = "payments"

// Users of the suite, each a real client-certificate user of the API server.
const (
	requester = "rita" // creates requests; not an approver
	approver1 = "anna" // in group approvers
	approver2 = "abe"  // in group approvers
	outsider  = "otto" // may edit requests, may not approve
	subject   = "sam"  // the subject of most requests
	editor    = "eve"  // has only the shipped elevationrequest-editor role
)

var (
	testEnv *envtest.Environment
	scheme  = runtime.NewScheme()
	admin   client.Client
	as      = map[string]client.Client{}
	// userConfig holds each user's client-certificate configuration.
	userConfig = map[string]*rest.Config{}
	// suiteSigner holds the record-signing key the suite's webhooks are given.
	suiteSigner = mustSigner([]byte("webhook-suite key, webhook-suite key"))
	// operatorUser is who the suite's manager authenticates as (the admin).
	operatorUser string
	// managerCache reads through the manager's cache, as the webhooks do.
	managerCache client.Reader
)

func TestWebhooks(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ElevationRequest webhook suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	requireControlPlane()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(accessv1alpha1.AddToScheme(scheme)).To(Succeed())

	testEnv = testenv.Environment()
	testEnv.WebhookInstallOptions = envtest.WebhookInstallOptions{Paths: []string{testenv.WebhookDir()}}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(testEnv.Stop()).To(Succeed()) })

	admin, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	self, err := identity.Self(context.Background(), admin)
	Expect(err).NotTo(HaveOccurred())
	operatorUser = self.Username
	startManager()
	createFixtures()
	for name, groups := range map[string][]string{
		requester: {"engineers"}, approver1: {"approvers"}, approver2: {"approvers"},
		outsider: {"engineers"}, subject: {"engineers"}, editor: {"engineers"},
	} {
		u, err := testEnv.AddUser(envtest.User{Name: name, Groups: groups}, cfg)
		Expect(err).NotTo(HaveOccurred())
		userConfig[name] = u.Config()
		as[name], err = client.New(u.Config(), client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
	}
})

// requireControlPlane fails, rather than skips, when the binaries are missing.
func requireControlPlane() {
	for _, bin := range []string{"kube-apiserver", "etcd", "kubectl"} {
		path := filepath.Join(testenv.AssetsDir(), bin)
		if _, err := os.Stat(path); err != nil {
			Fail(fmt.Sprintf("control-plane binary %s is missing (%v): run `make controlplane test-deps` (or `make test`) to build it", path, err))
		}
	}
}

// startManager runs a manager serving the webhooks on envtest's webhook host,
// port and certificates, and waits until it answers TLS.
func startManager() {
	wio := &testEnv.WebhookInstallOptions
	mgr, err := ctrl.NewManager(testEnv.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wio.LocalServingHost, Port: wio.LocalServingPort, CertDir: wio.LocalServingCertDir,
		}),
	})
	Expect(err).NotTo(HaveOccurred())
	opts := Options{
		MaxDuration: globalMaxDuration, GrantableClusterRoles: policy.GrantableClusterRoles{"admin", "edit", "view"},
		Signer: suiteSigner, OperatorUser: operatorUser, MaxOpenRequests: maxOpenRequests,
	}
	Expect(SetupElevationRequestWebhookWithManager(mgr, opts)).To(Succeed())
	Expect(SetupSaaSConnectionWebhookWithManager(mgr, opts)).To(Succeed())
	managerCache = mgr.GetClient()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	DeferCleanup(func() { cancel(); <-done })

	addr := net.JoinHostPort(wio.LocalServingHost, strconv.Itoa(wio.LocalServingPort))
	// Only probing that the server listens, so its certificate is not checked.
	Eventually(func() error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return err
		}
		return conn.Close()
	}).WithTimeout(30 * time.Second).Should(Succeed())
}

// createFixtures creates the namespace, the connections, and the RBAC: everyone
// may create and edit requests, the approvers group may approve for "prod".
func createFixtures() {
	ctx := context.Background()
	Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	Expect(admin.Create(ctx, connection("prod", "4h",
		role("admin", "1h", 2), role("viewer", "", 1)))).To(Succeed())
	Expect(admin.Create(ctx, connection("wide", "12h", role("viewer", "", 1)))).To(Succeed())

	Expect(admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "elevationrequest-editor", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{accessv1alpha1.GroupVersion.Group}, Resources: []string{"elevationrequests"},
			Verbs: []string{"create", "get", "list", "watch", "update", "patch"},
		}},
	})).To(Succeed())
	editors := []rbacv1.Subject{}
	for _, u := range []string{requester, approver1, approver2, outsider, subject} {
		editors = append(editors, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u})
	}
	Expect(admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "elevationrequest-editors", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "elevationrequest-editor"},
		Subjects:   editors,
	})).To(Succeed())

	createShippedEditorRole(ctx)

	Expect(admin.Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "prod-approver", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{accessv1alpha1.GroupVersion.Group}, Resources: []string{"saasconnections"},
			ResourceNames: []string{"prod"}, Verbs: []string{ApproveVerb},
		}},
	})).To(Succeed())
	Expect(admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prod-approvers", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "prod-approver"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "approvers"}},
	})).To(Succeed())
}

// createShippedEditorRole creates the ClusterRole of
// config/rbac/elevationrequest_editor_role.yaml, as shipped, and binds it to the
// editor in the suite's namespace.
func createShippedEditorRole(ctx context.Context) {
	data, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(), "config", "rbac", "elevationrequest_editor_role.yaml"))
	Expect(err).NotTo(HaveOccurred())
	shipped := &rbacv1.ClusterRole{}
	Expect(yaml.UnmarshalStrict(data, shipped)).To(Succeed())
	Expect(shipped.Rules).To(ContainElement(HaveField("Verbs", ContainElements("delete", "update", "patch"))), "the shipped role lets editors update and delete requests")
	Expect(admin.Create(ctx, shipped)).To(Succeed())
	Expect(admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "shipped-editor", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: shipped.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: editor}},
	})).To(Succeed())
}

func connection(name, maxDuration string, roles ...accessv1alpha1.Role) *accessv1alpha1.SaaSConnection {
	return &accessv1alpha1.SaaSConnection{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: accessv1alpha1.SaaSConnectionSpec{
			Provider:    accessv1alpha1.ProviderSpec{Kubernetes: &accessv1alpha1.KubernetesProvider{}},
			MaxDuration: maxDuration,
			Roles:       roles,
		},
	}
}

func role(name, maxDuration string, approvals int32) accessv1alpha1.Role {
	return accessv1alpha1.Role{
		Name: name, MaxDuration: maxDuration, RequiredApprovals: ptr.To(approvals),
		Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: "view", Namespaces: []string{ns}},
	}
}
