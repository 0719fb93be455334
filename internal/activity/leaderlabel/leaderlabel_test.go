package leaderlabel

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/elevator-dev/elevator/internal/testenv"
)

// Against the real kube-apiserver: the label a Service selects the leader by
// is set once this replica leads, and cleared as a replica starts.
func TestLabelerLabelsTheLeadersPodAndClearRemovesIt(t *testing.T) {
	env := testenv.Environment()
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start the control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "elevator-controller-manager-0", Namespace: "default", Labels: map[string]string{"app.kubernetes.io/name": "elevator", Label: Value}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "elevator"}}},
	}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	labels := func() map[string]string {
		got := &corev1.Pod{}
		if err := c.Get(ctx, key, got); err != nil {
			t.Fatal(err)
		}
		return got.Labels
	}

	if err := Clear(ctx, c, key); err != nil {
		t.Fatal(err)
	}
	if got := labels(); got[Label] != "" || got["app.kubernetes.io/name"] != "elevator" {
		t.Fatalf("after Clear the labels are %v: the leader label must go and the others stay", got)
	}
	if !(Labeler{}).NeedLeaderElection() {
		t.Error("the labeler runs on standbys too")
	}
	if err := (Labeler{Client: c, Pod: key}).Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := labels(); got[Label] != Value {
		t.Errorf("the leader's Pod has labels %v, want %s=%s", got, Label, Value)
	}
}
