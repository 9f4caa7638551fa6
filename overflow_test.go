package eventbus

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waiters returns how many publishers wait for room in s's queue.
func waiters(s *Subscription) int {
	n := 0
	for i := range s.queue.Lanes() {
		n += s.queue.Probe(i).Waiters
	}
	return n
}

// overflowSetup makes a topic with a gated subscriber "slow" (queue
// capacity 2, the given policy) and a fast subscriber "fast", publishes
// event 1 (which "slow" starts handling) and events 2 and 3 (which fill its
// queue).
func overflowSetup(t *testing.T, policy Overflow) (*Bus, *Topic[int], *Subscription, *gate[int], <-chan *Event[int]) {
	t.Helper()
	b := newBus(t)
	tp := mustTopic[int](t, b, "overflow")
	g := newGate[int]()
	slow := mustSubscribe(t, tp, "slow", g.handle, WithQueueCapacity(2), WithOverflow(policy))
	fast := make(chan *Event[int], 64)
	mustSubscribe(t, tp, "fast", func(_ context.Context, e *Event[int]) error { fast <- e; return nil })
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 1))
	assert.Equal(t, 1, recv(t, g.started, "slow to start event 1").Payload)
	require.NoError(t, tp.Publish(ctx, 2))
	require.NoError(t, tp.Publish(ctx, 3))
	st := slow.Stats()
	require.Equal(t, 2, st.QueueLength, "the event being handled is not in the queue")
	require.Equal(t, 1, st.InFlight)
	assert.Equal(t, []int{1, 2, 3}, payloads(t, fast, 3, "fast's events"))
	return b, tp, slow, g, fast
}

func TestOverflowBlockWaitsForRoom(t *testing.T) {
	_, tp, slow, g, fast := overflowSetup(t, OverflowBlock)
	ctx := testCtx(t)
	returned := waitingPublish(t, ctx, tp, 4) // the publisher waits for room
	require.Equal(t, 1, waiters(slow))
	// The other subscriber got the event while the publisher waits.
	assert.Equal(t, 4, recv(t, fast, "fast's event 4 while the publisher is blocked").Payload)
	nothingOn(t, returned, "Publish returned while the queue was full")

	g.release(t) // event 1 done: event 2 leaves the queue, making room
	require.NoError(t, recv(t, returned, "the blocked Publish"))
	g.open()
	assert.Equal(t, []int{1, 2, 3, 4}, payloads(t, g.done, 4, "slow's events"))
	st := slow.Stats()
	assert.Equal(t, uint64(4), st.Enqueued)
	assert.Zero(t, st.Dropped.Total())
}

func TestOverflowBlockEndedByCtx(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "overflow")
	gA, gB := newGate[int](), newGate[int]()
	slowA := mustSubscribe(t, tp, "slow-a", gA.handle, WithQueueCapacity(2))
	slowB := mustSubscribe(t, tp, "slow-b", gB.handle, WithQueueCapacity(2))
	fast := make(chan *Event[int], 64)
	mustSubscribe(t, tp, "fast", func(_ context.Context, e *Event[int]) error { fast <- e; return nil })
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 1))
	recv(t, gA.started, "slow-a to start event 1")
	recv(t, gB.started, "slow-b to start event 1")
	require.NoError(t, tp.Publish(ctx, 2))
	require.NoError(t, tp.Publish(ctx, 3))
	assert.Equal(t, []int{1, 2, 3}, payloads(t, fast, 3, "fast's events"))

	// Both slow queues are full: the publisher waits for slow-a until its
	// ctx ends, and never gets to wait for slow-b.
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := tp.Publish(tctx, 4)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var se *SubscriberError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "slow-a", se.Subscriber)
	assert.Equal(t, 4, recv(t, fast, "fast's event 4").Payload, "other subscribers still got the event")
	assert.Equal(t, uint64(1), slowA.Stats().Dropped.Canceled)
	assert.Equal(t, uint64(1), slowB.Stats().Dropped.Canceled, "the subscriber not reached is counted too")
	assert.Equal(t, uint64(4), tp.Stats().Published)

	gA.open()
	gB.open()
	assert.Equal(t, []int{1, 2, 3}, payloads(t, gA.done, 3, "slow-a's events"))
	assert.Equal(t, []int{1, 2, 3}, payloads(t, gB.done, 3, "slow-b's events"))
	closeBus(t, b)
	nothingOn(t, gA.done, "event 4 at slow-a")
	nothingOn(t, gB.done, "event 4 at slow-b")
	for _, s := range []*Subscription{slowA, slowB} {
		st := s.Stats()
		assert.Equal(t, uint64(3), st.Enqueued, s.Name())
		assert.Equal(t, uint64(3), st.Delivered, s.Name())
	}
}

