package eventbus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCloseDeliversEveryQueuedEvent(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "close.all")
	const n = 300
	gates := make([]*gate[int], 4)
	subs := make([]*Subscription, 4)
	for i := range gates {
		gates[i] = newGate[int]()
		subs[i] = mustSubscribe(t, tp, fmt.Sprintf("s%d", i), gates[i].handle, WithConcurrency(1+i%2))
	}
	ctx := testCtx(t)
	for i := range n {
		require.NoError(t, tp.Publish(ctx, i))
	}
	closed := closeAsync(b, ctx)
	recv(t, b.closeBegun, "Close to begin")
	assert.ErrorIs(t, tp.Publish(ctx, -1), ErrClosed, "publishing from outside once Close started")
	nothingOn(t, closed, "Close returned while events were queued")
	for _, g := range gates {
		g.open()
	}
	require.NoError(t, recv(t, closed, "Close"))
	for i, g := range gates {
		got := recvN(t, g.done, n, "the queued events")
		assert.Len(t, got, n)
		nothingOn(t, g.done, "more events")
		st := subs[i].Stats()
		assert.Equal(t, uint64(n), st.Delivered)
		assert.Zero(t, st.Dropped.Total())
		checkAccounting(t, st)
		assert.True(t, isDone(subs[i]))
	}
	assert.Equal(t, uint64(n), tp.Stats().Published)
}

func TestCloseWaitsForBlockedPublisher(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "close.blocked")
	g := newGate[int]()
	s := mustSubscribe(t, tp, "slow", g.handle, WithQueueCapacity(1))
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 1))
	recv(t, g.started, "event 1")
	require.NoError(t, tp.Publish(ctx, 2))
	published := waitingPublish(t, ctx, tp, 3)
	require.Equal(t, 1, waiters(s))

	closed := closeAsync(b, ctx)
	recv(t, b.closeBegun, "Close to begin")
	nothingOn(t, closed, "Close returned while a publish was in progress")
	g.open()
	require.NoError(t, recv(t, published, "the blocked publish"))
	require.NoError(t, recv(t, closed, "Close"))
	assert.Equal(t, []int{1, 2, 3}, payloads(t, g.done, 3, "every event"))
	assert.Equal(t, uint64(3), s.Stats().Delivered)
}

