package eventbus

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ctClosing reports whether Close has been called on b.
func ctClosing(b *Bus) bool { return b.closing.Load() }

// ctCloseAsync starts Close(ctx) and returns the channel its result comes on.
func ctCloseAsync(b *Bus, ctx context.Context) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- b.Close(ctx) }()
	return ch
}

// ctCheckAccounting checks the invariant of a stopped subscription.
func ctCheckAccounting(t testing.TB, st SubscriptionStats) {
	t.Helper()
	assert.Equal(t, st.Enqueued,
		st.Delivered+st.Failed+st.DeadLettered+st.Dropped.Evicted+st.Dropped.Unsubscribed+st.Dropped.Shutdown,
		"accounting of %s/%s: %+v", st.Topic, st.Subscriber, st)
	assert.Zero(t, st.QueueLength, "%s/%s", st.Topic, st.Subscriber)
	assert.Zero(t, st.InFlight, "%s/%s", st.Topic, st.Subscriber)
}

func TestCloseDeliversEveryQueuedEvent(t *testing.T) {
	b := ctNewBus(t)
	tp := ctTopic[int](t, b, "close.all")
	const n = 300
	gates := make([]*ctGate[int], 4)
	subs := make([]*Subscription, 4)
	for i := range gates {
		gates[i] = newCtGate[int]()
		subs[i] = ctSubscribe(t, tp, fmt.Sprintf("s%d", i), gates[i].handle, WithConcurrency(1+i%2))
	}
	ctx := ctCtx(t)
	for i := range n {
		require.NoError(t, tp.Publish(ctx, i))
	}
	closed := ctCloseAsync(b, ctx)
	require.Eventually(t, func() bool { return ctClosing(b) }, ctWait, time.Millisecond)
	assert.ErrorIs(t, tp.Publish(ctx, -1), ErrClosed, "publishing from outside once Close started")
	ctNothing(t, closed, "Close returned while events were queued")
	for _, g := range gates {
		g.open()
	}
	require.NoError(t, ctWaitFor(t, closed, ctWait, "Close"))
	for i, g := range gates {
		got := ctRecvN(t, g.done, n, "the queued events")
		assert.Len(t, got, n)
		ctNothing(t, g.done, "more events")
		st := subs[i].Stats()
		assert.Equal(t, uint64(n), st.Delivered)
		assert.Zero(t, st.Dropped.Total())
		ctCheckAccounting(t, st)
		assert.True(t, ctIsDone(subs[i]))
	}
	assert.Equal(t, uint64(n), tp.Stats().Published)
}

func TestCloseWaitsForBlockedPublisher(t *testing.T) {
	b := ctNewBus(t)
	tp := ctTopic[int](t, b, "close.blocked")
	g := newCtGate[int]()
	s := ctSubscribe(t, tp, "slow", g.handle, WithQueueCapacity(1))
	ctx := ctCtx(t)
	require.NoError(t, tp.Publish(ctx, 1))
	ctWaitFor(t, g.started, ctWait, "event 1")
	require.NoError(t, tp.Publish(ctx, 2))
	published := make(chan error, 1)
	go func() { published <- tp.Publish(ctx, 3) }()
	require.Eventually(t, func() bool { return ctWaiters(s) == 1 }, ctWait, time.Millisecond)

	closed := ctCloseAsync(b, ctx)
	require.Eventually(t, func() bool { return ctClosing(b) }, ctWait, time.Millisecond)
	ctNothing(t, closed, "Close returned while a publish was in progress")
	g.open()
	require.NoError(t, ctWaitFor(t, published, ctWait, "the blocked publish"))
	require.NoError(t, ctWaitFor(t, closed, ctWait, "Close"))
	assert.Equal(t, []int{1, 2, 3}, ctPayloads(t, g.done, 3, "every event"))
	assert.Equal(t, uint64(3), s.Stats().Delivered)
}