func TestOverflowBlockPublishSyncEndedByCtx(t *testing.T) {
	_, tp, slow, g, fast := overflowSetup(t, OverflowBlock)
	tctx, cancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
	defer cancel()
	err := tp.PublishSync(tctx, 4)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 4, recv(t, fast, "fast's event 4").Payload)
	assert.Equal(t, uint64(1), slow.Stats().Dropped.Canceled)
	g.open()
	assert.Equal(t, []int{1, 2, 3}, payloads(t, g.done, 3, "slow's events"))
}

func TestOverflowDropNewest(t *testing.T) {
	b, tp, slow, g, fast := overflowSetup(t, OverflowDropNewest)
	require.NoError(t, tp.Publish(testCtx(t), 4), "a dropped event is not a Publish error")
	assert.Equal(t, 4, recv(t, fast, "fast's event 4").Payload)
	assert.Equal(t, uint64(1), slow.Stats().Dropped.QueueFull)
	g.open()
	assert.Equal(t, []int{1, 2, 3}, payloads(t, g.done, 3, "slow's events"))
	closeBus(t, b)
	nothingOn(t, g.done, "the newest event, which was dropped")
	st := slow.Stats()
	assert.Equal(t, uint64(3), st.Enqueued)
	assert.Equal(t, uint64(3), st.Delivered)
	assert.Equal(t, uint64(1), st.Dropped.Total())
}

func TestOverflowDropOldest(t *testing.T) {
	b, tp, slow, g, fast := overflowSetup(t, OverflowDropOldest)
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 4)) // evicts 2
	require.NoError(t, tp.Publish(ctx, 5)) // evicts 3
	assert.Equal(t, []int{4, 5}, payloads(t, fast, 2, "fast's events"))
	assert.Equal(t, uint64(2), slow.Stats().Dropped.Evicted)
	assert.Equal(t, 2, slow.Stats().QueueLength)
	g.open()
	assert.Equal(t, []int{1, 4, 5}, payloads(t, g.done, 3, "slow's events"))
	closeBus(t, b)
	nothingOn(t, g.done, "an evicted event")
	st := slow.Stats()
	assert.Equal(t, uint64(5), st.Enqueued)
	assert.Equal(t, uint64(3), st.Delivered)
	assert.Equal(t, st.Enqueued, st.Delivered+st.Dropped.Evicted)
}

func TestOverflowFail(t *testing.T) {
	b, tp, slow, g, fast := overflowSetup(t, OverflowFail)
	ctx := testCtx(t)
	err := tp.Publish(ctx, 4)
	require.ErrorIs(t, err, ErrQueueFull)
	var se *SubscriberError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "slow", se.Subscriber)
	assert.Equal(t, "overflow", se.Topic)
	assert.Contains(t, err.Error(), `"slow"`)
	assert.Equal(t, 4, recv(t, fast, "fast's event 4").Payload, "other subscribers still got the event")

	// PublishSync reports the same, after the others handled it.
	err = tp.PublishSync(ctx, 5)
	require.ErrorIs(t, err, ErrQueueFull)
	assert.Equal(t, 5, recv(t, fast, "fast's event 5").Payload)

	assert.Equal(t, uint64(2), slow.Stats().Dropped.Rejected)
	g.open()
	assert.Equal(t, []int{1, 2, 3}, payloads(t, g.done, 3, "slow's events"))
	// Once there is room again, publishing works.
	require.NoError(t, tp.Publish(ctx, 6))
	assert.Equal(t, 6, recv(t, g.done, "slow's event 6").Payload)
	closeBus(t, b)
	st := slow.Stats()
	assert.Equal(t, uint64(4), st.Enqueued)
	assert.Equal(t, uint64(4), st.Delivered)
	assert.Equal(t, uint64(2), tp.Stats().Published-st.Enqueued)
}

