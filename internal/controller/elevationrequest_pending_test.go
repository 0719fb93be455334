package controller

import (
	"testing"
	"time"

	accessv1alpha1 "github.com/elevator-dev/elevator/api/v1alpha1"
)

func TestPendingTimeout(t *testing.T) {
	conn := &accessv1alpha1.SaaSConnection{}
	if got := pendingTimeout(nil); got != 24*time.Hour {
		t.Errorf("no connection: %s, want 24h", got)
	}
	conn.Spec.PendingTimeout = "90s"
	if got := pendingTimeout(conn); got != 90*time.Second {
		t.Errorf("90s: got %s", got)
	}
	conn.Spec.PendingTimeout = "bogus"
	if got := pendingTimeout(conn); got != 24*time.Hour {
		t.Errorf("a malformed timeout falls back to the default, got %s", got)
	}
}
