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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Helpers shared by the core behaviour tests (bus, topic, subscriber,
// overflow, close, stress, stats and options tests). Their names start with
// "ct" so that they cannot clash with the other test files of the package.

// ctWait bounds every wait for an event in the core tests. It is far longer
// than anything should take, so that a loaded machine does not make the
// tests flaky; a deadlock fails the test after it instead of hanging.
const ctWait = 10 * time.Second

// ctWaitFor receives one value from ch, failing the test if none arrives
// within d.
func ctWaitFor[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		require.FailNowf(t, "timed out", "after %s waiting for %s", d, what)
		var zero T
		return zero
	}
}

// ctWaitClosed waits for ch to be closed (or to yield a value).
func ctWaitClosed[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	ctWaitFor(t, ch, ctWait, what)
}

// ctNothing fails the test if ch holds a value right now.
func ctNothing[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		assert.Failf(t, "unexpected value", "%s: %v", what, v)
	default:
	}
}

// ctCtx returns a ctx bounded by ctWait, cancelled when the test ends.
func ctCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ctWait)
	t.Cleanup(cancel)
	return ctx
}

// ctNewBus returns a new bus that is closed when the test ends. If the test
// did not close the bus itself, that close must succeed within ctWait.
// Unless opts set another error handler, final failures go to the test's
// log (shown only when the test fails) instead of slog's default logger.
func ctNewBus(t testing.TB, opts ...Option) *Bus {
	t.Helper()
	logFailure := WithErrorHandler(func(_ context.Context, err *DeliveryError) { t.Logf("delivery failed: %v", err) })
	b, err := New(append([]Option{logFailure}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() {
		b.mu.Lock()
		closedByTest := b.closeStarted
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), ctWait)
		defer cancel()
		err := b.Close(ctx)
		if !closedByTest {
			assert.NoError(t, err, "closing the bus at the end of the test")
		}
	})
	return b
}

// ctClose closes b gracefully, requiring success within ctWait.
func ctClose(t testing.TB, b *Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ctWait)
	defer cancel()
	require.NoError(t, b.Close(ctx))
}

// ctTopic returns the topic name of b carrying T, requiring success.
func ctTopic[T any](t testing.TB, b *Bus, name string) *Topic[T] {
	t.Helper()
	tp, err := NewTopic[T](b, name)
	require.NoError(t, err)
	return tp
}

// ctSubscribe subscribes, requiring success.
func ctSubscribe[T any](t testing.TB, tp *Topic[T], name string, h Handler[T], opts ...SubscribeOption) *Subscription {
	t.Helper()
	s, err := tp.Subscribe(name, h, opts...)
	require.NoError(t, err)
	return s
}

// ctErrorSink returns a WithErrorHandler option forwarding every failure to
// the returned channel.
func ctErrorSink() (Option, <-chan *DeliveryError) {
	ch := make(chan *DeliveryError, 1024)
	return WithErrorHandler(func(_ context.Context, err *DeliveryError) { ch <- err }), ch
}

// ctGate is a handler that announces every event it starts on started, then
// waits until the test lets it go on (one event per step, or every event
// once opened), then reports the event on done. It gives up after ctWait or
// when its ctx is cancelled, returning an error, so that a broken bus fails
// a test instead of hanging it.
type ctGate[T any] struct {
	started chan *Event[T]
	done    chan *Event[T]
	step    chan struct{}
	opened  chan struct{}
	once    sync.Once
	ctxErrs chan error // the ctx error seen by handlers that gave up on ctx
}

func newCtGate[T any]() *ctGate[T] {
	return &ctGate[T]{
		started: make(chan *Event[T], 4096),
		done:    make(chan *Event[T], 4096),
		step:    make(chan struct{}),
		opened:  make(chan struct{}),
		ctxErrs: make(chan error, 4096),
	}
}