func TestOverflowString(t *testing.T) {
	assert.Equal(t, "block", OverflowBlock.String())
	assert.Equal(t, "drop-newest", OverflowDropNewest.String())
	assert.Equal(t, "drop-oldest", OverflowDropOldest.String())
	assert.Equal(t, "fail", OverflowFail.String())
	assert.Equal(t, "Overflow(9)", Overflow(9).String())
}

// blockedPublishScene sets up a subscription "slow" (OverflowBlock, capacity
// 1) with event 1 being handled and event 2 queued, starts publishing event
// 3 (with PublishSync if sync), waits until that publisher waits for room,
// then calls stop. It returns the topic, slow and the publish's result.
func blockedPublishScene(t *testing.T, sync bool, stop func(*Bus, *Subscription)) (*Topic[int], *Subscription, error) {
	t.Helper()
	b, tp, g, slow, returned := blockedPublisherScene(t, sync)
	stop(b, slow)
	err := recv(t, returned, "the blocked publish")
	waitClosed(t, slow.Done(), "slow to stop")
	assert.Empty(t, g.done, "slow handled nothing")
	return tp, slow, err
}

// blockedPublisherScene sets up the scene of blockedPublishScene up to the waiting
// publisher, and returns it: the bus, the topic, slow's gate, slow and the
// channel that gets the publish's result.
func blockedPublisherScene(t *testing.T, sync bool) (*Bus, *Topic[int], *gate[int], *Subscription, <-chan error) {
	t.Helper()
	b := newBus(t)
	tp := mustTopic[int](t, b, "blocked.stop")
	g := newGate[int]()
	slow := mustSubscribe(t, tp, "slow", g.handle, WithQueueCapacity(1))
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 1))
	recv(t, g.started, "event 1")
	require.NoError(t, tp.Publish(ctx, 2))
	returned := waitingCall(t, ctx, func(ctx context.Context) error {
		if sync {
			return tp.PublishSync(ctx, 3)
		}
		return tp.Publish(ctx, 3)
	})
	require.Equal(t, 1, waiters(slow))
	return b, tp, g, slow, returned
}

// A forced Close drops the event a publisher (which started before Close,
// so Close waited for it) was waiting to queue for a full subscriber. That
// drop must not be silent: PublishSync must report ErrDropped for the
// subscriber, as it does for the queued events Close discards, and the
// subscriber's counters must account for the event (it is neither enqueued
// nor counted under any Dropped reason, and CloseError does not list it).
func TestBlockedPublishDuringForcedCloseIsAccounted(t *testing.T) {
	for _, sync := range []bool{true, false} {
		t.Run(fmt.Sprintf("sync=%v", sync), func(t *testing.T) {
			forceClose := func(b *Bus, _ *Subscription) {
				cctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				var ce *CloseError
				require.ErrorAs(t, b.Close(cctx), &ce)
				assert.Equal(t, map[string]int{"blocked.stop/slow": 1}, ce.Undelivered, "only the queued event 2 is listed")
				recv(t, b.Done(), "the cancelled handler to return")
			}
			tp, slow, err := blockedPublishScene(t, sync, forceClose)
			if sync {
				assert.ErrorIs(t, err, ErrDropped, "PublishSync returned %v although slow never handled event 3", err)
			}
			st := slow.Stats()
			assert.Equal(t, tp.Stats().Published, st.Enqueued+st.Dropped.QueueFull+st.Dropped.Rejected+st.Dropped.Canceled,
				"every event published to slow is either enqueued or counted as not queued: %+v", st)
		})
	}
}

// Unsubscribe while PublishSync waits for room in the subscriber's queue:
// the subscriber never handles the event, yet PublishSync returns nil,
// whereas the queued event Unsubscribe discards gives ErrDropped.
func TestBlockedPublishSyncThenUnsubscribeReportsDropped(t *testing.T) {
	_, _, err := blockedPublishScene(t, true, func(_ *Bus, s *Subscription) { s.Unsubscribe() })
	assert.ErrorIs(t, err, ErrDropped, "PublishSync returned %v although slow never handled event 3", err)
}