func TestCloseLetsHandlerChainsComplete(t *testing.T) {
	b := ctNewBus(t)
	ta := ctTopic[int](t, b, "chain.a")
	tb := ctTopic[int](t, b, "chain.b")
	tc := ctTopic[int](t, b, "chain.c")
	const n = 20
	gate := newCtGate[int]()
	errs := make(chan error, 10*n)
	outside := make(chan error, 10*n)
	ctSubscribe(t, ta, "a", func(ctx context.Context, e *Event[int]) error {
		if err := gate.handle(ctx, e); err != nil {
			return err
		}
		outside <- tb.Publish(context.Background(), -1) // not a handler's ctx
		_, err := tb.Subscribe("late", ctNop[int])
		outside <- err
		_, err = NewTopic[int](b, "chain.new")
		outside <- err
		errs <- tb.Publish(ctx, e.Payload)
		return nil
	}, WithConcurrency(2))
	ctSubscribe(t, tb, "b", func(ctx context.Context, e *Event[int]) error {
		errs <- tc.PublishSync(ctx, e.Payload)
		return nil
	})
	var mu sync.Mutex
	gotC := map[int]int{}
	var causes sync.Map
	ctSubscribe(t, tc, "c", func(_ context.Context, e *Event[int]) error {
		mu.Lock()
		gotC[e.Payload]++
		mu.Unlock()
		causes.Store(e.Payload, e.CausationID)
		return nil
	})

	ctx := ctCtx(t)
	for i := range n {
		require.NoError(t, ta.Publish(ctx, i))
	}
	closed := ctCloseAsync(b, ctx)
	require.Eventually(t, func() bool { return ctClosing(b) }, ctWait, time.Millisecond)
	gate.open()
	require.NoError(t, ctWaitFor(t, closed, ctWait, "Close"))

	for range 2 * n {
		require.NoError(t, ctWaitFor(t, errs, ctWait, "a publish from a handler"), "publishing with the handler's ctx during Close")
	}
	for range n {
		assert.ErrorIs(t, ctWaitFor(t, outside, ctWait, "outside publish"), ErrClosed)
		assert.ErrorIs(t, ctWaitFor(t, outside, ctWait, "subscribe"), ErrClosed)
		assert.ErrorIs(t, ctWaitFor(t, outside, ctWait, "new topic"), ErrClosed)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, gotC, n)
	for i := range n {
		assert.Equal(t, 1, gotC[i], "event %d at the end of the chain", i)
	}
	st := b.Stats()
	assert.Equal(t, uint64(3*n), st.Published)
	assert.Equal(t, uint64(3*n), st.Totals.Delivered)
	assert.Zero(t, st.Subscriptions)
}

func TestCloseWithExpiringCtx(t *testing.T) {
	b := ctNewBus(t)
	tp := ctTopic[int](t, b, "close.forced")
	quiet := ctTopic[int](t, b, "close.quiet")
	g1, g2 := newCtGate[int](), newCtGate[int]()
	s1 := ctSubscribe(t, tp, "s1", g1.handle)
	s2 := ctSubscribe(t, tp, "s2", g2.handle, WithConcurrency(2))
	s3 := ctSubscribe(t, quiet, "idle", ctNop[int])
	ctx := ctCtx(t)
	for i := 1; i <= 4; i++ {
		require.NoError(t, tp.Publish(ctx, i))
	}
	ctWaitFor(t, g1.started, ctWait, "s1's first event")
	ctWaitFor(t, g2.started, ctWait, "s2's first event")

	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := b.Close(cctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)

	// Every handler that started was cancelled; count them now that Close
	// has returned.
	started2 := 1 + len(g2.started)
	assert.ErrorIs(t, ctWaitFor(t, g1.ctxErrs, ctWait, "s1's cancelled handler"), context.Canceled)
	for range started2 {
		assert.ErrorIs(t, ctWaitFor(t, g2.ctxErrs, ctWait, "s2's cancelled handlers"), context.Canceled)
	}
	assert.Empty(t, g1.started, "s1 handled nothing after its first event")
	assert.Equal(t, map[string]int{"close.forced/s1": 3, "close.forced/s2": 4 - started2}, ce.Undelivered)
	assert.Equal(t, 7-started2, ce.Total())
	assert.Contains(t, ce.Error(), "close.forced/s1: 3")

	st1, st2 := s1.Stats(), s2.Stats()
	assert.Equal(t, uint64(3), st1.Dropped.Shutdown)
	assert.Equal(t, uint64(4-started2), st2.Dropped.Shutdown)
	assert.Equal(t, uint64(1), st1.Failed, "the cancelled handler returned its ctx's error")
	for _, st := range []SubscriptionStats{st1, st2, s3.Stats()} {
		ctCheckAccounting(t, st)
	}
	for _, s := range []*Subscription{s1, s2, s3} {
		assert.True(t, ctIsDone(s), s.Name())
	}
	bs := b.Stats()
	assert.Zero(t, bs.Subscriptions)
	assert.Equal(t, uint64(7-started2), bs.Totals.Dropped.Shutdown)
	ctCheckAccounting(t, bs.Totals)

	// Idempotent: the same result again.
	again := b.Close(context.Background())
	assert.Same(t, err, again)
	assert.ErrorIs(t, tp.Publish(ctx, 5), ErrClosed)
}