func (g *ctGate[T]) handle(ctx context.Context, e *Event[T]) error {
	g.started <- e
	timer := time.NewTimer(ctWait)
	defer timer.Stop()
	select {
	case <-g.step:
	case <-g.opened:
	case <-ctx.Done():
		g.ctxErrs <- ctx.Err()
		return ctx.Err()
	case <-timer.C:
		return errors.New("ctGate: never released")
	}
	g.done <- e
	return nil
}

// release lets one waiting (or the next) handler call go on.
func (g *ctGate[T]) release(t testing.TB) {
	t.Helper()
	select {
	case g.step <- struct{}{}:
	case <-time.After(ctWait):
		require.FailNow(t, "timed out releasing a gated handler")
	}
}

// open lets every handler call go on, now and later.
func (g *ctGate[T]) open() { g.once.Do(func() { close(g.opened) }) }

// ctPayloads receives n events from ch and returns their payloads.
func ctPayloads[T any](t testing.TB, ch <-chan *Event[T], n int, what string) []T {
	t.Helper()
	out := make([]T, 0, n)
	for range n {
		out = append(out, ctWaitFor(t, ch, ctWait, what).Payload)
	}
	return out
}

// ctRecvN receives n values from ch.
func ctRecvN[T any](t testing.TB, ch <-chan T, n int, what string) []T {
	t.Helper()
	out := make([]T, 0, n)
	for range n {
		out = append(out, ctWaitFor(t, ch, ctWait, what))
	}
	return out
}

// ctMsg is the payload of the fan-out and ordering tests.
type ctMsg struct {
	Pub int    // publisher
	N   int    // 1, 2, 3, ... per publisher (or per key)
	Key string // ordering key, if any
}

// ---------------------------------------------------------------------------

