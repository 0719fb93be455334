// Package activity tests the activity sources against the real targets: here,
// the kube-apiserver's audit webhook posting to the operator's receiver.
package activity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/activity/kubeaudit"
	"github.com/elevator-dev/elevator/internal/localcluster"
	"github.com/elevator-dev/elevator/internal/provider"
	"github.com/elevator-dev/elevator/internal/provider/kubernetes"
)

const (
	subject = "alice"
	ns      = "payments"
)

// world is a local control plane whose apiserver posts audit events to a
// receiver in the test's process.
type world struct {
	cluster *localcluster.Cluster
	store   *kubeaudit.Store
	admin   client.Client
	alice   client.Client
	// asAlice is the admin impersonating alice.
	asAlice client.Client
}

func start(t *testing.T) *world {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := localcluster.Start(ctx, localcluster.Options{Dir: t.TempDir(), Users: []localcluster.User{{Name: subject}}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w := &world{cluster: c, store: kubeaudit.NewStore(10000, nil)}
	receiver, err := kubeaudit.NewReceiver(w.store, kubeaudit.ReceiverOptions{
		BindAddress: c.Audit.Address, CertDir: c.Audit.CertDir, TokenFile: c.Audit.TokenFile,
	})
	if err != nil {
		cancel()
		t.Fatal(errors.Join(err, c.Stop()))
	}
	served := make(chan error, 1)
	go func() { served <- receiver.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("the receiver: %v", err)
		}
		if err := c.Stop(); err != nil {
			t.Errorf("stop the control plane: %v", err)
		}
	})
	w.admin = newClient(t, c.Config)
	aliceCfg, err := clientcmd.BuildConfigFromFlags("", c.UserKubeconfigs[subject])
	if err != nil {
		t.Fatal(err)
	}
	w.alice = newClient(t, aliceCfg)
	imp := rest.CopyConfig(c.Config)
	imp.Impersonate = rest.ImpersonationConfig{UserName: subject}
	w.asAlice = newClient(t, imp)
	return w
}

func newClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	cl, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func configMap(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string]string{"password": "hunter2"}}
}

// pause separates the window's edges from the requests on either side of
// them: the apiserver stamps requests with microseconds from the same clock.
func pause() { time.Sleep(50 * time.Millisecond) }

