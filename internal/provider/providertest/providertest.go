// Package providertest has test doubles around real provider clients, for the
// lifecycle tests: decorators that make a real client misbehave in a chosen way.
package providertest

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/elevator-dev/elevator/internal/provider"
)

// CrashAfterGrant grants through the real client, then panics before the
// controller can write status: a crash between the provider call and the status
// write. controller-runtime recovers the panic and retries the request, which
// crashes again, until the test stops that operator.
type CrashAfterGrant struct {
	provider.Client
	// Grants counts the grants that reached the target.
	Grants *atomic.Int32
}

// Grant calls the real Grant and then panics.
func (c CrashAfterGrant) Grant(ctx context.Context, e provider.Entitlement) (provider.Grant, error) {
	if _, err := c.Client.Grant(ctx, e); err != nil {
		return provider.Grant{}, err
	}
	c.Grants.Add(1)
	panic("providertest: operator crashed after granting")
}

// HangAfterGrant grants through the real client, then does not return until
// its context ends, and then returns an error: an operator that stopped right
// after a grant reached the target and before it could write status, like
// CrashAfterGrant, but without a panic, which a controller that calls
// providers from goroutines of its own could not recover from. Stopping the
// operator ends the context.
type HangAfterGrant struct {
	provider.Client
	// Grants counts the grants that reached the target.
	Grants *atomic.Int32
}

// Grant calls the real Grant and then waits for ctx to end.
func (c HangAfterGrant) Grant(ctx context.Context, e provider.Entitlement) (provider.Grant, error) {
	if _, err := c.Client.Grant(ctx, e); err != nil {
		return provider.Grant{}, err
	}
	c.Grants.Add(1)
	<-ctx.Done()
	return provider.Grant{}, fmt.Errorf("providertest: the operator stopped after granting: %w", ctx.Err())
}

// GatedGrant holds every Grant until Open is closed and then grants through
// the real client: a target that is slow to grant. A Grant whose context ends
// first returns the context's error and grants nothing; a nil Open never
// opens.
type GatedGrant struct {
	provider.Client
	Open <-chan struct{}
	// Waiting counts the Grants that reached the gate.
	Waiting *atomic.Int32
}

// Grant waits for the gate, then calls the real Grant.
func (c GatedGrant) Grant(ctx context.Context, e provider.Entitlement) (provider.Grant, error) {
	c.Waiting.Add(1)
	select {
	case <-c.Open:
		return c.Client.Grant(ctx, e)
	case <-ctx.Done():
		return provider.Grant{}, fmt.Errorf("providertest: gave up waiting for the gate: %w", ctx.Err())
	}
}

// CountGrants counts the grants the real client made.
type CountGrants struct {
	provider.Client
	// Grants counts the Grants that succeeded.
	Grants *atomic.Int32
}

// Grant calls the real Grant and counts it when it succeeded.
func (c CountGrants) Grant(ctx context.Context, e provider.Entitlement) (provider.Grant, error) {
	g, err := c.Client.Grant(ctx, e)
	if err == nil {
		c.Grants.Add(1)
	}
	return g, err
}

// Wrap returns reg with every client it builds decorated by wrap, e.g. with
// CrashAfterGrant; a nil wrap returns reg unchanged.
func Wrap(reg provider.Registration, wrap func(provider.Client) provider.Client) provider.Registration {
	if wrap == nil {
		return reg
	}
	inner := reg.New
	reg.New = func(ctx context.Context, c provider.Config) (provider.Client, error) {
		pc, err := inner(ctx, c)
		if err != nil {
			return nil, err
		}
		return wrap(pc), nil
	}
	return reg
}
