package v1alpha1

import (
	"context"
	"errors"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
)

// countingAuthorizer answers from a fixed set of allowed user names and counts
// the questions that reach it.
type countingAuthorizer struct {
	allowed    map[string]bool
	breakGlass map[string]bool
	err        error
	asked      int
}

func (a *countingAuthorizer) MayApprove(_ context.Context, user authenticationv1.UserInfo, _, _ string) (bool, error) {
	a.asked++
	return a.allowed[user.Username], a.err
}

func (a *countingAuthorizer) MayBreakGlass(_ context.Context, user authenticationv1.UserInfo, _, _ string) (bool, error) {
	a.asked++
	return a.breakGlass[user.Username], a.err
}

func TestCachedAuthorizerKeepsApproveAndBreakGlassApart(t *testing.T) {
	next := &countingAuthorizer{allowed: map[string]bool{"bob": true}, breakGlass: map[string]bool{"alice": true}}
	c := &CachedAuthorizer{Next: next, Now: func() time.Time { return time.Unix(0, 0) }}
	ctx := context.Background()
	bob, alice := authenticationv1.UserInfo{Username: "bob"}, authenticationv1.UserInfo{Username: "alice"}
	if ok, _ := c.MayApprove(ctx, bob, "team", "cluster"); !ok {
		t.Fatal("bob may approve")
	}
	if ok, _ := c.MayBreakGlass(ctx, bob, "team", "cluster"); ok {
		t.Error("bob's cached approve answer let him break the glass")
	}
	if ok, _ := c.MayBreakGlass(ctx, alice, "team", "cluster"); !ok {
		t.Error("alice holds breakglass")
	}
	if ok, _ := c.MayApprove(ctx, alice, "team", "cluster"); ok {
		t.Error("alice's cached breakglass answer made her an approver")
	}
}

func TestCachedAuthorizer(t *testing.T) {
	bob := authenticationv1.UserInfo{Username: "bob", Groups: []string{"approvers"}}
	mallory := authenticationv1.UserInfo{Username: "mallory"}
	ctx := context.Background()

	type ask struct {
		user       authenticationv1.UserInfo
		namespace  string
		connection string
		after      time.Duration // since the start
		want       bool
		wantAsked  int // questions that reached the authorizer so far
	}
	cases := []struct {
		name string
		asks []ask
	}{
		{"the validating webhook's repeat of the mutating webhook's question is answered from the cache", []ask{
			{bob, "team", "cluster", 0, true, 1},
			{bob, "team", "cluster", 10 * time.Millisecond, true, 1},
		}},
		{"an answer older than the TTL is asked again", []ask{
			{bob, "team", "cluster", 0, true, 1},
			{bob, "team", "cluster", approverCacheTTL, true, 2},
		}},
		{"another connection, namespace or group set is another question", []ask{
			{bob, "team", "cluster", 0, true, 1},
			{bob, "team", "other", 0, true, 2},
			{bob, "other", "cluster", 0, true, 3},
			{authenticationv1.UserInfo{Username: "bob"}, "team", "cluster", 0, true, 4},
		}},
		{"a denial is never kept", []ask{
			{mallory, "team", "cluster", 0, false, 1},
			{mallory, "team", "cluster", time.Millisecond, false, 2},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next := &countingAuthorizer{allowed: map[string]bool{"bob": true}}
			start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
			now := start
			c := &CachedAuthorizer{Next: next, Now: func() time.Time { return now }}
			for i, a := range tc.asks {
				now = start.Add(a.after)
				got, err := c.MayApprove(ctx, a.user, a.namespace, a.connection)
				if err != nil {
					t.Fatalf("ask %d: %v", i, err)
				}
				if got != a.want || next.asked != a.wantAsked {
					t.Fatalf("ask %d: allowed=%v after %d questions, want %v after %d", i, got, next.asked, a.want, a.wantAsked)
				}
			}
		})
	}
}

func TestCachedAuthorizerKeepsNoError(t *testing.T) {
	next := &countingAuthorizer{allowed: map[string]bool{"bob": true}, err: errors.New("apiserver unavailable")}
	c := &CachedAuthorizer{Next: next, Now: time.Now}
	bob := authenticationv1.UserInfo{Username: "bob"}
	for range 2 {
		if _, err := c.MayApprove(context.Background(), bob, "team", "cluster"); err == nil {
			t.Fatal("the authorizer's error was swallowed")
		}
	}
	if next.asked != 2 {
		t.Fatalf("an answer that came with an error was cached: %d questions reached the authorizer, want 2", next.asked)
	}
}
