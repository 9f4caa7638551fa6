package eventbus

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ---------------------------------------------------------------------------

func TestFanOutEveryEventExactlyOnce(t *testing.T) {
	const (
		pubs   = 4
		subs   = 8
		events = 500
	)
	for _, conc := range []int{1, 4} {
		t.Run(fmt.Sprintf("concurrency=%d", conc), func(t *testing.T) {
			b := newBus(t)
			tp := mustTopic[pubMsg](t, b, "fan.out")

			type seen struct {
				mu     sync.Mutex
				counts [pubs][events + 1]int
				last   [pubs]int
				order  bool // per-publisher order held
				total  int
				all    chan struct{}
			}
			views := make([]*seen, subs)
			sss := make([]*Subscription, subs)
			for i := range subs {
				v := &seen{order: true, all: make(chan struct{})}
				views[i] = v
				sss[i] = mustSubscribe(t, tp, fmt.Sprintf("sub-%d", i), func(_ context.Context, e *Event[pubMsg]) error {
					v.mu.Lock()
					defer v.mu.Unlock()
					v.counts[e.Payload.Pub][e.Payload.N]++
					if e.Payload.N <= v.last[e.Payload.Pub] {
						v.order = false
					}
					v.last[e.Payload.Pub] = e.Payload.N
					v.total++
					if v.total == pubs*events {
						close(v.all)
					}
					return nil
				}, WithConcurrency(conc), WithQueueCapacity(64))
			}

			ctx := testCtx(t)
			var wg sync.WaitGroup
			errs := make(chan error, pubs*events)
			for p := range pubs {
				wg.Go(func() {
					for n := 1; n <= events; n++ {
						if err := tp.Publish(ctx, pubMsg{Pub: p, N: n}); err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			for i, v := range views {
				waitClosed(t, v.all, fmt.Sprintf("every event at sub-%d", i))
			}
			closeBus(t, b)

			for i, v := range views {
				v.mu.Lock()
				assert.Equal(t, pubs*events, v.total, "sub-%d total", i)
				for p := range pubs {
					for n := 1; n <= events; n++ {
						if v.counts[p][n] != 1 {
							assert.Failf(t, "not exactly once", "sub-%d got event %d of publisher %d %d times", i, n, p, v.counts[p][n])
						}
					}
				}
				if conc == 1 {
					assert.True(t, v.order, "sub-%d saw a publisher's events out of order", i)
				}
				v.mu.Unlock()
				st := sss[i].Stats()
				assert.Equal(t, uint64(pubs*events), st.Enqueued, "sub-%d Enqueued", i)
				assert.Equal(t, uint64(pubs*events), st.Delivered, "sub-%d Delivered", i)
				assert.Zero(t, st.Dropped.Total(), "sub-%d Dropped", i)
			}
			assert.Equal(t, uint64(pubs*events), tp.Stats().Published)
		})
	}
}

func TestSingleWorkerKeepsPublishOrder(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "order.single")
	const n = 1000
	var (
		mu   sync.Mutex
		seqs []uint64
		vals []int
	)
	all := make(chan struct{})
	mustSubscribe(t, tp, "s", func(_ context.Context, e *Event[int]) error {
		mu.Lock()
		defer mu.Unlock()
		seqs = append(seqs, e.Sequence)
		vals = append(vals, e.Payload)
		if len(vals) == n {
			close(all)
		}
		return nil
	}, WithQueueCapacity(16))
	ctx := testCtx(t)
	for i := 1; i <= n; i++ {
		require.NoError(t, tp.Publish(ctx, i))
	}
	waitClosed(t, all, "every event")
	closeBus(t, b)
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		require.Equal(t, i+1, vals[i], "payload at position %d", i)
		require.Equal(t, uint64(i+1), seqs[i], "sequence at position %d", i)
	}
}

// keyedOrder publishes events of several keys from several publishers to
// a subscription with four workers and checks that each key's events are
// handled in publish order and never two at a time.
func keyedOrder(t *testing.T, byPublisherKey bool) {
	b := newBus(t)
	tp := mustTopic[pubMsg](t, b, "order.keyed")
	const (
		pubs        = 4
		keysPerPub  = 4
		eventsByKey = 150
		total       = pubs * keysPerPub * eventsByKey
	)
	type keyState struct {
		active  atomic.Int32
		last    atomic.Int64
		overlap atomic.Bool
		unorder atomic.Bool
	}
	states := make(map[string]*keyState)
	for p := range pubs {
		for k := range keysPerPub {
			states[fmt.Sprintf("p%d-k%d", p, k)] = &keyState{}
		}
	}
	var handled atomic.Int64
	all := make(chan struct{})
	handler := func(_ context.Context, e *Event[pubMsg]) error {
		ks := states[e.Payload.Key]
		if ks.active.Add(1) != 1 {
			ks.overlap.Store(true)
		}
		if int64(e.Payload.N) != ks.last.Load()+1 {
			ks.unorder.Store(true)
		}
		ks.last.Store(int64(e.Payload.N))
		for range 3 {
			runtime.Gosched()
		}
		ks.active.Add(-1)
		if handled.Add(1) == total {
			close(all)
		}
		return nil
	}
	opts := []SubscribeOption{WithConcurrency(4), WithQueueCapacity(64)}
	if !byPublisherKey {
		opts = append(opts, WithKeyFunc(func(e *Event[pubMsg]) string { return e.Payload.Key }))
	}
	sub := mustSubscribe(t, tp, "keyed", handler, opts...)

	ctx := testCtx(t)
	var wg sync.WaitGroup
	for p := range pubs {
		wg.Go(func() {
			for n := 1; n <= eventsByKey; n++ {
				for k := range keysPerPub {
					key := fmt.Sprintf("p%d-k%d", p, k)
					var popts []PublishOption
					if byPublisherKey {
						popts = append(popts, WithKey(key))
					}
					assert.NoError(t, tp.Publish(ctx, pubMsg{Pub: p, N: n, Key: key}, popts...))
				}
			}
		})
	}
	wg.Wait()
	waitClosed(t, all, "every keyed event")
	closeBus(t, b)
	for key, ks := range states {
		assert.False(t, ks.overlap.Load(), "two events of key %s were handled at once", key)
		assert.False(t, ks.unorder.Load(), "events of key %s were handled out of order", key)
		assert.Equal(t, int64(eventsByKey), ks.last.Load(), "last event of key %s", key)
	}
	assert.Equal(t, uint64(total), sub.Stats().Delivered)
}

func TestOrderingKeyKeepsPerKeyOrder(t *testing.T) {
	t.Run("WithKeyFunc", func(t *testing.T) { keyedOrder(t, false) })
	t.Run("WithKey", func(t *testing.T) { keyedOrder(t, true) })
}

// keysOnDistinctLanes returns two keys that go to different lanes of s.
func keysOnDistinctLanes(t *testing.T, s *Subscription) (string, string) {
	t.Helper()
	a := "key-a"
	for i := range 100 {
		b := fmt.Sprintf("key-b%d", i)
		if s.queue.LaneFor(a) != s.queue.LaneFor(b) {
			return a, b
		}
	}
	require.FailNow(t, "no two keys on distinct lanes")
	return "", ""
}

// parallelKeys proves that events of two keys on distinct lanes are
// handled in parallel: each handler waits, bounded, for the other one to
// start.
func parallelKeys(t *testing.T, byPublisherKey bool) {
	b := newBus(t)
	tp := mustTopic[pubMsg](t, b, "parallel.keys")

	arrived := make(chan string, 2)
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	met := make(chan bool, 2)
	handler := func(ctx context.Context, e *Event[pubMsg]) error {
		arrived <- e.Payload.Key
		select {
		case <-release:
			met <- true
		case <-ctx.Done():
			met <- false
		case <-time.After(testWait):
			met <- false
		}
		return nil
	}
	opts := []SubscribeOption{WithConcurrency(4)}
	if !byPublisherKey {
		opts = append(opts, WithKeyFunc(func(e *Event[pubMsg]) string { return e.Payload.Key }))
	}
	s := mustSubscribe(t, tp, "par", handler, opts...)
	k1, k2 := keysOnDistinctLanes(t, s)
	ctx := testCtx(t)
	for _, k := range []string{k1, k2} {
		var popts []PublishOption
		if byPublisherKey {
			popts = append(popts, WithKey(k))
		}
		require.NoError(t, tp.Publish(ctx, pubMsg{Key: k}, popts...))
	}
	got := map[string]bool{}
	got[recv(t, arrived, "the first key's handler")] = true
	got[recv(t, arrived, "the second key's handler, running alongside the first")] = true
	assert.Equal(t, map[string]bool{k1: true, k2: true}, got)
	releaseOnce.Do(func() { close(release) })
	assert.True(t, recv(t, met, "first handler"))
	assert.True(t, recv(t, met, "second handler"))
	closeBus(t, b)
}

func TestDifferentKeysRunInParallel(t *testing.T) {
	t.Run("WithKeyFunc", func(t *testing.T) { parallelKeys(t, false) })
	t.Run("WithKey", func(t *testing.T) { parallelKeys(t, true) })
}

func TestEnvelopeIsStamped(t *testing.T) {
	b := newBus(t)
	ta := mustTopic[string](t, b, "env.a")
	tb := mustTopic[string](t, b, "env.b")
	gotA := make(chan *Event[string], 16)
	gotB := make(chan *Event[string], 16)
	mustSubscribe(t, ta, "s", func(_ context.Context, e *Event[string]) error { gotA <- e; return nil })
	mustSubscribe(t, tb, "s", func(_ context.Context, e *Event[string]) error { gotB <- e; return nil })

	ctx := testCtx(t)
	before := time.Now()
	require.NoError(t, ta.Publish(ctx, "a1"))
	require.NoError(t, tb.Publish(ctx, "b1"))
	require.NoError(t, ta.Publish(ctx, "a2", WithKey("k-7")))
	require.NoError(t, tb.Publish(ctx, "b2"))
	require.NoError(t, ta.Publish(ctx, "a3"))
	after := time.Now()

	var evs []*Event[string]
	for i := 1; i <= 3; i++ {
		e := recv(t, gotA, "an event of env.a")
		assert.Equal(t, fmt.Sprintf("a%d", i), e.Payload)
		assert.Equal(t, "env.a", e.Topic)
		assert.Equal(t, uint64(i), e.Sequence, "env.a has its own sequence")
		evs = append(evs, e)
	}
	for i := 1; i <= 2; i++ {
		e := recv(t, gotB, "an event of env.b")
		assert.Equal(t, "env.b", e.Topic)
		assert.Equal(t, uint64(i), e.Sequence, "env.b has its own sequence")
		evs = append(evs, e)
	}
	assert.Equal(t, "k-7", evs[1].Key)
	assert.Empty(t, evs[0].Key)
	for _, e := range evs {
		assert.Equal(t, uuidVersion7, int(e.ID.Version()), "ID %s is not a version 7 UUID", e.ID)
		assert.Equal(t, "RFC4122", e.ID.Variant().String())
		assert.False(t, e.Time.Before(before), "Time before Publish")
		assert.False(t, e.Time.After(after), "Time after Publish")
		assert.Equal(t, e.ID.String(), e.CorrelationID, "a root event's correlation ID is its own ID")
		assert.Zero(t, e.CausationID, "a root event has no cause")
		assert.Nil(t, e.Metadata)
		assert.Same(t, &e.Envelope, e.EventEnvelope())
		assert.Equal(t, e.Payload, e.AnyPayload())
	}
	// Publish order a1, b1, a2, b2, a3: IDs increase in that order.
	order := []*Event[string]{evs[0], evs[3], evs[1], evs[4], evs[2]}
	for i := 1; i < len(order); i++ {
		assert.Less(t, order[i-1].ID.String(), order[i].ID.String(), "IDs must increase with publish order")
		assert.False(t, order[i].Time.Before(order[i-1].Time))
	}
}

const uuidVersion7 = 7

func TestIDsIncreaseOverManyPublishes(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "ids")
	const n = 2000
	got := make(chan *Event[int], n)
	mustSubscribe(t, tp, "s", func(_ context.Context, e *Event[int]) error { got <- e; return nil }, WithQueueCapacity(n))
	ctx := testCtx(t)
	for i := range n {
		require.NoError(t, tp.Publish(ctx, i))
	}
	prev := recv(t, got, "first event")
	for i := 1; i < n; i++ {
		e := recv(t, got, "an event")
		require.Equal(t, i, e.Payload)
		require.Less(t, prev.ID.String(), e.ID.String(), "event %d", i)
		require.EqualValues(t, 7, e.ID.Version())
		prev = e
	}
}

func TestMetadataOptions(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "meta")
	g := newGate[int]()
	mustSubscribe(t, tp, "s", g.handle)
	ctx := testCtx(t)

	m := map[string]string{"a": "1", "b": "2"}
	require.NoError(t, tp.Publish(ctx, 1, WithMetadata("x", "y"), WithMetadataMap(m), WithMetadata("b", "3")))
	// The map was copied: changing it after Publish does not change the
	// event, even before the handler ran.
	m["a"] = "changed"
	m["c"] = "new"
	delete(m, "b")
	require.NoError(t, tp.Publish(ctx, 2, WithMetadataMap(map[string]string{})))
	require.NoError(t, tp.Publish(ctx, 3, WithMetadata("k", ""), WithMetadata("k", "last")))
	g.open()

	e1 := recv(t, g.done, "event 1")
	assert.Equal(t, map[string]string{"x": "y", "a": "1", "b": "3"}, e1.Metadata)
	e2 := recv(t, g.done, "event 2")
	assert.Empty(t, e2.Metadata)
	e3 := recv(t, g.done, "event 3")
	assert.Equal(t, map[string]string{"k": "last"}, e3.Metadata)

	// Invalid publish options are rejected before the event is stamped.
	for name, opt := range map[string]PublishOption{
		"empty metadata key":   WithMetadata("", "v"),
		"empty key in a map":   WithMetadataMap(map[string]string{"": "v"}),
		"empty correlation id": WithCorrelationID(""),
		"zero PublishOption":   {},
	} {
		err := tp.Publish(ctx, 4, opt)
		assert.ErrorIs(t, err, ErrInvalidOption, name)
		err = tp.PublishSync(ctx, 4, opt)
		assert.ErrorIs(t, err, ErrInvalidOption, name)
	}
	assert.Equal(t, uint64(3), tp.Stats().Published, "rejected publishes are not counted")
}

