package controller

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

// behindScheme is its own: these tests need no apiserver, and may run before
// the suite's BeforeSuite fills the shared scheme.
func behindScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := accessv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// behindRequest is a request for dev-9's role of connection c, in the given
// phase and resourceVersion, with a grant (so that, Active, it holds).
func behindRequest(name, uid, rv string, phase accessv1alpha1.Phase) *accessv1alpha1.ElevationRequest {
	return &accessv1alpha1.ElevationRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid), ResourceVersion: rv},
		Spec:       accessv1alpha1.ElevationRequestSpec{Connection: "c", Role: "r", Subject: "dev-9"},
		Status:     accessv1alpha1.ElevationRequestStatus{Phase: phase, TargetState: accessv1alpha1.TargetState{Grant: &accessv1alpha1.GrantAttempt{}}},
	}
}

// cacheAndStore builds a reconciler whose cache holds cached and whose API
// server holds stored.
func cacheAndStore(t *testing.T, cached, stored []client.Object) *ElevationRequestReconciler {
	t.Helper()
	s := behindScheme(t)
	index := func(obj client.Object) []string { return entitlementKeys(obj.(*accessv1alpha1.ElevationRequest)) }
	cache := fake.NewClientBuilder().WithScheme(s).WithObjects(cached...).WithIndex(&accessv1alpha1.ElevationRequest{}, entitlementIndex, index).Build()
	api := fake.NewClientBuilder().WithScheme(s).WithObjects(stored...).Build()
	return &ElevationRequestReconciler{Client: cache, APIReader: api, behind: newCacheBehind()}
}

// After a kube-apiserver restart the cache may hold a request's version from
// before the operator's own grant for up to 30 s: the look that finds it
// behind must make the next look act on the stored version (Active, so its
// expiry is kept), not retry on the cache until it catches up.
func TestReadUsesTheStoredVersionOnceTheCacheIsFoundBehind(t *testing.T) {
	ctx := context.Background()
	key := types.NamespacedName{Namespace: "ns", Name: "r1"}
	r := cacheAndStore(t,
		[]client.Object{behindRequest("r1", "u1", "5", accessv1alpha1.PhaseApproved)},
		[]client.Object{behindRequest("r1", "u1", "9", accessv1alpha1.PhaseActive)})

	got, err := r.read(ctx, key)
	if err != nil || got.Status.Phase != accessv1alpha1.PhaseApproved {
		t.Fatalf("first read: %v, %v; want the cached Approved (nothing known behind yet)", got.Status.Phase, err)
	}
	if err := r.ensureFresh(ctx, got); err == nil {
		t.Fatal("ensureFresh on the cached version 5 with 9 stored: no error, want one (nothing may be granted on it)")
	}
	got, err = r.read(ctx, key)
	if err != nil || got.Status.Phase != accessv1alpha1.PhaseActive || got.ResourceVersion != "9" {
		t.Fatalf("read after ensureFresh found the cache behind: %v at %q, %v; want the stored Active at 9", got.Status.Phase, got.ResourceVersion, err)
	}
	if err := r.ensureFresh(ctx, got); err != nil {
		t.Fatalf("ensureFresh on the stored version: %v, want none", err)
	}
	if !r.behind.has(key) {
		t.Fatal("the request was forgotten as behind while the cache still holds version 5")
	}
}

func TestReadGoesBackToTheCacheOnceItHoldsTheStoredVersion(t *testing.T) {
	key := types.NamespacedName{Namespace: "ns", Name: "r1"}
	r := cacheAndStore(t,
		[]client.Object{behindRequest("r1", "u1", "9", accessv1alpha1.PhaseActive)},
		[]client.Object{behindRequest("r1", "u1", "9", accessv1alpha1.PhaseActive)})
	r.behind.mark(key)
	if _, err := r.read(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	if r.behind.has(key) {
		t.Fatal("still marked behind after a read found the cache at the stored version")
	}
}

// Two requests for one shared membership: one ended while the cache was
// behind, and the cache still shows it Active. The other's revocation must not
// wait for it (each would wait for the other until the cache caught up, with
// the membership past both expiries), while a holder that really is Active
// still keeps the membership.
func TestOtherHoldersAreTheStoredOnesNotTheCached(t *testing.T) {
	revoking := behindRequest("ending", "u0", "3", accessv1alpha1.PhaseRevoking)
	r := cacheAndStore(t,
		[]client.Object{revoking,
			behindRequest("ended-in-the-gap", "u1", "5", accessv1alpha1.PhaseActive),
			behindRequest("still-active", "u2", "6", accessv1alpha1.PhaseActive)},
		[]client.Object{behindRequest("ended-in-the-gap", "u1", "8", accessv1alpha1.PhaseRevoking),
			behindRequest("still-active", "u2", "6", accessv1alpha1.PhaseActive)})

	holders, err := r.otherHolders(context.Background(), revoking)
	if err != nil {
		t.Fatal(err)
	}
	if len(holders) != 1 || holders[0].Name != "still-active" {
		names := []string{}
		for _, h := range holders {
			names = append(names, h.Name)
		}
		t.Fatalf("otherHolders = %v, want only still-active (ended-in-the-gap is Revoking as stored)", names)
	}
}
