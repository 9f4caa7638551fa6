package eventbus

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/busline/eventbus/internal/delivery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ringSlots returns the size of the topic's ring and whether every slot
// is clear.
func ringSlots[T any](tp *Topic[T]) (size int, clear bool) {
	st := tp.core.ring.Probe()
	return st.Slots, st.Clear
}

// isRingReader reports whether s reads its events from the ring.
func isRingReader(s *Subscription) bool {
	return s.queue.Probe(0).RingReader
}

// gatedAndFast subscribes a gated subscriber named name with the given
// capacity and a subscriber "fast" that reports every event at once.
func gatedAndFast(t *testing.T, tp *Topic[int], name string, capacity int) (*gate[int], *Subscription, <-chan *Event[int]) {
	t.Helper()
	g := newGate[int]()
	gated := mustSubscribe(t, tp, name, g.handle, WithQueueCapacity(capacity))
	fast := make(chan *Event[int], 64)
	mustSubscribe(t, tp, "fast", func(_ context.Context, e *Event[int]) error { fast <- e; return nil })
	return g, gated, fast
}

// Only subscriptions that need nothing of their own on the way in read the
// ring; the others keep their lane queues.
func TestRingReadersAreTheDefaultSubscriptions(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "ring.who")
	nop := func(context.Context, *Event[int]) error { return nil }
	assert.True(t, isRingReader(mustSubscribe(t, tp, "plain", nop)))
	assert.True(t, isRingReader(mustSubscribe(t, tp, "small", nop, WithQueueCapacity(1))))
	assert.False(t, isRingReader(mustSubscribe(t, tp, "big", nop, WithQueueCapacity(DefaultQueueCapacity+1))))
	assert.False(t, isRingReader(mustSubscribe(t, tp, "dropper", nop, WithOverflow(OverflowDropOldest))))
	assert.False(t, isRingReader(mustSubscribe(t, tp, "lanes", nop, WithConcurrency(2))))
	assert.False(t, isRingReader(mustSubscribe(t, tp, "picky", nop, WithFilter(func(*Event[int]) bool { return true }))))
}

// The ring grows while a reader holds many positions, and the reader gets
// them all, in order.
func TestRingGrowsAndKeepsOrder(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "ring.grow")
	g := newGate[int]()
	mustSubscribe(t, tp, "held", g.handle)
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 0))
	recv(t, g.started, "event 0")
	const n = 1000
	for i := 1; i <= n; i++ {
		require.NoError(t, tp.Publish(ctx, i))
	}
	size, _ := ringSlots(tp)
	assert.GreaterOrEqual(t, size, n, "the ring grew to hold the waiting events")
	g.open()
	got := payloads(t, g.done, n+1, "every event")
	for i, p := range got {
		require.Equal(t, i, p, "event %d out of order", i)
	}
}

// A reader so far behind that the ring cannot grow any more is demoted to
// its own lane: the other readers are not held back, and the laggard still
// gets every event, in order.
func TestRingDemotesALaggardInsteadOfHoldingOthersBack(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "ring.laggard")
	tp.core.ring.SetMaxSlots(delivery.RingInitialSlots) // no growth
	g, stuck, fast := gatedAndFast(t, tp, "stuck", 4)
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 0))
	recv(t, g.started, "event 0")

	// Each publish past stuck's room waits, holding a position: once the
	// positions stuck has not taken fill the ring, the next publish demotes
	// stuck, which lets the waiting publishers go on; those that come later
	// wait for room in stuck's lane.
	const n = 2 * delivery.RingInitialSlots
	for i := 1; i <= 4; i++ {
		require.NoError(t, tp.Publish(ctx, i)) // stuck has room for these
	}
	var wg sync.WaitGroup
	for i := 5; i <= n; i++ {
		wg.Go(func() { assert.NoError(t, tp.Publish(ctx, i)) })
	}
	assert.Len(t, payloads(t, fast, n+1, "fast, while stuck is stuck"), n+1)
	// Events past the ring's size reached fast, so the publish that needed
	// stuck's positions had demoted it first.
	require.False(t, isRingReader(stuck), "stuck left the ring")
	g.open()
	wg.Wait()
	require.NoError(t, tp.Publish(ctx, n+1)) // by an offer to stuck's lane

	byStuck := payloads(t, g.done, n+2, "stuck, once released")
	seen := map[int]bool{}
	for _, p := range byStuck {
		seen[p] = true
	}
	assert.Len(t, seen, n+2, "stuck got every event once")
	assert.Equal(t, []int{0, 1, 2, 3, 4}, byStuck[:5], "the events queued before the demotion kept their order")
	assert.Equal(t, n+1, byStuck[n+1], "the event published after the others came last")
	closeBus(t, b)
	st := stuck.Stats()
	assert.Equal(t, uint64(n+2), st.Enqueued)
	assert.Equal(t, uint64(n+2), st.Delivered)
}

