// Package leaderlabel marks the operator's own Pod while it leads, so that a
// Service can route to the leader only: the audit receiver's Service selects
// the label, because only the leader reads the receiver's buffer, and events
// posted to a standby would be lost without anyone knowing.
package leaderlabel

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Label is what the leader's Pod carries, with Value.
const (
	Label = "elevator.dev/audit-receiver"
	Value = "leader"
)

// Clear removes the label from the Pod. A replica calls it as it starts,
// before it may lead: a container restarted in the Pod of a former leader
// must not keep receiving as one.
func Clear(ctx context.Context, c client.Client, pod types.NamespacedName) error {
	return patchLabel(ctx, c, pod, nil)
}

// Labeler is a manager Runnable that labels its replica's own Pod once it
// leads. A replica that loses the lease stops, and its next start clears the
// label first.
type Labeler struct {
	Client client.Client
	// Pod is this replica's own Pod (from the downward API).
	Pod types.NamespacedName
}

// NeedLeaderElection is true: only the leader labels itself.
func (l Labeler) NeedLeaderElection() bool { return true }

// Start labels the Pod and returns; the manager keeps running.
func (l Labeler) Start(ctx context.Context) error {
	value := Value
	return patchLabel(ctx, l.Client, l.Pod, &value)
}

// patchLabel sets the label to value, or removes it for nil.
func patchLabel(ctx context.Context, c client.Client, pod types.NamespacedName, value *string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]*string{Label: value}}})
	if err != nil {
		return fmt.Errorf("encode the leader label: %w", err)
	}
	obj := &corev1.Pod{}
	obj.Namespace, obj.Name = pod.Namespace, pod.Name
	if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("set label %s of Pod %s: %w", Label, pod, err)
	}
	return nil
}