// A handler's publishes are caused by the event it handles while its
// lane's worker claims, evictions take the events after it and a
// goroutine the handler started reads its ctx meanwhile (run with -race).
func TestCausationWhileEventsAreEvicted(t *testing.T) {
	b := newBus(t)
	in := mustTopic[int](t, b, "in")
	out := mustTopic[uuid.UUID](t, b, "out")
	const events = 2000
	type pair struct{ handled, causation uuid.UUID }
	pairs := make(chan pair, events)
	mustSubscribe(t, out, "check", func(_ context.Context, e *Event[uuid.UUID]) error {
		pairs <- pair{e.Payload, e.CausationID}
		return nil
	}, WithQueueCapacity(events))
	var readers sync.WaitGroup
	relay := mustSubscribe(t, in, "relay", func(ctx context.Context, e *Event[int]) error {
		readers.Go(func() { _, _ = DeliveryFromContext(ctx) })
		return out.Publish(ctx, e.ID)
	}, WithConcurrency(2), WithQueueCapacity(4), WithOverflow(OverflowDropOldest))
	ctx := testCtx(t)
	for i := range events {
		require.NoError(t, in.Publish(ctx, i))
	}
	require.NoError(t, b.WaitIdle(ctx))
	readers.Wait()
	close(pairs)
	n := 0
	for p := range pairs {
		assert.Equal(t, p.handled, p.causation)
		n++
	}
	st := relay.Stats()
	assert.Equal(t, st.Delivered, uint64(n), "one publish per handled event")
	assert.Equal(t, uint64(events), st.Delivered+st.Dropped.Evicted)
}

