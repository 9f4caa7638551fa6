package eventbus

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests of this file run the bus inside testing/synctest bubbles, where
// time is virtual: it advances only when every goroutine of the bubble is
// durably blocked, so the workers parked between events must count as such,
// and the bus must start no goroutine outside the bubble.

// syncBus returns a bus made inside the current bubble, closed by the test's
// cleanup, which synctest runs inside the bubble.
func syncBus(t *testing.T, opts ...Option) *Bus {
	t.Helper()
	b, err := New(append([]Option{WithErrorHandler(func(_ context.Context, err *DeliveryError) { t.Logf("delivery failed: %v", err) })}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, b.Close(context.Background())) })
	return b
}

// A retry backoff of 10 and then 20 seconds passes in virtual time: the
// event is handled exactly 30 virtual seconds after its publish.
func TestSynctestRetryBackoffIsVirtual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := syncBus(t, WithMiddleware(Retry(RetryPolicy{MaxAttempts: 3, InitialInterval: 10 * time.Second, MaxInterval: time.Minute, Jitter: -1})))
		tp := mustTopic[string](t, b, "flaky")
		var calls atomic.Int32
		handledAt := make(chan time.Time, 1)
		mustSubscribe(t, tp, "s", func(context.Context, *Event[string]) error {
			if calls.Add(1) < 3 {
				return errors.New("not yet")
			}
			handledAt <- time.Now()
			return nil
		})
		start := time.Now()
		require.NoError(t, tp.Publish(context.Background(), "hello"))
		require.NoError(t, b.WaitIdle(context.Background()))
		assert.Equal(t, 30*time.Second, (<-handledAt).Sub(start))
		assert.Equal(t, int32(3), calls.Load())
	})
}

// A handler stuck until its ctx ends is cut off by a 30-second Timeout
// after exactly 30 virtual seconds.
func TestSynctestTimeoutIsVirtual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		failed := make(chan *DeliveryError, 1)
		b, err := New(WithMiddleware(Timeout(30*time.Second)),
			WithErrorHandler(func(_ context.Context, err *DeliveryError) { failed <- err }))
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, b.Close(context.Background())) })
		tp := mustTopic[string](t, b, "stuck")
		mustSubscribe(t, tp, "s", func(ctx context.Context, _ *Event[string]) error {
			<-ctx.Done()
			return ctx.Err()
		})
		start := time.Now()
		require.NoError(t, tp.Publish(context.Background(), "hello"))
		err = <-failed
		assert.Equal(t, 30*time.Second, time.Since(start))
		assert.ErrorIs(t, err, ErrHandlerTimeout)
	})
}

// synctest.Wait returns once every handler has returned and the workers
// have parked: a parked worker counts as durably blocked. The workers that
// then stay idle retire in virtual time, and Close finds nothing to wait for.
func TestSynctestWaitSeesParkedWorkersAsBlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := syncBus(t)
		tp := mustTopic[int](t, b, "parked")
		var handled atomic.Int64
		for _, name := range []string{"a", "b", "c"} {
			mustSubscribe(t, tp, name, func(context.Context, *Event[int]) error { handled.Add(1); return nil }, WithConcurrency(2))
		}
		for i := range 10 {
			require.NoError(t, tp.Publish(context.Background(), i))
		}
		synctest.Wait()
		assert.Equal(t, int64(30), handled.Load())
		time.Sleep(10 * time.Minute) // virtual: the idle workers retire
		synctest.Wait()
		require.NoError(t, tp.Publish(context.Background(), 10))
		synctest.Wait()
		assert.Equal(t, int64(33), handled.Load())
	})
}

// WaitIdle honours its ctx in virtual time: a handler that never returns
// by itself keeps the bus busy until the ctx's deadline, and the error says
// so.
func TestSynctestWaitIdleDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := syncBus(t)
		tp := mustTopic[int](t, b, "blocked")
		release := make(chan struct{})
		mustSubscribe(t, tp, "s", func(context.Context, *Event[int]) error { <-release; return nil })
		require.NoError(t, tp.Publish(context.Background(), 1))
		require.NoError(t, tp.Publish(context.Background(), 2))
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		start := time.Now()
		err := b.WaitIdle(ctx)
		assert.Equal(t, time.Hour, time.Since(start))
		var busy *BusyError
		require.ErrorAs(t, err, &busy)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		require.Len(t, busy.Busy, 1)
		assert.Equal(t, 1, busy.Busy[0].Queued)
		assert.Len(t, busy.Busy[0].Running, 1)
		close(release)
		require.NoError(t, b.WaitIdle(context.Background()))
	})
}

// A replay from the retained events, and its hand-off to live events, work
// in a bubble too.
func TestSynctestReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := syncBus(t)
		tp, err := NewTopic[int](b, "kept", WithRetention(Retention{MaxEvents: 100, MaxAge: time.Hour}))
		require.NoError(t, err)
		for i := range 50 {
			require.NoError(t, tp.Publish(context.Background(), i))
		}
		time.Sleep(90 * time.Minute) // virtual: every event expires
		for i := 50; i < 60; i++ {
			require.NoError(t, tp.Publish(context.Background(), i))
		}
		var got []int
		mustSubscribe(t, tp, "late", func(_ context.Context, e *Event[int]) error { got = append(got, e.Payload); return nil }, WithStart(FromOldest()))
		require.NoError(t, b.WaitIdle(context.Background()))
		require.NoError(t, tp.Publish(context.Background(), 60))
		require.NoError(t, b.WaitIdle(context.Background()))
		assert.Equal(t, []int{50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60}, got)
	})
}
