package eventbus

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubscriptionStatsWhileHandlerBlocks(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "stats.live")
	g := newGate[int]()
	s := mustSubscribe(t, tp, "s", g.handle, WithQueueCapacity(10))
	ctx := testCtx(t)
	assert.Zero(t, s.Stats().OldestQueuedAge, "nothing queued")
	before := time.Now()
	for i := 1; i <= 4; i++ {
		require.NoError(t, tp.Publish(ctx, i))
	}
	recv(t, g.started, "event 1")
	st := s.Stats()
	since := time.Since(before)
	assert.Equal(t, "stats.live", st.Topic)
	assert.Equal(t, "s", st.Subscriber)
	assert.Equal(t, uint64(4), st.Enqueued)
	assert.Equal(t, 3, st.QueueLength)
	assert.Equal(t, 10, st.Capacity)
	assert.Equal(t, 1, st.InFlight)
	assert.Zero(t, st.Delivered)
	assert.Positive(t, st.OldestQueuedAge, "event 2 waits behind the blocked handler")
	assert.LessOrEqual(t, st.OldestQueuedAge, since, "event 2 was published after the test began")
	again := subStats(t, b, "stats.live", "s")
	assert.GreaterOrEqual(t, again.OldestQueuedAge, st.OldestQueuedAge, "the head's age grows while the handler blocks")
	again.OldestQueuedAge = st.OldestQueuedAge
	assert.Equal(t, st, again, "Bus.SubscriptionStats shows the same")
	bs := b.Stats()
	assert.Equal(t, 3, bs.Totals.QueueLength)
	assert.Equal(t, 1, bs.Totals.InFlight)
	assert.Equal(t, 1, bs.Subscriptions)

	g.release(t)
	recv(t, g.started, "event 2")
	st = s.Stats()
	assert.Equal(t, 2, st.QueueLength)
	assert.Equal(t, 1, st.InFlight)
	// Event 1 is counted once its worker has finished the events it took
	// out of the queue with it: at once if it took event 1 alone, else at
	// the end of that batch. While running: Enqueued - Delivered ==
	// QueueLength + InFlight + the batch's events handled and not counted.
	assert.LessOrEqual(t, st.Delivered, uint64(1))
	uncounted := 1 - st.Delivered
	assert.Equal(t, st.Enqueued-st.Delivered, uint64(st.QueueLength+st.InFlight)+uncounted)

	g.open()
	require.NoError(t, s.Drain(testCtx(t))) // every queued event handled
	st = s.Stats()
	assert.Equal(t, uint64(4), st.Delivered)
	assert.Zero(t, st.QueueLength)
	assert.Zero(t, st.InFlight)
	assert.Zero(t, st.OldestQueuedAge, "nothing queued")
}