func TestCorrelationAndCausation(t *testing.T) {
	b := newBus(t)
	orders := mustTopic[string](t, b, "orders")
	billing := mustTopic[string](t, b, "billing")
	shipping := mustTopic[string](t, b, "shipping")

	type seen struct {
		e      *Event[string]
		corrIn string // CorrelationIDFromContext inside the handler
		ok     bool
	}
	rootSeen := make(chan seen, 8)
	billSeen := make(chan seen, 8)
	shipSeen := make(chan seen, 8)
	pubErrs := make(chan error, 16)
	mustSubscribe(t, orders, "biller", func(ctx context.Context, e *Event[string]) error {
		id, ok := CorrelationIDFromContext(ctx)
		rootSeen <- seen{e, id, ok}
		pubErrs <- billing.Publish(ctx, "bill-"+e.Payload)
		return nil
	})
	mustSubscribe(t, billing, "shipper", func(ctx context.Context, e *Event[string]) error {
		id, ok := CorrelationIDFromContext(ctx)
		billSeen <- seen{e, id, ok}
		// A ctx derived from the handler's keeps the chain.
		dctx, cancel := context.WithTimeout(ctx, testWait)
		defer cancel()
		pubErrs <- shipping.Publish(dctx, "ship-"+e.Payload)
		return nil
	})
	mustSubscribe(t, shipping, "end", func(ctx context.Context, e *Event[string]) error {
		id, ok := CorrelationIDFromContext(ctx)
		shipSeen <- seen{e, id, ok}
		return nil
	})

	check := func(t *testing.T, wantCorr string) {
		t.Helper()
		r := recv(t, rootSeen, "root event")
		bl := recv(t, billSeen, "billing event")
		sh := recv(t, shipSeen, "shipping event")
		require.NoError(t, recv(t, pubErrs, "publish from handler"))
		require.NoError(t, recv(t, pubErrs, "publish from handler"))
		if wantCorr == "" {
			wantCorr = r.e.ID.String()
		}
		assert.Equal(t, wantCorr, r.e.CorrelationID)
		assert.Zero(t, r.e.CausationID)
		assert.Equal(t, r.e.ID, bl.e.CausationID, "billing caused by the order")
		assert.Equal(t, bl.e.ID, sh.e.CausationID, "shipping caused by billing")
		for _, s := range []seen{r, bl, sh} {
			assert.Equal(t, wantCorr, s.e.CorrelationID, "correlation of %s", s.e.Topic)
			assert.True(t, s.ok)
			assert.Equal(t, wantCorr, s.corrIn, "CorrelationIDFromContext in the handler of %s", s.e.Topic)
		}
		assert.Equal(t, "bill-"+r.e.Payload, bl.e.Payload)
	}

	ctx := testCtx(t)
	t.Run("root", func(t *testing.T) {
		require.NoError(t, orders.Publish(ctx, "o1"))
		check(t, "")
	})
	t.Run("ContextWithCorrelationID", func(t *testing.T) {
		cctx := ContextWithCorrelationID(ctx, "request-42")
		id, ok := CorrelationIDFromContext(cctx)
		assert.True(t, ok)
		assert.Equal(t, "request-42", id)
		require.NoError(t, orders.Publish(cctx, "o2"))
		check(t, "request-42")
	})
	t.Run("WithCorrelationID wins over ctx", func(t *testing.T) {
		cctx := ContextWithCorrelationID(ctx, "request-43")
		require.NoError(t, orders.Publish(cctx, "o3", WithCorrelationID("explicit-1")))
		check(t, "explicit-1")
	})
	t.Run("plain ctx has none", func(t *testing.T) {
		id, ok := CorrelationIDFromContext(context.Background())
		assert.False(t, ok)
		assert.Empty(t, id)
		_, ok = CorrelationIDFromContext(ContextWithCorrelationID(ctx, ""))
		assert.False(t, ok)
	})
}

