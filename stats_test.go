package eventbus

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubscriptionStatsWhileHandlerBlocks(t *testing.T) {
	b := ctNewBus(t)
	tp := ctTopic[int](t, b, "stats.live")
	g := newCtGate[int]()
	s := ctSubscribe(t, tp, "s", g.handle, WithQueueCapacity(10))
	ctx := ctCtx(t)
	for i := 1; i <= 4; i++ {
		require.NoError(t, tp.Publish(ctx, i))
	}
	ctWaitFor(t, g.started, ctWait, "event 1")
	st := s.Stats()
	assert.Equal(t, "stats.live", st.Topic)
	assert.Equal(t, "s", st.Subscriber)
	assert.Equal(t, uint64(4), st.Enqueued)
	assert.Equal(t, 3, st.QueueLength)
	assert.Equal(t, 1, st.InFlight)
	assert.Zero(t, st.Delivered)
	assert.Equal(t, st, ctSubStats(t, b, "stats.live", "s"), "Bus.SubscriptionStats shows the same")
	bs := b.Stats()
	assert.Equal(t, 3, bs.Totals.QueueLength)
	assert.Equal(t, 1, bs.Totals.InFlight)
	assert.Equal(t, 1, bs.Subscriptions)

	g.release(t)
	ctWaitFor(t, g.started, ctWait, "event 2")
	require.Eventually(t, func() bool { return s.Stats().Delivered == 1 }, ctWait, time.Millisecond)
	st = s.Stats()
	assert.Equal(t, 2, st.QueueLength)
	assert.Equal(t, 1, st.InFlight)
	// While running: Enqueued - handled == QueueLength + InFlight.
	assert.Equal(t, st.Enqueued-st.Delivered, uint64(st.QueueLength+st.InFlight))

	g.open()
	require.Eventually(t, func() bool { return s.Stats().Delivered == 4 }, ctWait, time.Millisecond)
	st = s.Stats()
	assert.Zero(t, st.QueueLength)
	assert.Zero(t, st.InFlight)
}

func TestStatsCountOutcomes(t *testing.T) {
	b := ctNewBus(t)
	tp := ctTopic[int](t, b, "stats.outcomes")
	failEven := func(_ context.Context, e *Event[int]) error {
		if e.Payload%2 == 0 {
			return errors.New("even")
		}
		return nil
	}
	s := ctSubscribe(t, tp, "s", failEven, WithFilter(func(e *Event[int]) bool { return e.Payload < 8 }))
	var panics atomic.Int32
	p := ctSubscribe(t, tp, "panicky", func(_ context.Context, e *Event[int]) error {
		if e.Payload == 3 {
			panics.Add(1)
			panic("boom")
		}
		return nil
	})
	ctx := ctCtx(t)
	for i := range 10 {
		require.NoError(t, tp.Publish(ctx, i))
	}
	ctClose(t, b)
	st := s.Stats()
	assert.Equal(t, uint64(8), st.Enqueued)
	assert.Equal(t, uint64(2), st.Filtered)
	assert.Equal(t, uint64(4), st.Delivered)
	assert.Equal(t, uint64(4), st.Failed)
	ctCheckAccounting(t, st)
	pst := p.Stats()
	assert.Equal(t, int32(1), panics.Load())
	assert.Equal(t, uint64(1), pst.Failed, "a panic counts as a failure")
	assert.Equal(t, uint64(9), pst.Delivered, "the worker survived the panic")
	tot := b.Stats().Totals
	assert.Equal(t, uint64(18), tot.Enqueued)
	assert.Equal(t, uint64(13), tot.Delivered)
	assert.Equal(t, uint64(5), tot.Failed)
	assert.Equal(t, uint64(2), tot.Filtered)
}

func TestTopicStatsAndBusTopics(t *testing.T) {
	b := ctNewBus(t)
	tz := ctTopic[string](t, b, "z.last")
	ta := ctTopic[ctMsg](t, b, "a.first")
	tm := ctTopic[*int](t, b, "m.middle")
	ctx := ctCtx(t)
	require.NoError(t, ta.Publish(ctx, ctMsg{}))    // no subscriber
	require.NoError(t, tz.PublishSync(ctx, "lost")) // no subscriber
	ctSubscribe(t, ta, "zed", ctNop[ctMsg])
	ctSubscribe(t, ta, "alpha", ctNop[ctMsg])
	ctSubscribe(t, ta, "mid", ctNop[ctMsg])
	ctSubscribe(t, tm, "only", ctNop[*int])
	for range 3 {
		require.NoError(t, ta.Publish(ctx, ctMsg{}))
	}
	require.NoError(t, tm.Publish(ctx, nil))

	st := ta.Stats()
	assert.Equal(t, TopicStats{
		Topic: "a.first", PayloadType: "eventbus.ctMsg", Published: 4, NoSubscribers: 1,
		Subscribers: []string{"alpha", "mid", "zed"},
	}, st)
	all := b.Topics()
	require.Len(t, all, 3)
	assert.Equal(t, st, all[0])
	assert.Equal(t, TopicStats{Topic: "m.middle", PayloadType: "*int", Published: 1, Subscribers: []string{"only"}}, all[1])
	assert.Equal(t, "z.last", all[2].Topic)
	assert.Equal(t, "string", all[2].PayloadType)
	assert.Equal(t, uint64(1), all[2].Published)
	assert.Equal(t, uint64(1), all[2].NoSubscribers)
	assert.Empty(t, all[2].Subscribers)

	bs := b.Stats()
	assert.Equal(t, 3, bs.Topics)
	assert.Equal(t, 4, bs.Subscriptions)
	assert.Equal(t, uint64(6), bs.Published)
	assert.Equal(t, uint64(2), bs.NoSubscribers)
}

