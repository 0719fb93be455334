//go:build !failpoints

package failpoint

import (
	"testing"
	"time"
)

// The shipped binary, built without the tag, never holds, whatever the
// environment says.
func TestReachNeverHoldsWithoutTheTag(t *testing.T) {
	t.Setenv(Env, AfterGrant)
	done := make(chan struct{})
	go func() {
		Reach(AfterGrant)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Reach held in a binary built without the failpoints tag")
	}
}