func TestPublishSyncWaitsForEveryHandler(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "sync.wait")
	g1, g2 := newGate[int](), newGate[int]()
	mustSubscribe(t, tp, "one", g1.handle)
	mustSubscribe(t, tp, "two", g2.handle, WithConcurrency(3))

	ctx := testCtx(t)
	returned := make(chan error, 1)
	go func() { returned <- tp.PublishSync(ctx, 7) }()
	recv(t, g1.started, "handler one to start")
	recv(t, g2.started, "handler two to start")
	nothingOn(t, returned, "PublishSync returned while handlers were running")
	g1.release(t)
	recv(t, g1.done, "handler one to finish")
	nothingOn(t, returned, "PublishSync returned while handler two was running")
	g2.release(t)
	require.NoError(t, recv(t, returned, "PublishSync to return"))
	// Both handlers reported before PublishSync returned.
	assert.Len(t, g2.done, 1)

	// No subscriber: nil at once.
	empty := mustTopic[int](t, b, "sync.empty")
	assert.NoError(t, empty.PublishSync(ctx, 1))
	assert.Equal(t, uint64(1), empty.Stats().NoSubscribers)
}

func TestPublishSyncJoinsHandlerErrors(t *testing.T) {
	sink, failures := errorSink()
	b := newBus(t, sink)
	tp := mustTopic[int](t, b, "sync.errors")
	errA := errors.New("a failed")
	errB := errors.New("b failed")
	var okCalls atomic.Int32
	mustSubscribe(t, tp, "a", func(context.Context, *Event[int]) error { return errA })
	mustSubscribe(t, tp, "b", func(context.Context, *Event[int]) error { return errB })
	mustSubscribe(t, tp, "ok", func(context.Context, *Event[int]) error { okCalls.Add(1); return nil })

	ctx := testCtx(t)
	err := tp.PublishSync(ctx, 1)
	require.Error(t, err)
	assert.ErrorIs(t, err, errA)
	assert.ErrorIs(t, err, errB)
	assert.Equal(t, int32(1), okCalls.Load(), "the successful handler ran before PublishSync returned")
	subs := map[string]error{}
	for _, leaf := range joined(err) {
		var de *DeliveryError
		require.ErrorAs(t, leaf, &de, "every joined error is a *DeliveryError: %v", leaf)
		assert.Equal(t, "sync.errors", de.Topic)
		assert.Equal(t, 1, de.Attempts)
		assert.Equal(t, 1, de.Message.AnyPayload())
		assert.Equal(t, de.EventID, de.Message.EventEnvelope().ID)
		subs[de.Subscriber] = de.Err
	}
	assert.Equal(t, map[string]error{"a": errA, "b": errB}, subs)

	// The failures went to the caller, not to the error handler: an
	// ordinary Publish that fails afterwards is the first thing the error
	// handler gets from each failing subscriber.
	require.NoError(t, tp.Publish(ctx, 2))
	for range 2 {
		de := recv(t, failures, "error handler call for the async failure")
		assert.Equal(t, 2, de.Message.AnyPayload(), "the error handler got a PublishSync failure from %s", de.Subscriber)
	}
	closeBus(t, b)
	nothingOn(t, failures, "more error handler calls")
}