func TestCloseLetsHandlerChainsComplete(t *testing.T) {
	b := newBus(t)
	ta := mustTopic[int](t, b, "chain.a")
	tb := mustTopic[int](t, b, "chain.b")
	tc := mustTopic[int](t, b, "chain.c")
	const n = 20
	gate := newGate[int]()
	errs := make(chan error, 10*n)
	outside := make(chan error, 10*n)
	mustSubscribe(t, ta, "a", func(ctx context.Context, e *Event[int]) error {
		if err := gate.handle(ctx, e); err != nil {
			return err
		}
		outside <- tb.Publish(context.Background(), -1) // not a handler's ctx
		_, err := tb.Subscribe("late", nopHandler[int])
		outside <- err
		_, err = NewTopic[int](b, "chain.new")
		outside <- err
		errs <- tb.Publish(ctx, e.Payload)
		return nil
	}, WithConcurrency(2))
	mustSubscribe(t, tb, "b", func(ctx context.Context, e *Event[int]) error {
		errs <- tc.PublishSync(ctx, e.Payload)
		return nil
	})
	var mu sync.Mutex
	gotC := map[int]int{}
	var causes sync.Map
	mustSubscribe(t, tc, "c", func(_ context.Context, e *Event[int]) error {
		mu.Lock()
		gotC[e.Payload]++
		mu.Unlock()
		causes.Store(e.Payload, e.CausationID)
		return nil
	})

	ctx := testCtx(t)
	for i := range n {
		require.NoError(t, ta.Publish(ctx, i))
	}
	closed := closeAsync(b, ctx)
	recv(t, b.closeBegun, "Close to begin")
	gate.open()
	require.NoError(t, recv(t, closed, "Close"))

	for range 2 * n {
		require.NoError(t, recv(t, errs, "a publish from a handler"), "publishing with the handler's ctx during Close")
	}
	for range n {
		assert.ErrorIs(t, recv(t, outside, "outside publish"), ErrClosed)
		assert.ErrorIs(t, recv(t, outside, "subscribe"), ErrClosed)
		assert.ErrorIs(t, recv(t, outside, "new topic"), ErrClosed)
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
	b := newBus(t)
	tp := mustTopic[int](t, b, "close.forced")
	quiet := mustTopic[int](t, b, "close.quiet")
	g1, g2 := newGate[int](), newGate[int]()
	s1 := mustSubscribe(t, tp, "s1", g1.handle)
	s2 := mustSubscribe(t, tp, "s2", g2.handle, WithConcurrency(2))
	s3 := mustSubscribe(t, quiet, "idle", nopHandler[int])
	ctx := testCtx(t)
	for i := 1; i <= 4; i++ {
		require.NoError(t, tp.Publish(ctx, i))
	}
	recv(t, g1.started, "s1's first event")
	recv(t, g2.started, "s2's first event")

	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := b.Close(cctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)

	// Every handler that started was cancelled; count them now that Close
	// has returned, and the bus is done once they have returned.
	started2 := 1 + len(g2.started)
	assert.ErrorIs(t, recv(t, g1.ctxErrs, "s1's cancelled handler"), context.Canceled)
	for range started2 {
		assert.ErrorIs(t, recv(t, g2.ctxErrs, "s2's cancelled handlers"), context.Canceled)
	}
	recv(t, b.Done(), "the bus's goroutines to end")
	assert.Empty(t, g1.started, "s1 handled nothing after its first event")
	assert.Equal(t, map[string]int{"close.forced/s1": 3, "close.forced/s2": 4 - started2}, ce.Undelivered)
	assert.Equal(t, 7-started2, ce.Total())
	assert.Contains(t, ce.Error(), "close.forced/s1: 3")

	// The cancelled handlers returned their ctx's error: their events were
	// dropped at shutdown, not failed.
	st1, st2 := s1.Stats(), s2.Stats()
	assert.Equal(t, uint64(4), st1.Dropped.Shutdown)
	assert.Equal(t, uint64(4), st2.Dropped.Shutdown)
	assert.Zero(t, st1.Failed+st2.Failed)
	for _, st := range []SubscriptionStats{st1, st2, s3.Stats()} {
		checkAccounting(t, st)
	}
	for _, s := range []*Subscription{s1, s2, s3} {
		assert.True(t, isDone(s), s.Name())
	}
	bs := b.Stats()
	assert.Zero(t, bs.Subscriptions)
	assert.Equal(t, uint64(8), bs.Totals.Dropped.Shutdown)
	checkAccounting(t, bs.Totals)

	// Idempotent: the same result again.
	again := b.Close(context.Background())
	assert.Same(t, err, again)
	assert.ErrorIs(t, tp.Publish(ctx, 5), ErrClosed)
}

func TestCloseConcurrentCalls(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "close.concurrent")
	g := newGate[int]()
	s := mustSubscribe(t, tp, "s", g.handle)
	ctx := testCtx(t)
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
	recv(t, b.closeBegun, "Close to begin")
	nothingOn(t, results, "a Close returned while events were queued")
	g.open()
	for range callers {
		require.NoError(t, recv(t, results, "every Close call"))
	}
	require.NoError(t, b.Close(ctx), "Close after Close")
	assert.Equal(t, uint64(5), s.Stats().Delivered)
	assert.ErrorIs(t, tp.Publish(ctx, 9), ErrClosed)
}

func TestCloseAfterCloseReturnsFirstResult(t *testing.T) {
	b := newBus(t)
	closeBus(t, b)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	// The first Close has finished: there is nothing to wait for, so its
	// result (nil) comes back whatever the new ctx.
	for i := range 50 {
		require.NoError(t, b.Close(done), "Close #%d with a done ctx after a successful Close", i)
	}
}

func TestStatsAfterClose(t *testing.T) {
	b := newBus(t)
	ta := mustTopic[int](t, b, "after.a")
	tb := mustTopic[string](t, b, "after.b")
	sa := mustSubscribe(t, ta, "x", nopHandler[int])
	sb := mustSubscribe(t, tb, "y", func(context.Context, *Event[string]) error { return fmt.Errorf("no") })
	ctx := testCtx(t)
	for i := range 10 {
		require.NoError(t, ta.Publish(ctx, i))
		require.NoError(t, tb.Publish(ctx, "s"))
	}
	closeBus(t, b)
	bs := b.Stats()
	assert.Equal(t, 2, bs.Topics)
	assert.Zero(t, bs.Subscriptions)
	assert.Equal(t, uint64(20), bs.Published)
	assert.Equal(t, uint64(20), bs.Totals.Enqueued)
	assert.Equal(t, uint64(10), bs.Totals.Delivered)
	assert.Equal(t, uint64(10), bs.Totals.Failed)
	assert.Empty(t, bs.Totals.Topic)
	checkAccounting(t, bs.Totals)
	assert.Empty(t, b.SubscriptionStats())
	for _, ts := range b.TopicStats() {
		assert.Empty(t, ts.Subscribers, ts.Topic)
		assert.Equal(t, uint64(10), ts.Published, ts.Topic)
	}
	checkAccounting(t, sa.Stats())
	checkAccounting(t, sb.Stats())
	assert.Equal(t, bs, b.Stats(), "stats do not move after Close")
}

