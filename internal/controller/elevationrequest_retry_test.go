package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// A revocation that failed for a minute, as against a server that is down,
// is tried again within seconds: after the server's return the access goes
// within the cap, not after half a minute (hack/chaos, a 30 s PostgreSQL
// outage: restore → verified took 24 s with a 30 s cap). It still backs off.
func TestRetryAfterAMinuteOfFailuresComesWithinSeconds(t *testing.T) {
	rl := retryLimiter()
	item := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "payments", Name: "inc-4711-alice"}}
	if first := rl.When(item); first != 200*time.Millisecond {
		t.Fatalf("first retry after %s, want 200ms", first)
	}
	var failingFor, next time.Duration
	for failingFor < time.Minute {
		next = rl.When(item)
		failingFor += next
	}
	if next > 5*time.Second {
		t.Errorf("after %s of failures the next retry is %s away, want at most 5s", failingFor, next)
	}
	if next < 5*time.Second {
		t.Errorf("after %s of failures the next retry is %s away: it should have backed off to the 5s cap", failingFor, next)
	}
	rl.Forget(item)
	if again := rl.When(item); again != 200*time.Millisecond {
		t.Errorf("after a success the first retry is %s away, want 200ms again", again)
	}
}
