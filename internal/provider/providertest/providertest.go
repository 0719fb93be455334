// Package providertest has test doubles around real provider clients, for the
// lifecycle tests: decorators that make a real client misbehave in a chosen way.
package providertest

import (
	"context"
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
