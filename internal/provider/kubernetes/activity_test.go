package kubernetes

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
	"github.com/elevator-dev/elevator/internal/activity/kubeaudit"
	"github.com/elevator-dev/elevator/internal/provider"
)

func activityClient(t *testing.T, opts ...Option) provider.ActivitySource {
	t.Helper()
	c, err := Registration(nil, nil, opts...).New(context.Background(), provider.Config{Connection: &accessv1alpha1.SaaSConnection{}})
	if err != nil {
		t.Fatal(err)
	}
	src, ok := c.(provider.ActivitySource)
	if !ok {
		t.Fatal("the kubernetes client is no provider.ActivitySource")
	}
	return src
}

func TestActivityWithoutAReceiverIsUnavailable(t *testing.T) {
	src := activityClient(t)
	_, err := src.Activity(context.Background(), provider.ActivityQuery{})
	if !provider.IsUnavailable(err) {
		t.Errorf("got %v, want an Unavailable error naming the receiver flag", err)
	}
	if src.ActivityDelay() != DefaultActivityDelay || src.ActivitySourceName() != ActivitySourceName {
		t.Errorf("delay %s, source %q", src.ActivityDelay(), src.ActivitySourceName())
	}
}

// Without a stored grant target, the request's own bindings are the ones its
// holder names: an action allowed by them is via the elevation.
func TestActivityReadsTheStoreForTheRequestsScopeAndBindings(t *testing.T) {
	from := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	store := kubeaudit.NewStore(10, clocktesting.NewFakeClock(from.Add(-time.Minute)))
	holder := types.NamespacedName{Namespace: "payments", Name: "inc-1"}
	own := `RBAC: allowed by RoleBinding "` + BindingName(holder) + `/payments" of ClusterRole "edit" to User "alice"`
	base := kubeaudit.Event{Stage: "ResponseComplete", At: from.Add(time.Minute), User: "alice", Verb: "create", Resource: "configmaps", Namespace: "payments", Decision: "allow"}
	mine, other, elsewhere := base, base, base
	mine.AuditID, mine.Name, mine.Reason = "1", "via-grant", own
	other.AuditID, other.Name, other.Reason = "2", "via-other", `RBAC: allowed by RoleBinding "team/payments" of ClusterRole "edit" to User "alice"`
	elsewhere.AuditID, elsewhere.Namespace = "3", "billing"
	store.Add([]kubeaudit.Event{mine, other, elsewhere})

	src := activityClient(t, WithAuditStore(store, 3*time.Second))
	e := provider.Entitlement{Subject: "alice", Holder: holder, Role: accessv1alpha1.Role{Name: "edit",
		Kubernetes: &accessv1alpha1.KubernetesRole{ClusterRole: "edit", Namespaces: []string{"payments"}}}}
	page, err := src.Activity(context.Background(), provider.ActivityQuery{Entitlement: e, From: from, Until: from.Add(time.Hour), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Actions) != 2 {
		t.Fatalf("got %d actions, want the two in payments: %+v", len(page.Actions), page.Actions)
	}
	if a := page.Actions[0]; a.Object != "ConfigMap payments/via-grant" || a.NotViaElevation {
		t.Errorf("the action allowed by the request's binding: %+v", a)
	}
	if a := page.Actions[1]; a.Object != "ConfigMap payments/via-other" || !a.NotViaElevation {
		t.Errorf("the action allowed by another binding: %+v", a)
	}
	if src.ActivityDelay() != 3*time.Second {
		t.Errorf("ActivityDelay = %s, want the configured 3s", src.ActivityDelay())
	}
}
