package localcluster

import (
	"context"
	"os"
	"testing"

	"slices"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// aggregated reports whether the ClusterRole has a rule for verb on resource.
func aggregated(t *testing.T, c *Cluster, role, resource, verb string) bool {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := cs.RbacV1().ClusterRoles().Get(context.Background(), role, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cr.Rules {
		if slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) {
			return true
		}
	}
	return false
}

// The operator's kubeconfig authenticates as its ServiceAccount, and that
// account may do what config/rbac grants and nothing more.
func TestOperatorIdentityHasExactlyTheShippedRBAC(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c, err := Start(ctx, Options{Dir: dir, Users: []User{{Name: "alice", Groups: []string{"engineers"}}}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = c.Stop()
		}
	})

	cfg, err := clientcmd.BuildConfigFromFlags("", c.OperatorKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "system:serviceaccount:elevator-system:elevator-controller-manager"; review.Status.UserInfo.Username != want {
		t.Errorf("operator authenticates as %q, want %q", review.Status.UserInfo.Username, want)
	}

	for _, tc := range []struct {
		attrs authorizationv1.ResourceAttributes
		want  bool
	}{
		{authorizationv1.ResourceAttributes{Group: "rbac.authorization.k8s.io", Resource: "rolebindings", Verb: "create", Namespace: "payments"}, true},
		{authorizationv1.ResourceAttributes{Group: "access.elevator.dev", Resource: "elevationrequests", Verb: "watch"}, true},
		{authorizationv1.ResourceAttributes{Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Verb: "bind", Name: "admin"}, true},
		{authorizationv1.ResourceAttributes{Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Verb: "bind", Name: "cluster-admin"}, false},
		{authorizationv1.ResourceAttributes{Resource: "secrets", Verb: "delete", Namespace: "payments"}, false},
		{authorizationv1.ResourceAttributes{Resource: "pods", Verb: "list"}, false},
	} {
		ssar := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &tc.attrs}}
		got, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, ssar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Allowed != tc.want {
			t.Errorf("operator may %s %s %q in %q: got %v, want %v", tc.attrs.Verb, tc.attrs.Resource, tc.attrs.Name, tc.attrs.Namespace, got.Status.Allowed, tc.want)
		}
	}

	if !aggregated(t, c, "admin", "deployments", "delete") {
		t.Errorf("the admin ClusterRole does not allow deleting deployments: its aggregated rules were not filled in")
	}
	files := []string{c.AdminKubeconfig, c.OperatorKubeconfig, c.UserKubeconfigs["alice"]}
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600: it holds a credential", f, info.Mode().Perm())
		}
	}
	stopped = true
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s still exists after Stop (err %v)", f, err)
		}
	}
}