func TestPublishSyncReportsDroppedEvents(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "sync.dropped")
	g := newGate[int]()
	mustSubscribe(t, tp, "slow", g.handle, WithQueueCapacity(1), WithOverflow(OverflowDropNewest))
	ctx := testCtx(t)

	require.NoError(t, tp.Publish(ctx, 1))
	recv(t, g.started, "event 1 to be handled")
	require.NoError(t, tp.Publish(ctx, 2)) // fills the queue
	err := tp.PublishSync(ctx, 3)          // dropped: returns without waiting
	require.ErrorIs(t, err, ErrDropped)
	var se *SubscriberError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "slow", se.Subscriber)
	assert.Equal(t, "sync.dropped", se.Topic)
	assert.Equal(t, uint64(1), subStats(t, b, "sync.dropped", "slow").Dropped.QueueFull)
	g.open()
	assert.Equal(t, []int{1, 2}, payloads(t, g.done, 2, "events 1 and 2"))
}

func TestPublishSyncReportsEvictedEvents(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "sync.evicted")
	g := newGate[int]()
	mustSubscribe(t, tp, "slow", g.handle, WithQueueCapacity(1), WithOverflow(OverflowDropOldest))
	ctx := testCtx(t)

	require.NoError(t, tp.Publish(ctx, 1))
	recv(t, g.started, "event 1 to be handled")
	// PublishSync waits on its ctx once event 2 is queued.
	returned := waitingCall(t, ctx, func(ctx context.Context) error { return tp.PublishSync(ctx, 2) })
	require.Equal(t, 1, subStats(t, b, "sync.evicted", "slow").QueueLength, "event 2 queued")
	nothingOn(t, returned, "PublishSync returned while its event was queued")
	require.NoError(t, tp.Publish(ctx, 3)) // evicts event 2
	err := recv(t, returned, "PublishSync of the evicted event")
	require.ErrorIs(t, err, ErrDropped)
	g.open()
	assert.Equal(t, []int{1, 3}, payloads(t, g.done, 2, "events 1 and 3"))
}

func TestPublishSyncReturnsWhenCtxEnds(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "sync.ctx")
	g := newGate[int]()
	mustSubscribe(t, tp, "slow", g.handle)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := tp.PublishSync(ctx, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// The event is still delivered.
	recv(t, g.started, "the event to be handled")
	g.open()
	assert.Equal(t, 1, recv(t, g.done, "the event").Payload)
}

// subStats returns the stats of the live subscription topic/sub from
// Bus.SubscriptionStats.
func subStats(t testing.TB, b *Bus, topic, sub string) SubscriptionStats {
	t.Helper()
	for _, st := range b.SubscriptionStats() {
		if st.Topic == topic && st.Subscriber == sub {
			return st
		}
	}
	require.FailNowf(t, "no such subscription", "%s/%s", topic, sub)
	return SubscriptionStats{}
}
