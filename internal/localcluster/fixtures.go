package localcluster

import (
	"context"
	"fmt"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// What the programs that drive the local control plane (hack/bench,
// hack/chaos) set up the same way.

// RoleBindingTo binds the Role of the same name in namespace to subject.
func RoleBindingTo(namespace, name string, subject rbacv1.Subject) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{subject},
	}
}

// WaitConnectionReady waits up to a minute for the SaaSConnection to report
// Ready, as the operator's health check sets it.
func WaitConnectionReady(ctx context.Context, c client.Client, key client.ObjectKey) error {
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		conn := &accessv1alpha1.SaaSConnection{}
		if err := c.Get(ctx, key, conn); err != nil {
			return false, err
		}
		return apimeta.IsStatusConditionTrue(conn.Status.Conditions, accessv1alpha1.ConditionReady), nil
	})
	if err != nil {
		return fmt.Errorf("SaaSConnection %s did not become Ready: %w", key, err)
	}
	return nil
}