// A publish that gives up waiting for a reader's room takes its event back
// from that reader alone, counted as Canceled, as a lane queue would; the
// other readers keep it, and the reader's later events arrive in order.
func TestRingCanceledPublishLeavesTheEventOutForThatReaderOnly(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "ring.cancel")
	g, slow, fast := gatedAndFast(t, tp, "slow", 1)
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 1))
	recv(t, g.started, "event 1")
	require.NoError(t, tp.Publish(ctx, 2)) // fills slow's queue

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	err := tp.Publish(short, 3)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var se *SubscriberError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "slow", se.Subscriber)

	g.open()
	require.NoError(t, tp.Publish(ctx, 4)) // now through slow's own lane
	assert.Equal(t, []int{1, 2, 3, 4}, payloads(t, fast, 4, "fast"))
	assert.Equal(t, []int{1, 2, 4}, payloads(t, g.done, 3, "slow"))
	closeBus(t, b)
	st := slow.Stats()
	assert.Equal(t, uint64(1), st.Dropped.Canceled)
	assert.Equal(t, uint64(3), st.Enqueued)
	assert.Equal(t, uint64(3), st.Delivered)
}

// Once a topic goes quiet, its ring lets go of the events, so that it does
// not keep large payloads alive. In a synctest bubble, the idle ticks after
// which the workers retire pass in virtual time.
func TestRingLetsGoOfEventsOnceQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBus(t)
		tp := mustTopic[[]byte](t, b, "ring.sweep")
		for _, name := range []string{"a", "b"} {
			mustSubscribe(t, tp, name, nopHandler[[]byte])
		}
		ctx := testCtx(t)
		for range 20 {
			require.NoError(t, tp.Publish(ctx, make([]byte, 1<<20)))
		}
		require.NoError(t, b.WaitIdle(ctx))
		// The workers retire after one to two idle ticks; the last one
		// clears the ring.
		time.Sleep(2 * delivery.IdleTick)
		synctest.Wait()
		_, clear := ringSlots(tp)
		assert.True(t, clear, "the ring still holds events after the workers retired")
	})
}

// Subscriptions that come and go do not stay behind in the ring, whether
// the topic is quiet or busy.
func TestRingForgetsStoppedReaders(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "ring.churn")
	ctx := testCtx(t)
	nop := func(context.Context, *Event[int]) error { return nil }
	for i := range 200 {
		s := mustSubscribe(t, tp, "churn", nop)
		if i%2 == 1 {
			require.NoError(t, tp.Publish(ctx, i))
			require.NoError(t, s.Drain(ctx))
		} else {
			s.Unsubscribe()
			waitClosed(t, s.Done(), "the unsubscribed subscription")
		}
	}
	st := tp.core.ring.Probe()
	assert.Zero(t, st.Holders)
	assert.Zero(t, st.Readers)
	assert.Zero(t, st.Offered)
}

// A publisher waiting for a reader's room has not queued its event yet, as
// with a lane queue: the reader's stats show at most its capacity.
func TestRingWaitingPublishIsNotQueuedYet(t *testing.T) {
	b, _, g, slow, returned := blockedPublisherScene(t, false)
	require.True(t, isRingReader(slow))
	st := slow.Stats()
	assert.Equal(t, 1, st.QueueLength)
	assert.Equal(t, uint64(2), st.Enqueued)
	g.open()
	require.NoError(t, recv(t, returned, "the waiting publish"))
	assert.Equal(t, []int{1, 2, 3}, payloads(t, g.done, 3, "slow"))
	closeBus(t, b)
	assert.Equal(t, uint64(3), slow.Stats().Enqueued)
}
