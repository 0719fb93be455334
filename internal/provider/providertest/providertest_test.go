package providertest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elevator-dev/elevator/internal/provider"
)

// recordingClient is the "real" client under the decorators: it counts its
// grants and fails them when fail is set.
type recordingClient struct {
	provider.Client
	grants atomic.Int32
	fail   error
}

func (c *recordingClient) Grant(context.Context, provider.Entitlement) (provider.Grant, error) {
	if c.fail != nil {
		return provider.Grant{}, c.fail
	}
	c.grants.Add(1)
	return provider.Grant{}, nil
}

func TestHangAfterGrantGrantsThenWaitsForTheContext(t *testing.T) {
	inner := &recordingClient{}
	var grants atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := HangAfterGrant{Client: inner, Grants: &grants}.Grant(ctx, provider.Entitlement{})
		done <- err
	}()
	waitFor(t, func() bool { return grants.Load() == 1 })
	select {
	case err := <-done:
		t.Fatalf("Grant returned (%v) before its context ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Grant returned %v, want an error wrapping context.Canceled", err)
	}
	if got := inner.grants.Load(); got != 1 {
		t.Errorf("the real client granted %d times, want 1", got)
	}
}

func TestHangAfterGrantReturnsAFailedGrantAtOnce(t *testing.T) {
	refused := provider.Permanentf("role missing")
	var grants atomic.Int32
	_, err := HangAfterGrant{Client: &recordingClient{fail: refused}, Grants: &grants}.Grant(context.Background(), provider.Entitlement{})
	if !errors.Is(err, refused) || grants.Load() != 0 {
		t.Errorf("Grant = %v with %d grants counted, want the real client's error and none", err, grants.Load())
	}
}

func TestGatedGrantGrantsOnlyOnceOpen(t *testing.T) {
	inner := &recordingClient{}
	var waiting atomic.Int32
	open := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := GatedGrant{Client: inner, Open: open, Waiting: &waiting}.Grant(context.Background(), provider.Entitlement{})
		done <- err
	}()
	waitFor(t, func() bool { return waiting.Load() == 1 })
	time.Sleep(50 * time.Millisecond)
	if got := inner.grants.Load(); got != 0 {
		t.Fatalf("the real client granted %d times before the gate opened", got)
	}
	close(open)
	if err := <-done; err != nil {
		t.Fatalf("Grant after the gate opened: %v", err)
	}
	if got := inner.grants.Load(); got != 1 {
		t.Errorf("the real client granted %d times, want 1", got)
	}
}

func TestGatedGrantGivesUpWithItsContext(t *testing.T) {
	inner := &recordingClient{}
	var waiting atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := GatedGrant{Client: inner, Waiting: &waiting}.Grant(ctx, provider.Entitlement{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Grant = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if inner.grants.Load() != 0 {
		t.Error("a Grant that never passed the gate reached the real client")
	}
}

func TestCountGrantsCountsOnlySuccesses(t *testing.T) {
	var grants atomic.Int32
	ok := CountGrants{Client: &recordingClient{}, Grants: &grants}
	failing := CountGrants{Client: &recordingClient{fail: errors.New("unavailable")}, Grants: &grants}
	for range 2 {
		if _, err := ok.Grant(context.Background(), provider.Entitlement{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := failing.Grant(context.Background(), provider.Entitlement{}); err == nil {
		t.Fatal("the failing client's error was lost")
	}
	if got := grants.Load(); got != 2 {
		t.Errorf("counted %d grants, want 2", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
