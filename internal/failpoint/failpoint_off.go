//go:build !failpoints

package failpoint

// Reach does nothing in a binary built without the tag failpoints.
func Reach(string) {}
