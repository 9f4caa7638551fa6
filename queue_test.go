package eventbus

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchSetup makes a gated subscriber with a queue of 2 under policy and
// leaves it handling event 2 with event 3 taken into its worker's batch but
// not yet claimed, and event 4 in the ring: the queue is full, and its
// oldest event is one the worker holds.
func batchSetup(t *testing.T, policy Overflow) (*Topic[int], *Subscription, *gate[int]) {
	t.Helper()
	b := newBus(t)
	tp := mustTopic[int](t, b, "batch")
	g := newGate[int]()
	s := mustSubscribe(t, tp, "slow", g.handle, WithQueueCapacity(2), WithOverflow(policy))
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 1))
	assert.Equal(t, 1, recv(t, g.started, "event 1").Payload)
	require.NoError(t, tp.Publish(ctx, 2))
	require.NoError(t, tp.Publish(ctx, 3))
	g.release(t) // the worker takes events 2 and 3 in one batch and starts 2
	assert.Equal(t, 2, recv(t, g.started, "event 2").Payload)
	lane := s.queue.Probe(0)
	require.Equal(t, 1, lane.Unclaimed, "event 3 waits in the worker's batch")
	require.Zero(t, lane.Buffered)
	require.NoError(t, tp.Publish(ctx, 4))
	require.Equal(t, 2, s.Stats().QueueLength)
	return tp, s, g
}

func TestBatchedEventIsEvictedFirst(t *testing.T) {
	tp, s, g := batchSetup(t, OverflowDropOldest)
	require.NoError(t, tp.Publish(testCtx(t), 5))
	g.open()
	assert.Equal(t, []int{1, 2, 4, 5}, payloads(t, g.done, 4, "slow's events"))
	assert.Equal(t, uint64(1), s.Stats().Dropped.Evicted)
}

func TestBatchedEventCountsAgainstCapacity(t *testing.T) {
	tp, s, g := batchSetup(t, OverflowDropNewest)
	require.NoError(t, tp.Publish(testCtx(t), 5))
	assert.Equal(t, uint64(1), s.Stats().Dropped.QueueFull)
	g.open()
	assert.Equal(t, []int{1, 2, 3, 4}, payloads(t, g.done, 4, "slow's events"))
}

func TestBatchedEventIsDiscardedByUnsubscribe(t *testing.T) {
	_, s, g := batchSetup(t, OverflowBlock)
	s.Unsubscribe()
	g.open()
	recv(t, s.Done(), "the subscription to stop")
	st := s.Stats()
	// Events 1 and 2 were started; 2 may have returned its cancelled
	// ctx's error, which makes it dropped as well.
	assert.Equal(t, uint64(4), st.Delivered+st.Dropped.Unsubscribed, "events 3 and 4 dropped, 1 and 2 started")
	assert.GreaterOrEqual(t, st.Dropped.Unsubscribed, uint64(2), "events 3 and 4")
	assert.Zero(t, st.Failed)
	assert.Len(t, g.started, 0, "no event started after Unsubscribe")
}

func TestClaimOfBatchedEventWakesBlockedPublisher(t *testing.T) {
	tp, s, g := batchSetup(t, OverflowBlock)
	ctx := testCtx(t)
	returned := waitingPublish(t, ctx, tp, 5) // the publisher waits for room
	require.Equal(t, 1, waiters(s))
	g.release(t) // event 2 done: the worker claims event 3, making room
	require.NoError(t, recv(t, returned, "the blocked Publish"))
	g.open()
	assert.Equal(t, []int{1, 2, 3, 4, 5}, payloads(t, g.done, 5, "slow's events"))
}
