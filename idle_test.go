package eventbus

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// WaitIdle returns only once a chain of events has been handled to its
// end: the events each handler published while it ran count as work.
func TestWaitIdleWaitsForWholeChains(t *testing.T) {
	b := newBus(t)
	first := mustTopic[int](t, b, "chain.first")
	second := mustTopic[int](t, b, "chain.second")
	third := mustTopic[int](t, b, "chain.third")
	var handled atomic.Int64
	mustSubscribe(t, first, "s", func(ctx context.Context, e *Event[int]) error {
		handled.Add(1)
		return second.Publish(ctx, e.Payload)
	})
	mustSubscribe(t, second, "s", func(ctx context.Context, e *Event[int]) error {
		handled.Add(1)
		return third.Publish(ctx, e.Payload)
	}, WithConcurrency(4))
	mustSubscribe(t, third, "s", func(context.Context, *Event[int]) error {
		handled.Add(1)
		return nil
	})
	ctx := testCtx(t)
	for round := 1; round <= 20; round++ {
		for i := range 50 {
			require.NoError(t, first.Publish(ctx, i))
		}
		require.NoError(t, b.WaitIdle(ctx))
		require.Equal(t, int64(round*150), handled.Load(), "round %d", round)
	}
}

// A handler waiting for the Retry middleware's next attempt keeps the bus
// busy.
func TestWaitIdleWaitsForRetries(t *testing.T) {
	b := newBus(t, WithMiddleware(Retry(RetryPolicy{MaxAttempts: 3, InitialInterval: 20 * time.Millisecond, Jitter: -1})))
	tp := mustTopic[int](t, b, "retried")
	var calls atomic.Int32
	mustSubscribe(t, tp, "s", func(context.Context, *Event[int]) error {
		if calls.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 1))
	require.NoError(t, b.WaitIdle(ctx))
	assert.Equal(t, int32(3), calls.Load())
	assert.Equal(t, uint64(1), tp.Stats().Published)
	assert.Equal(t, uint64(2), b.SubscriptionStats()[0].Retried)
}

// A subscription started in the past keeps the bus busy until its replay
// has caught up and its events are handled.
func TestWaitIdleWaitsForReplays(t *testing.T) {
	b := newBus(t)
	tp, err := NewTopic[int](b, "kept", WithRetention(Retention{MaxEvents: 5000}))
	require.NoError(t, err)
	ctx := testCtx(t)
	for i := range 3000 {
		require.NoError(t, tp.Publish(ctx, i))
	}
	var handled atomic.Int64
	mustSubscribe(t, tp, "late", func(context.Context, *Event[int]) error {
		handled.Add(1)
		return nil
	}, WithStart(FromOldest()), WithQueueCapacity(16))
	require.NoError(t, b.WaitIdle(ctx))
	assert.Equal(t, int64(3000), handled.Load())
}

// When ctx ends first, WaitIdle says what was busy: the subscription, its
// queued events, its running handler with the attempt, and unwraps to
// ctx's error.
func TestWaitIdleReportsWhatIsBusy(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "busy")
	g := newGate[int]()
	mustSubscribe(t, tp, "slow", g.handle)
	mustSubscribe(t, tp, "quick", nopHandler[int])
	ctx := testCtx(t)
	for i := range 3 {
		require.NoError(t, tp.Publish(ctx, i))
	}
	started := recv(t, g.started, "the first event")

	ended, cancel := context.WithCancel(ctx)
	cancel()
	err := b.WaitIdle(ended)
	var busy *BusyError
	require.ErrorAs(t, err, &busy)
	assert.ErrorIs(t, err, context.Canceled)
	// The quick subscriber may still be at its events: look at the slow
	// one, which cannot have moved.
	var slow *BusySubscription
	for i := range busy.Busy {
		if busy.Busy[i].Subscriber == "slow" {
			slow = &busy.Busy[i]
		}
	}
	require.NotNil(t, slow, "the slow subscriber is busy: %v", err)
	assert.Equal(t, "busy", slow.Topic)
	assert.Equal(t, 2, slow.Queued)
	require.Len(t, slow.Running, 1)
	assert.Equal(t, started.ID, slow.Running[0].EventID)
	assert.Equal(t, 1, slow.Running[0].Attempt)
	assert.False(t, slow.Replaying)
	assert.Contains(t, err.Error(), "busy/slow: 2 queued, running event "+started.ID.String()+" (attempt 1)")

	g.open()
	require.NoError(t, b.WaitIdle(ctx))
}

// A publish in progress keeps the bus busy, and the error counts it.
func TestWaitIdleCountsPublishesInProgress(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "full")
	g := newGate[int]()
	mustSubscribe(t, tp, "s", g.handle, WithQueueCapacity(1))
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 0)) // taken by the handler
	recv(t, g.started, "the first event")
	require.NoError(t, tp.Publish(ctx, 1)) // fills the queue
	res := waitingPublish(t, ctx, tp, 2)   // waits for room

	ended, cancel := context.WithCancel(ctx)
	cancel()
	var busy *BusyError
	require.ErrorAs(t, b.WaitIdle(ended), &busy)
	assert.Equal(t, 1, busy.Publishing)
	assert.Contains(t, busy.Error(), "1 publish(es) in progress")

	g.open()
	require.NoError(t, recv(t, res, "the waiting publish"))
	require.NoError(t, b.WaitIdle(ctx))
}

// From a handler, WaitIdle would wait for itself: it refuses at once.
func TestWaitIdleFromAHandlerFails(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "self")
	errs := make(chan error, 1)
	mustSubscribe(t, tp, "s", func(ctx context.Context, _ *Event[int]) error {
		errs <- b.WaitIdle(ctx)
		return nil
	})
	require.NoError(t, tp.Publish(testCtx(t), 1))
	err := recv(t, errs, "WaitIdle's result")
	assert.ErrorIs(t, err, ErrCalledFromHandler)
	assert.Contains(t, err.Error(), "self/s")
}

// An idle bus, a bus that never had a subscriber, and a closed one are idle
// at once; so is one whose ctx has ended, if it is idle.
func TestWaitIdleOnAnIdleBus(t *testing.T) {
	b := newBus(t)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, b.WaitIdle(ended))
	tp := mustTopic[int](t, b, "nobody")
	require.NoError(t, tp.Publish(testCtx(t), 1))
	require.NoError(t, b.WaitIdle(ended))
	closeBus(t, b)
	require.NoError(t, b.WaitIdle(ended))
}

// Many goroutines can wait at once, while others publish: each returns
// once the bus is idle.
func TestWaitIdleConcurrentWaiters(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "many")
	var handled atomic.Int64
	mustSubscribe(t, tp, "s", func(context.Context, *Event[int]) error { handled.Add(1); return nil }, WithConcurrency(3))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 500 {
				assert.NoError(t, tp.Publish(ctx, i))
			}
		})
	}
	waits := make(chan error, 8)
	for range 8 {
		go func() { waits <- b.WaitIdle(ctx) }()
	}
	wg.Wait()
	require.NoError(t, b.WaitIdle(ctx))
	assert.Equal(t, int64(2000), handled.Load())
	for range 8 {
		require.NoError(t, recv(t, waits, "a concurrent WaitIdle"))
	}
}