func TestStatsCountOutcomes(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "stats.outcomes")
	failEven := func(_ context.Context, e *Event[int]) error {
		if e.Payload%2 == 0 {
			return errors.New("even")
		}
		return nil
	}
	s := mustSubscribe(t, tp, "s", failEven, WithFilter(func(e *Event[int]) bool { return e.Payload < 8 }))
	var panics atomic.Int32
	p := mustSubscribe(t, tp, "panicky", func(_ context.Context, e *Event[int]) error {
		if e.Payload == 3 {
			panics.Add(1)
			panic("boom")
		}
		return nil
	})
	ctx := testCtx(t)
	for i := range 10 {
		require.NoError(t, tp.Publish(ctx, i))
	}
	closeBus(t, b)
	st := s.Stats()
	assert.Equal(t, uint64(8), st.Enqueued)
	assert.Equal(t, uint64(2), st.Filtered)
	assert.Equal(t, uint64(4), st.Delivered)
	assert.Equal(t, uint64(4), st.Failed)
	checkAccounting(t, st)
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
	b := newBus(t)
	tz := mustTopic[string](t, b, "z.last")
	ta := mustTopic[pubMsg](t, b, "a.first")
	tm := mustTopic[*int](t, b, "m.middle")
	ctx := testCtx(t)
	require.NoError(t, ta.Publish(ctx, pubMsg{}))   // no subscriber
	require.NoError(t, tz.PublishSync(ctx, "lost")) // no subscriber
	mustSubscribe(t, ta, "zed", nopHandler[pubMsg])
	mustSubscribe(t, ta, "alpha", nopHandler[pubMsg])
	mustSubscribe(t, ta, "mid", nopHandler[pubMsg])
	mustSubscribe(t, tm, "only", nopHandler[*int])
	for range 3 {
		require.NoError(t, ta.Publish(ctx, pubMsg{}))
	}
	require.NoError(t, tm.Publish(ctx, nil))

	st := ta.Stats()
	assert.Equal(t, TopicStats{
		Topic: "a.first", PayloadType: "eventbus.pubMsg", Published: 4, NoSubscribers: 1,
		Subscribers: []string{"alpha", "mid", "zed"},
	}, st)
	all := b.TopicStats()
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
	b := newBus(t)
	t2 := mustTopic[int](t, b, "b.topic")
	t1 := mustTopic[int](t, b, "a.topic")
	mustSubscribe(t, t2, "y", nopHandler[int])
	mustSubscribe(t, t1, "z", nopHandler[int])
	mustSubscribe(t, t2, "x", nopHandler[int])
	mustSubscribe(t, t1, "a", nopHandler[int])
	gone := mustSubscribe(t, t1, "m", nopHandler[int])
	gone.Unsubscribe()
	waitClosed(t, gone.Done(), "the unsubscribed one to stop")
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
			b := newBus(t)
			tp := mustTopic[int](t, b, "stats.retired")
			inFilter := make(chan struct{}, 1)
			release := make(chan struct{})
			s := mustSubscribe(t, tp, "s", nopHandler[int], WithFilter(func(e *Event[int]) bool {
				inFilter <- struct{}{}
				select {
				case <-release:
				case <-time.After(testWait):
				}
				if mode == "panic" {
					panic("filter boom")
				}
				return false
			}))
			published := make(chan error, 1)
			ctx := testCtx(t)
			go func() { published <- tp.Publish(ctx, 1) }()
			recv(t, inFilter, "the filter to run")
			s.Unsubscribe()
			waitClosed(t, s.Done(), "the subscription to stop")
			close(release)
			require.NoError(t, recv(t, published, "Publish"))
			closeBus(t, b)

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
		b := newBus(t)
		tp := mustTopic[int](t, b, "stats.canceled")
		started := make(chan struct{}, 1)
		s := mustSubscribe(t, tp, "s", func(ctx context.Context, _ *Event[int]) error {
			started <- struct{}{}
			<-ctx.Done() // returns as soon as Unsubscribe cancels it
			return nil
		}, WithQueueCapacity(1))
		ctx := testCtx(t)
		require.NoError(t, tp.Publish(ctx, 1))
		recv(t, started, "event 1")
		require.NoError(t, tp.Publish(ctx, 2))
		published := waitingPublish(t, ctx, tp, 3)
		s.Unsubscribe()
		waitClosed(t, s.Done(), "the subscription to stop")
		recv(t, published, "the blocked publish")
		closeBus(t, b)
		st, tot := s.Stats(), b.Stats().Totals
		require.Equal(t, st.Dropped, tot.Dropped, "round %d: the subscription's drops %+v, the totals' %+v", round, st.Dropped, tot.Dropped)
		require.Equal(t, st.Enqueued, tot.Enqueued, "round %d", round)
	}
}

func TestDropStatsString(t *testing.T) {
	checkStrings(t, []stringCase[DropStats]{
		{DropStats{}, "0 dropped"},
		{DropStats{Evicted: 1}, "1 dropped (1 evicted)"},
		{DropStats{QueueFull: 3, Shutdown: 1}, "4 dropped (3 queue full, 1 at shutdown)"},
		{
			DropStats{QueueFull: 1, Evicted: 2, Rejected: 3, Canceled: 4, Unsubscribed: 5, Shutdown: 6},
			"21 dropped (1 queue full, 2 evicted, 3 rejected, 4 canceled, 5 unsubscribed, 6 at shutdown)",
		},
	})
}