// The subject, granted admin in payments, creates a ConfigMap with its own
// client certificate, creates a RoleBinding while the admin impersonates it,
// writes a Secret that a standing ClusterRoleBinding allows, and is refused a
// ResourceQuota (admin may not write quotas). The source returns exactly
// these, with the RoleBinding as an access change named as Check would name
// it and the Secret as allowed by other access than the grant's; the
// ConfigMaps the subject made before and after the window, one the admin made
// inside it and an attempt outside the role's namespace are not returned.
func TestKubeAPIServerAuditWebhookIsTheKubernetesActivitySource(t *testing.T) {
	ctx := context.Background()
	w := start(t)
	for _, name := range []string{ns, "billing"} {
		if err := w.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	reg := kubernetes.Registration(w.admin, w.admin, kubernetes.WithAuditStore(w.store, localcluster.AuditDeliveryDelay))
	pc, err := reg.New(ctx, provider.Config{Connection: &accessv1alpha1.SaaSConnection{}})
	if err != nil {
		t.Fatal(err)
	}
	e := provider.Entitlement{
		Subject: subject,
		Holder:  types.NamespacedName{Namespace: ns, Name: "inc-4711"},
		Role:    accessv1alpha1.Role{Name: "ns-admin", Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: "admin", Namespaces: []string{ns}}},
	}
	// Standing access beside the elevation: RBAC consults ClusterRoleBindings
	// first, so a Secret alice writes is allowed by this, not by the grant.
	mustCreate(t, w.admin, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "secret-writer"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}}}})
	mustCreate(t, w.admin, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "team-secrets"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "secret-writer"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: subject}}})
	grant, err := pc.Grant(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	e.Target = &grant.Target

	mustCreate(t, w.alice, configMap("before"))
	pause()
	from := time.Now()
	pause()
	mustCreate(t, w.alice, configMap("during"))
	generated := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "generated-"}}
	mustCreate(t, w.alice, generated)
	mustCreate(t, w.asAlice, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "backdoor"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "mallory"}},
	})
	mustCreate(t, w.alice, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}, StringData: map[string]string{"password": "hunter2"}})
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "more"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("100")}}}
	if err := w.alice.Create(ctx, quota); !apierrors.IsForbidden(err) {
		t.Fatalf("alice, admin of payments, creating a ResourceQuota: got %v, want forbidden", err)
	}
	mustCreate(t, w.admin, configMap("by-the-admin"))
	// Outside the role's namespaces: refused, and not the elevation's.
	if err := w.alice.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "billing", Name: "elsewhere"}}); !apierrors.IsForbidden(err) {
		t.Fatalf("alice creating a ConfigMap in billing: got %v, want forbidden", err)
	}
	pause()
	until := time.Now()
	pause()
	mustCreate(t, w.alice, configMap("after"))

	waitDelivered(t, w.store, "ConfigMap payments/after", "ConfigMap payments/by-the-admin")
	src := pc.(provider.ActivitySource)
	page, err := src.Activity(ctx, provider.ActivityQuery{Entitlement: e, From: from, Until: until, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if page.Gap != "" || page.Dropped != 0 || page.More {
		t.Errorf("page: Gap %q, Dropped %d, More %v; want a complete page", page.Gap, page.Dropped, page.More)
	}
	got := describeAll(page.Actions)
	want := []string{
		"create ConfigMap payments/during Config by alice",
		// Named from the response object: the request had only a prefix.
		"create ConfigMap payments/" + generated.Name + " Config by alice",
		"create RoleBinding payments/backdoor Access by alice impersonated by admin",
		// Logged at Metadata level (config/audit/policy.yaml): the name, not the body.
		"create Secret payments/db Data by alice not via the elevation",
		// A request the authorizer refused is logged before its body is read.
		"create ResourceQuota payments/(name not logged) Config by alice denied",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("actions in the window:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, a := range page.Actions {
		if a.ID == "" || a.At.Before(from) || a.At.After(until) {
			t.Errorf("%s %s: ID %q, At %s outside [%s, %s]", a.Action, a.Object, a.ID, a.At, from, until)
		}
	}
	next, err := src.Activity(ctx, provider.ActivityQuery{Entitlement: e, From: from, Until: until, Cursor: page.Cursor, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Actions) != 0 {
		t.Errorf("reading again after the cursor returned %v", describeAll(next.Actions))
	}
}

func mustCreate(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitDelivered waits until the store holds an event of each named object, by
// anyone at any time: from then on, the apiserver has posted everything before
// them.
func waitDelivered(t *testing.T, store *kubeaudit.Store, objects ...string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		seen := map[string]bool{}
		for _, user := range []string{subject, "admin"} {
			page := store.Read(kubeaudit.Scope{Subject: user, ClusterWide: true}, provider.ActivityQuery{From: time.Now().Add(-time.Hour), Limit: 10000})
			for _, a := range page.Actions {
				seen[a.Object] = true
			}
		}
		missing := 0
		for _, o := range objects {
			if !seen[o] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the apiserver did not post the events of %v within a minute; the store holds %d events", objects, store.Len())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func describeAll(actions []provider.Action) []string {
	out := make([]string, 0, len(actions))
	for _, a := range actions {
		s := fmt.Sprintf("%s %s %s by %s", a.Action, a.Object, a.Category, subject)
		if a.ImpersonatedBy != "" {
			s += " impersonated by " + a.ImpersonatedBy
		}
		if a.Denied {
			s += " denied"
		}
		if a.NotViaElevation {
			s += " not via the elevation"
		}
		out = append(out, s)
	}
	return out
}