func TestCloseConcurrentCalls(t *testing.T) {
	b := ctNewBus(t)
	tp := ctTopic[int](t, b, "close.concurrent")
	g := newCtGate[int]()
	s := ctSubscribe(t, tp, "s", g.handle)
	ctx := ctCtx(t)
	for i := range 5 {
		require.NoError(t, tp.Publish(ctx, i))
	}
	const callers = 6
	results := make(chan error, callers)
	var entered atomic.Int32
	for range callers {
		go func() {
			entered.Add(1)
			results <- b.Close(ctx)
		}()
	}
	require.Eventually(t, func() bool { return entered.Load() == callers && ctClosing(b) }, ctWait, time.Millisecond)
	ctNothing(t, results, "a Close returned while events were queued")
	g.open()
	for range callers {
		require.NoError(t, ctWaitFor(t, results, ctWait, "every Close call"))
	}
	require.NoError(t, b.Close(ctx), "Close after Close")
	assert.Equal(t, uint64(5), s.Stats().Delivered)
	assert.ErrorIs(t, tp.Publish(ctx, 9), ErrClosed)
}

func TestCloseAfterCloseReturnsFirstResult(t *testing.T) {
	b := ctNewBus(t)
	ctClose(t, b)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	// The first Close has finished: there is nothing to wait for, so its
	// result (nil) comes back whatever the new ctx.
	for i := range 50 {
		require.NoError(t, b.Close(done), "Close #%d with a done ctx after a successful Close", i)
	}
}

func TestStatsAfterClose(t *testing.T) {
	b := ctNewBus(t)
	ta := ctTopic[int](t, b, "after.a")
	tb := ctTopic[string](t, b, "after.b")
	sa := ctSubscribe(t, ta, "x", ctNop[int])
	sb := ctSubscribe(t, tb, "y", func(context.Context, *Event[string]) error { return fmt.Errorf("no") })
	ctx := ctCtx(t)
	for i := range 10 {
		require.NoError(t, ta.Publish(ctx, i))
		require.NoError(t, tb.Publish(ctx, "s"))
	}
	ctClose(t, b)
	bs := b.Stats()
	assert.Equal(t, 2, bs.Topics)
	assert.Zero(t, bs.Subscriptions)
	assert.Equal(t, uint64(20), bs.Published)
	assert.Equal(t, uint64(20), bs.Totals.Enqueued)
	assert.Equal(t, uint64(10), bs.Totals.Delivered)
	assert.Equal(t, uint64(10), bs.Totals.Failed)
	assert.Empty(t, bs.Totals.Topic)
	ctCheckAccounting(t, bs.Totals)
	assert.Empty(t, b.SubscriptionStats())
	for _, ts := range b.Topics() {
		assert.Empty(t, ts.Subscribers, ts.Topic)
		assert.Equal(t, uint64(10), ts.Published, ts.Topic)
	}
	ctCheckAccounting(t, sa.Stats())
	ctCheckAccounting(t, sb.Stats())
	assert.Equal(t, bs, b.Stats(), "stats do not move after Close")
}