// A Close whose ctx ends returns at once even when a handler ignores its
// ctx: the *CloseError names the handler, Done is closed once it returns,
// and the stats count every event once.
func TestForcedCloseDoesNotWaitForAHandlerIgnoringItsCtx(t *testing.T) {
	logger, logs := jsonLogger(slog.LevelDebug)
	b := newBus(t, WithLogger(logger))
	tp := mustTopic[int](t, b, "close.stuck")
	started, unstick := make(chan uuid.UUID, 1), make(chan struct{})
	s := mustSubscribe(t, tp, "stuck", func(_ context.Context, e *Event[int]) error {
		started <- e.ID
		<-unstick // ignores its ctx
		return nil
	})
	ctx := testCtx(t)
	for i := 1; i <= 3; i++ {
		require.NoError(t, tp.Publish(ctx, i))
	}
	id := recv(t, started, "event 1 to start")

	ended, end := context.WithCancel(context.Background())
	end()
	err := b.Close(ended) // returns although the handler cannot
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, map[string]int{"close.stuck/stuck": 2}, ce.Undelivered)
	require.Len(t, ce.Running, 1)
	r := ce.Running[0]
	assert.Equal(t, RunningHandler{Topic: "close.stuck", Subscriber: "stuck", EventID: id, Attempt: 1, For: r.For}, r)
	assert.Positive(t, r.For)
	assert.Contains(t, err.Error(), "1 handler(s) still running (close.stuck/stuck event "+id.String()+" for ")
	select {
	case <-b.Done():
		t.Fatal("Done closed while a handler still runs")
	default:
	}
	assert.Same(t, err, b.Close(context.Background()), "a second Close returns the first's result")
	assert.EqualValues(t, 1, s.Stats().InFlight)

	warns := logs.withMsg(t, "eventbus: close ended before every event was delivered")
	require.Len(t, warns, 1)
	assert.Equal(t, "WARN", warns[0]["level"])
	assert.Equal(t, []any{r.String()}, warns[0]["running"])

	close(unstick)
	recv(t, b.Done(), "the bus's goroutines to end once the handler returned")
	recv(t, s.Done(), "the subscription to be done")
	st := s.Stats()
	checkAccounting(t, st)
	assert.Equal(t, uint64(1), st.Delivered, "the stuck handler finally returned nil")
	assert.Equal(t, uint64(2), st.Dropped.Shutdown)
	assert.Zero(t, st.InFlight)
	bs := b.Stats()
	assert.Zero(t, bs.Subscriptions)
	st.Topic, st.Subscriber = "", ""
	assert.Equal(t, st, bs.Totals, "counted once, in the totals")
	assert.Empty(t, logs.withMsg(t, "eventbus: delivery failed"))
}

// A handler that a forced Close cancelled and that returns its ctx's error
// was stopped, not failing: its event counts as dropped at shutdown, and
// only Close's own warning is logged, no failure.
func TestForcedCloseCancellationIsNotAFailure(t *testing.T) {
	logger, logs := jsonLogger(slog.LevelDebug)
	sink, failures := errorSink()
	for _, withSink := range []bool{false, true} {
		opts := []Option{WithLogger(logger)}
		if withSink {
			opts = append(opts, sink)
		}
		b := newBus(t, opts...)
		tp := mustTopic[int](t, b, "close.cancelled")
		g := newGate[int]()
		s := mustSubscribe(t, tp, "honest", g.handle, WithSubscriptionMiddleware(Logging(logger)))
		require.NoError(t, tp.Publish(testCtx(t), 1))
		recv(t, g.started, "event 1 to start")
		ended, end := context.WithCancel(context.Background())
		end()
		var ce *CloseError
		require.ErrorAs(t, b.Close(ended), &ce)
		assert.ErrorIs(t, recv(t, g.ctxErrs, "the handler's ctx to end"), context.Canceled)
		recv(t, b.Done(), "the bus's goroutines to end")
		st := s.Stats()
		assert.Zero(t, st.Failed)
		assert.Equal(t, uint64(1), st.Dropped.Shutdown)
		checkAccounting(t, st)
	}
	nothingOn(t, failures, "a failure at the error handler")
	assert.Empty(t, logs.withMsg(t, "eventbus: delivery failed"), "the default error handler logged nothing")
	assert.Len(t, logs.withMsg(t, "eventbus: close ended before every event was delivered"), 2, "one warning per Close")
	for _, r := range logs.records(t) {
		assert.NotEqual(t, "ERROR", r["level"], "record %v", r)
	}
}