func TestFanOutEveryEventExactlyOnce(t *testing.T) {
	const (
		pubs   = 4
		subs   = 8
		events = 500
	)
	for _, conc := range []int{1, 4} {
		t.Run(fmt.Sprintf("concurrency=%d", conc), func(t *testing.T) {
			b := ctNewBus(t)
			tp := ctTopic[ctMsg](t, b, "fan.out")

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
				sss[i] = ctSubscribe(t, tp, fmt.Sprintf("sub-%d", i), func(_ context.Context, e *Event[ctMsg]) error {
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

			ctx := ctCtx(t)
			var wg sync.WaitGroup
			errs := make(chan error, pubs*events)
			for p := range pubs {
				wg.Go(func() {
					for n := 1; n <= events; n++ {
						if err := tp.Publish(ctx, ctMsg{Pub: p, N: n}); err != nil {
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
				ctWaitClosed(t, v.all, fmt.Sprintf("every event at sub-%d", i))
			}
			ctClose(t, b)

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
	b := ctNewBus(t)
	tp := ctTopic[int](t, b, "order.single")
	const n = 1000
	var (
		mu   sync.Mutex
		seqs []uint64
		vals []int
	)
	all := make(chan struct{})
	ctSubscribe(t, tp, "s", func(_ context.Context, e *Event[int]) error {
		mu.Lock()
		defer mu.Unlock()
		seqs = append(seqs, e.Sequence)
		vals = append(vals, e.Payload)
		if len(vals) == n {
			close(all)
		}
		return nil
	}, WithQueueCapacity(16))
	ctx := ctCtx(t)
	for i := 1; i <= n; i++ {
		require.NoError(t, tp.Publish(ctx, i))
	}
	ctWaitClosed(t, all, "every event")
	ctClose(t, b)
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		require.Equal(t, i+1, vals[i], "payload at position %d", i)
		require.Equal(t, uint64(i+1), seqs[i], "sequence at position %d", i)
	}
}

// ctKeyedOrder publishes events of several keys from several publishers to
// a subscription with four workers and checks that each key's events are
// handled in publish order and never two at a time.
func ctKeyedOrder(t *testing.T, byPublisherKey bool) {
	b := ctNewBus(t)
	tp := ctTopic[ctMsg](t, b, "order.keyed")
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
	handler := func(_ context.Context, e *Event[ctMsg]) error {
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
		opts = append(opts, WithOrderingKey(func(e *Event[ctMsg]) string { return e.Payload.Key }))
	}
	sub := ctSubscribe(t, tp, "keyed", handler, opts...)

	ctx := ctCtx(t)
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
					assert.NoError(t, tp.Publish(ctx, ctMsg{Pub: p, N: n, Key: key}, popts...))
				}
			}
		})
	}
	wg.Wait()
	ctWaitClosed(t, all, "every keyed event")
	ctClose(t, b)
	for key, ks := range states {
		assert.False(t, ks.overlap.Load(), "two events of key %s were handled at once", key)
		assert.False(t, ks.unorder.Load(), "events of key %s were handled out of order", key)
		assert.Equal(t, int64(eventsByKey), ks.last.Load(), "last event of key %s", key)
	}
	assert.Equal(t, uint64(total), sub.Stats().Delivered)
}

func TestOrderingKeyKeepsPerKeyOrder(t *testing.T) {
	t.Run("WithOrderingKey", func(t *testing.T) { ctKeyedOrder(t, false) })
	t.Run("WithKey", func(t *testing.T) { ctKeyedOrder(t, true) })
}

// ctKeysOnDistinctLanes returns two keys that go to different lanes of s.
func ctKeysOnDistinctLanes(t *testing.T, s *Subscription) (string, string) {
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

// ctParallelKeys proves that events of two keys on distinct lanes are
// handled in parallel: each handler waits, bounded, for the other one to
// start.
func ctParallelKeys(t *testing.T, byPublisherKey bool) {
	b := ctNewBus(t)
	tp := ctTopic[ctMsg](t, b, "parallel.keys")

	arrived := make(chan string, 2)
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	met := make(chan bool, 2)
	handler := func(ctx context.Context, e *Event[ctMsg]) error {
		arrived <- e.Payload.Key
		select {
		case <-release:
			met <- true
		case <-ctx.Done():
			met <- false
		case <-time.After(ctWait):
			met <- false
		}
		return nil
	}
	opts := []SubscribeOption{WithConcurrency(4)}
	if !byPublisherKey {
		opts = append(opts, WithOrderingKey(func(e *Event[ctMsg]) string { return e.Payload.Key }))
	}
	s := ctSubscribe(t, tp, "par", handler, opts...)
	k1, k2 := ctKeysOnDistinctLanes(t, s)
	ctx := ctCtx(t)
	for _, k := range []string{k1, k2} {
		var popts []PublishOption
		if byPublisherKey {
			popts = append(popts, WithKey(k))
		}
		require.NoError(t, tp.Publish(ctx, ctMsg{Key: k}, popts...))
	}
	got := map[string]bool{}
	got[ctWaitFor(t, arrived, ctWait, "the first key's handler")] = true
	got[ctWaitFor(t, arrived, ctWait, "the second key's handler, running alongside the first")] = true
	assert.Equal(t, map[string]bool{k1: true, k2: true}, got)
	releaseOnce.Do(func() { close(release) })
	assert.True(t, ctWaitFor(t, met, ctWait, "first handler"))
	assert.True(t, ctWaitFor(t, met, ctWait, "second handler"))
	ctClose(t, b)
}

func TestDifferentKeysRunInParallel(t *testing.T) {
	t.Run("WithOrderingKey", func(t *testing.T) { ctParallelKeys(t, false) })
	t.Run("WithKey", func(t *testing.T) { ctParallelKeys(t, true) })
}

func TestEnvelopeIsStamped(t *testing.T) {
	b := ctNewBus(t)
	ta := ctTopic[string](t, b, "env.a")
	tb := ctTopic[string](t, b, "env.b")
	gotA := make(chan *Event[string], 16)
	gotB := make(chan *Event[string], 16)
	ctSubscribe(t, ta, "s", func(_ context.Context, e *Event[string]) error { gotA <- e; return nil })
	ctSubscribe(t, tb, "s", func(_ context.Context, e *Event[string]) error { gotB <- e; return nil })

	ctx := ctCtx(t)
	before := time.Now()
	require.NoError(t, ta.Publish(ctx, "a1"))
	require.NoError(t, tb.Publish(ctx, "b1"))
	require.NoError(t, ta.Publish(ctx, "a2", WithKey("k-7")))
	require.NoError(t, tb.Publish(ctx, "b2"))
	require.NoError(t, ta.Publish(ctx, "a3"))
	after := time.Now()

	var evs []*Event[string]
	for i := 1; i <= 3; i++ {
		e := ctWaitFor(t, gotA, ctWait, "an event of env.a")
		assert.Equal(t, fmt.Sprintf("a%d", i), e.Payload)
		assert.Equal(t, "env.a", e.Topic)
		assert.Equal(t, uint64(i), e.Sequence, "env.a has its own sequence")
		evs = append(evs, e)
	}
	for i := 1; i <= 2; i++ {
		e := ctWaitFor(t, gotB, ctWait, "an event of env.b")
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
		assert.Same(t, &e.Envelope, e.Header())
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
	b := ctNewBus(t)
	tp := ctTopic[int](t, b, "ids")
	const n = 2000
	got := make(chan *Event[int], n)
	ctSubscribe(t, tp, "s", func(_ context.Context, e *Event[int]) error { got <- e; return nil }, WithQueueCapacity(n))
	ctx := ctCtx(t)
	for i := range n {
		require.NoError(t, tp.Publish(ctx, i))
	}
	prev := ctWaitFor(t, got, ctWait, "first event")
	for i := 1; i < n; i++ {
		e := ctWaitFor(t, got, ctWait, "an event")
		require.Equal(t, i, e.Payload)
		require.Less(t, prev.ID.String(), e.ID.String(), "event %d", i)
		require.EqualValues(t, 7, e.ID.Version())
		prev = e
	}
}

func TestMetadataOptions(t *testing.T) {
	b := ctNewBus(t)
	tp := ctTopic[int](t, b, "meta")
	g := newCtGate[int]()
	ctSubscribe(t, tp, "s", g.handle)
	ctx := ctCtx(t)

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

	e1 := ctWaitFor(t, g.done, ctWait, "event 1")
	assert.Equal(t, map[string]string{"x": "y", "a": "1", "b": "3"}, e1.Metadata)
	e2 := ctWaitFor(t, g.done, ctWait, "event 2")
	assert.Empty(t, e2.Metadata)
	e3 := ctWaitFor(t, g.done, ctWait, "event 3")
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

func TestCorrelationAndCausation(t *testing.T) {
	b := ctNewBus(t)
	orders := ctTopic[string](t, b, "orders")
	billing := ctTopic[string](t, b, "billing")
	shipping := ctTopic[string](t, b, "shipping")

	type seen struct {
		e      *Event[string]
		corrIn string // CorrelationIDFromContext inside the handler
		ok     bool
	}
	rootSeen := make(chan seen, 8)
	billSeen := make(chan seen, 8)
	shipSeen := make(chan seen, 8)
	pubErrs := make(chan error, 16)
	ctSubscribe(t, orders, "biller", func(ctx context.Context, e *Event[string]) error {
		id, ok := CorrelationIDFromContext(ctx)
		rootSeen <- seen{e, id, ok}
		pubErrs <- billing.Publish(ctx, "bill-"+e.Payload)
		return nil
	})
	ctSubscribe(t, billing, "shipper", func(ctx context.Context, e *Event[string]) error {
		id, ok := CorrelationIDFromContext(ctx)
		billSeen <- seen{e, id, ok}
		// A ctx derived from the handler's keeps the chain.
		dctx, cancel := context.WithTimeout(ctx, ctWait)
		defer cancel()
		pubErrs <- shipping.Publish(dctx, "ship-"+e.Payload)
		return nil
	})
	ctSubscribe(t, shipping, "end", func(ctx context.Context, e *Event[string]) error {
		id, ok := CorrelationIDFromContext(ctx)
		shipSeen <- seen{e, id, ok}
		return nil
	})

	check := func(t *testing.T, wantCorr string) {
		t.Helper()
		r := ctWaitFor(t, rootSeen, ctWait, "root event")
		bl := ctWaitFor(t, billSeen, ctWait, "billing event")
		sh := ctWaitFor(t, shipSeen, ctWait, "shipping event")
		require.NoError(t, ctWaitFor(t, pubErrs, ctWait, "publish from handler"))
		require.NoError(t, ctWaitFor(t, pubErrs, ctWait, "publish from handler"))
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

	ctx := ctCtx(t)
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
	b := ctNewBus(t)
	tp := ctTopic[int](t, b, "sync.wait")
	g1, g2 := newCtGate[int](), newCtGate[int]()
	ctSubscribe(t, tp, "one", g1.handle)
	ctSubscribe(t, tp, "two", g2.handle, WithConcurrency(3))

	ctx := ctCtx(t)
	returned := make(chan error, 1)
	go func() { returned <- tp.PublishSync(ctx, 7) }()
	ctWaitFor(t, g1.started, ctWait, "handler one to start")
	ctWaitFor(t, g2.started, ctWait, "handler two to start")
	ctNothing(t, returned, "PublishSync returned while handlers were running")
	g1.release(t)
	ctWaitFor(t, g1.done, ctWait, "handler one to finish")
	ctNothing(t, returned, "PublishSync returned while handler two was running")
	g2.release(t)
	require.NoError(t, ctWaitFor(t, returned, ctWait, "PublishSync to return"))
	// Both handlers reported before PublishSync returned.
	assert.Len(t, g2.done, 1)

	// No subscriber: nil at once.
	empty := ctTopic[int](t, b, "sync.empty")
	assert.NoError(t, empty.PublishSync(ctx, 1))
	assert.Equal(t, uint64(1), empty.Stats().NoSubscribers)
}

// ctJoined flattens an errors.Join tree into its leaves that are
// *DeliveryError or *SubscriberError, plus any other leaf.
func ctJoined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, ctJoined(e)...)
		}
		return out
	}
	return []error{err}
}

func TestPublishSyncJoinsHandlerErrors(t *testing.T) {
	sink, failures := ctErrorSink()
	b := ctNewBus(t, sink)
	tp := ctTopic[int](t, b, "sync.errors")
	errA := errors.New("a failed")
	errB := errors.New("b failed")
	var okCalls atomic.Int32
	ctSubscribe(t, tp, "a", func(context.Context, *Event[int]) error { return errA })
	ctSubscribe(t, tp, "b", func(context.Context, *Event[int]) error { return errB })
	ctSubscribe(t, tp, "ok", func(context.Context, *Event[int]) error { okCalls.Add(1); return nil })

	ctx := ctCtx(t)
	err := tp.PublishSync(ctx, 1)
	require.Error(t, err)
	assert.ErrorIs(t, err, errA)
	assert.ErrorIs(t, err, errB)
	assert.Equal(t, int32(1), okCalls.Load(), "the successful handler ran before PublishSync returned")
	subs := map[string]error{}
	for _, leaf := range ctJoined(err) {
		var de *DeliveryError
		require.ErrorAs(t, leaf, &de, "every joined error is a *DeliveryError: %v", leaf)
		assert.Equal(t, "sync.errors", de.Topic)
		assert.Equal(t, 1, de.Attempts)
		assert.Equal(t, 1, de.Message.AnyPayload())
		assert.Equal(t, de.EventID, de.Message.Header().ID)
		subs[de.Subscriber] = de.Err
	}
	assert.Equal(t, map[string]error{"a": errA, "b": errB}, subs)

	// The failures went to the caller, not to the error handler: an
	// ordinary Publish that fails afterwards is the first thing the error
	// handler gets from each failing subscriber.
	require.NoError(t, tp.Publish(ctx, 2))
	for range 2 {
		de := ctWaitFor(t, failures, ctWait, "error handler call for the async failure")
		assert.Equal(t, 2, de.Message.AnyPayload(), "the error handler got a PublishSync failure from %s", de.Subscriber)
	}
	ctClose(t, b)
	ctNothing(t, failures, "more error handler calls")
}

func TestPublishSyncReportsDroppedEvents(t *testing.T) {
	b := ctNewBus(t)
	tp := ctTopic[int](t, b, "sync.dropped")
	g := newCtGate[int]()
	ctSubscribe(t, tp, "slow", g.handle, WithQueueCapacity(1), WithOverflow(OverflowDropNewest))
	ctx := ctCtx(t)

	require.NoError(t, tp.Publish(ctx, 1))
	ctWaitFor(t, g.started, ctWait, "event 1 to be handled")
	require.NoError(t, tp.Publish(ctx, 2)) // fills the queue
	err := tp.PublishSync(ctx, 3)          // dropped: returns without waiting
	require.ErrorIs(t, err, ErrDropped)
	var se *SubscriberError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "slow", se.Subscriber)
	assert.Equal(t, "sync.dropped", se.Topic)
	assert.Equal(t, uint64(1), ctSubStats(t, b, "sync.dropped", "slow").Dropped.QueueFull)
	g.open()
	assert.Equal(t, []int{1, 2}, ctPayloads(t, g.done, 2, "events 1 and 2"))
}

func TestPublishSyncReportsEvictedEvents(t *testing.T) {
	b := ctNewBus(t)
	tp := ctTopic[int](t, b, "sync.evicted")
	g := newCtGate[int]()
	ctSubscribe(t, tp, "slow", g.handle, WithQueueCapacity(1), WithOverflow(OverflowDropOldest))
	ctx := ctCtx(t)

	require.NoError(t, tp.Publish(ctx, 1))
	ctWaitFor(t, g.started, ctWait, "event 1 to be handled")
	returned := make(chan error, 1)
	go func() { returned <- tp.PublishSync(ctx, 2) }()
	require.Eventually(t, func() bool { return ctSubStats(t, b, "sync.evicted", "slow").QueueLength == 1 },
		ctWait, time.Millisecond, "event 2 queued")
	ctNothing(t, returned, "PublishSync returned while its event was queued")
	require.NoError(t, tp.Publish(ctx, 3)) // evicts event 2
	err := ctWaitFor(t, returned, ctWait, "PublishSync of the evicted event")
	require.ErrorIs(t, err, ErrDropped)
	g.open()
	assert.Equal(t, []int{1, 3}, ctPayloads(t, g.done, 2, "events 1 and 3"))
}

func TestPublishSyncReturnsWhenCtxEnds(t *testing.T) {
	b := ctNewBus(t)
	tp := ctTopic[int](t, b, "sync.ctx")
	g := newCtGate[int]()
	ctSubscribe(t, tp, "slow", g.handle)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := tp.PublishSync(ctx, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// The event is still delivered.
	ctWaitFor(t, g.started, ctWait, "the event to be handled")
	g.open()
	assert.Equal(t, 1, ctWaitFor(t, g.done, ctWait, "the event").Payload)
}

// ctSubStats returns the stats of the live subscription topic/sub from
// Bus.SubscriptionStats.
func ctSubStats(t testing.TB, b *Bus, topic, sub string) SubscriptionStats {
	t.Helper()
	for _, st := range b.SubscriptionStats() {
		if st.Topic == topic && st.Subscriber == sub {
			return st
		}
	}
	require.FailNowf(t, "no such subscription", "%s/%s", topic, sub)
	return SubscriptionStats{}
}