func TestSubscriptionStatsString(t *testing.T) {
	checkStrings(t, []stringCase[SubscriptionStats]{
		{SubscriptionStats{}, "0 enqueued, 0 delivered"},
		{SubscriptionStats{Topic: "orders", Subscriber: "billing"}, "orders/billing: 0 enqueued, 0 delivered"},
		{
			SubscriptionStats{Topic: "orders", Subscriber: "billing", Enqueued: 10, Delivered: 9, Failed: 1, Retried: 2},
			"orders/billing: 10 enqueued, 9 delivered, 1 failed, 2 retried",
		},
		{
			SubscriptionStats{
				Topic: "orders", Subscriber: "billing",
				Enqueued: 20, Delivered: 9, Failed: 1, Retried: 2, DeadLettered: 3, Filtered: 4,
				Dropped:     DropStats{Evicted: 2, Unsubscribed: 1},
				QueueLength: 3, InFlight: 1,
			},
			"orders/billing: 20 enqueued, 9 delivered, 1 failed, 2 retried, 3 dead-lettered, 4 filtered, " +
				"3 dropped (2 evicted, 1 unsubscribed), 3 queued, 1 in flight",
		},
	})
}

func TestBusStatsString(t *testing.T) {
	checkStrings(t, []stringCase[BusStats]{
		{BusStats{}, "0 published on 0 topics; subscriptions: 0 live, 0 enqueued, 0 delivered"},
		{
			BusStats{Published: 12, NoSubscribers: 1, Topics: 3, Subscriptions: 4, Totals: SubscriptionStats{
				Enqueued: 40, Delivered: 39, DeadLettered: 1,
			}},
			"12 published (1 with no subscriber) on 3 topics; subscriptions: 4 live, 40 enqueued, 39 delivered, 1 dead-lettered",
		},
		{
			BusStats{Published: 1, Topics: 1, Subscriptions: 1, Totals: SubscriptionStats{
				Enqueued: 1, Dropped: DropStats{Shutdown: 1},
			}},
			"1 published on 1 topic; subscriptions: 1 live, 1 enqueued, 0 delivered, 1 dropped (1 at shutdown)",
		},
	})
}

func TestTopicStatsString(t *testing.T) {
	checkStrings(t, []stringCase[TopicStats]{
		{TopicStats{Topic: "orders"}, "orders: 0 published, 0 subscribers"},
		{
			TopicStats{Topic: "order.placed", PayloadType: "main.Order", Published: 7, NoSubscribers: 2, Subscribers: []string{"a", "b", "c"}},
			"order.placed (main.Order): 7 published (2 with no subscriber), 3 subscribers",
		},
		{
			TopicStats{Topic: "orders", PayloadType: "int", Published: 1, Subscribers: []string{"a"}},
			"orders (int): 1 published, 1 subscriber",
		},
	})
}

// The summaries of snapshots taken from a running bus: a handler holds the
// first of three events, so the others wait in the queue.
func TestStatsStringsOfARunningBus(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "stats.string")
	g := newGate[int]()
	s := mustSubscribe(t, tp, "s", g.handle)
	ctx := testCtx(t)
	for i := 1; i <= 3; i++ {
		require.NoError(t, tp.Publish(ctx, i))
	}
	recv(t, g.started, "event 1")
	assert.Equal(t, "stats.string/s: 3 enqueued, 0 delivered, 2 queued, 1 in flight", s.Stats().String())
	assert.Equal(t, "stats.string (int): 3 published, 1 subscriber", tp.Stats().String())
	assert.Equal(t, "3 published on 1 topic; subscriptions: 1 live, 3 enqueued, 0 delivered, 2 queued, 1 in flight",
		b.Stats().String())

	g.open()
	closeBus(t, b)
	assert.Equal(t, "stats.string/s: 3 enqueued, 3 delivered", s.Stats().String())
	assert.Equal(t, "3 published on 1 topic; subscriptions: 0 live, 3 enqueued, 3 delivered", b.Stats().String())
}

// stringCase is a value and the String it must have.
type stringCase[T fmt.Stringer] struct {
	v    T
	want string
}

// checkStrings checks the String of each case, and that %v and %+v print
// the same.
func checkStrings[T fmt.Stringer](t *testing.T, cases []stringCase[T]) {
	t.Helper()
	for _, tc := range cases {
		assert.Equal(t, tc.want, tc.v.String())
		assert.Equal(t, tc.want, fmt.Sprintf("%v", tc.v), "%%v prints the summary")
		assert.Equal(t, tc.want, fmt.Sprintf("%+v", tc.v), "%%+v prints the summary")
	}
}