func TestBusSubscriptionStatsOrder(t *testing.T) {
	b := ctNewBus(t)
	t2 := ctTopic[int](t, b, "b.topic")
	t1 := ctTopic[int](t, b, "a.topic")
	ctSubscribe(t, t2, "y", ctNop[int])
	ctSubscribe(t, t1, "z", ctNop[int])
	ctSubscribe(t, t2, "x", ctNop[int])
	ctSubscribe(t, t1, "a", ctNop[int])
	gone := ctSubscribe(t, t1, "m", ctNop[int])
	gone.Unsubscribe()
	ctWaitClosed(t, gone.Done(), "the unsubscribed one to stop")
	var got []string
	for _, st := range b.SubscriptionStats() {
		got = append(got, st.Topic+"/"+st.Subscriber)
	}
	assert.Equal(t, []string{"a.topic/a", "a.topic/z", "b.topic/x", "b.topic/y"}, got)
	assert.Equal(t, 4, b.Stats().Subscriptions)
}

// Bus.Stats().Totals sums the counters of every subscription, past and
// present. A publisher that is inside a subscription's filter when the
// subscription is unsubscribed and retired still bumps that
// subscription's counters afterwards (Filtered, or Enqueued and Failed if
// the filter panics), and the bus's totals never see it.
func TestTotalsIncludeCountsOfARetiredSubscription(t *testing.T) {
	for _, mode := range []string{"reject", "panic"} {
		t.Run(mode, func(t *testing.T) {
			b := ctNewBus(t)
			tp := ctTopic[int](t, b, "stats.retired")
			inFilter := make(chan struct{}, 1)
			release := make(chan struct{})
			s := ctSubscribe(t, tp, "s", ctNop[int], WithFilter(func(e *Event[int]) bool {
				inFilter <- struct{}{}
				select {
				case <-release:
				case <-time.After(ctWait):
				}
				if mode == "panic" {
					panic("filter boom")
				}
				return false
			}))
			published := make(chan error, 1)
			ctx := ctCtx(t)
			go func() { published <- tp.Publish(ctx, 1) }()
			ctWaitFor(t, inFilter, ctWait, "the filter to run")
			s.Unsubscribe()
			ctWaitClosed(t, s.Done(), "the subscription to stop")
			close(release)
			require.NoError(t, ctWaitFor(t, published, ctWait, "Publish"))
			ctClose(t, b)

			st := s.Stats()
			tot := b.Stats().Totals
			assert.Equal(t, st.Filtered, tot.Filtered, "Filtered: subscription %+v, totals %+v", st, tot)
			assert.Equal(t, st.Enqueued, tot.Enqueued, "Enqueued: subscription %+v, totals %+v", st, tot)
			assert.Equal(t, st.Failed, tot.Failed, "Failed: subscription %+v, totals %+v", st, tot)
		})
	}
}

// A publisher waiting for room in a subscription's queue when the
// subscription is unsubscribed counts the event as Canceled for it. That
// count must reach Bus.Stats().Totals even when the subscription's worker
// exits (and retires its counters into the bus's totals) before the woken
// publisher gets to run. With one P the scheduler tends to run the worker
// first, so a few rounds show the race if it exists.
func TestTotalsIncludeCanceledOfAStoppedSubscription(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for round := range 100 {
		b := ctNewBus(t)
		tp := ctTopic[int](t, b, "stats.canceled")
		started := make(chan struct{}, 1)
		s := ctSubscribe(t, tp, "s", func(ctx context.Context, _ *Event[int]) error {
			started <- struct{}{}
			<-ctx.Done() // returns as soon as Unsubscribe cancels it
			return nil
		}, WithQueueCapacity(1))
		ctx := ctCtx(t)
		require.NoError(t, tp.Publish(ctx, 1))
		ctWaitFor(t, started, ctWait, "event 1")
		require.NoError(t, tp.Publish(ctx, 2))
		published := make(chan error, 1)
		go func() { published <- tp.Publish(ctx, 3) }()
		require.Eventually(t, func() bool { return ctWaiters(s) == 1 }, ctWait, time.Millisecond)
		s.Unsubscribe()
		ctWaitClosed(t, s.Done(), "the subscription to stop")
		ctWaitFor(t, published, ctWait, "the blocked publish")
		ctClose(t, b)
		st, tot := s.Stats(), b.Stats().Totals
		require.Equal(t, st.Dropped, tot.Dropped, "round %d: the subscription's drops %+v, the totals' %+v", round, st.Dropped, tot.Dropped)
		require.Equal(t, st.Enqueued, tot.Enqueued, "round %d", round)
	}
}
