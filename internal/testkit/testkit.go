// Package testkit holds the test helpers that the tests of several packages
// of the module share: receiving with a bound, and a ctx that tells when a
// publisher starts to wait on it.
package testkit

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Wait bounds every wait for an event in the tests. It is far longer than
// anything should take, so that a loaded machine does not make the tests
// flaky, and a deadlock fails the test after it instead of hanging.
const Wait = 10 * time.Second

// RecvWithin receives one value from ch, failing the test if none arrives
// within d.
func RecvWithin[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out after %s waiting for %s", d, what)
		var zero T
		return zero
	}
}

// Recv receives one value from ch, failing the test if none arrives within
// Wait.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return RecvWithin(t, ch, Wait, what)
}

// WaitSpy is a ctx that reports when its holder starts to wait on it: code
// that waits asks for Done just before it sleeps, so Waiting is closed then.
type WaitSpy struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

// NewWaitSpy returns a WaitSpy around ctx.
func NewWaitSpy(ctx context.Context) *WaitSpy {
	return &WaitSpy{Context: ctx, waiting: make(chan struct{})}
}

// Done returns ctx's Done, and closes Waiting the first time.
func (c *WaitSpy) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

// Waiting is closed once Done has been asked for.
func (c *WaitSpy) Waiting() <-chan struct{} { return c.waiting }
