// Package failpoint holds the operator still at a named point of the
// lifecycle, so that a test can kill it there with SIGKILL: a crash at a
// chosen point rather than at a random moment. The points are compiled in only
// with the build tag failpoints (failpoint_on.go); the shipped binary is built
// without it, and there Reach does nothing (failpoint_off.go).
package failpoint

// Env names the environment variable that chooses the point a binary built
// with the tag holds at.
const Env = "ELEVATOR_FAILPOINT"

// The points, in the order of a lifecycle.
const (
	// AfterGrantIntent: the intent to grant a shared entitlement is stored,
	// the provider not called yet.
	AfterGrantIntent = "after-grant-intent"
	// AfterGrant: the provider granted and the grant was read back, the
	// status not written yet.
	AfterGrant = "after-grant"
	// AfterRevoke: the provider's revoke returned, the removal not verified
	// by a fresh read yet.
	AfterRevoke = "after-revoke"
	// BeforeFinalizerRemoval: a deleted request's revocation is verified and
	// stored, its finalizer not removed yet.
	BeforeFinalizerRemoval = "before-finalizer-removal"
)

// Marker is what a binary built with the tag writes to its standard error
// when it holds at point.
func Marker(point string) string { return "elevator failpoint " + point + " reached" }
