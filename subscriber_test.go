package eventbus

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSubscribeErrors(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "sub.errors")
	other := mustTopic[int](t, b, "sub.other")

	s1 := mustSubscribe(t, tp, "worker", nopHandler[int])
	assert.Equal(t, "worker", s1.Name())
	assert.Equal(t, "sub.errors", s1.Topic())

	_, err := tp.Subscribe("worker", nopHandler[int])
	assert.ErrorIs(t, err, ErrDuplicateSubscriber)
	// The same name on another topic is fine.
	mustSubscribe(t, other, "worker", nopHandler[int])

	_, err = tp.Subscribe("nil-handler", nil)
	assert.ErrorIs(t, err, ErrNilHandler)

	for _, name := range []string{"", "a.b", "a b", "a*", "ü", strings.Repeat("x", 256)} {
		_, err = tp.Subscribe(name, nopHandler[int])
		assert.ErrorIs(t, err, ErrInvalidSubscriber, "name %q", name)
	}
	assert.Equal(t, []string{"worker"}, tp.Stats().Subscribers, "failed Subscribe calls added nobody")
	assert.Equal(t, 2, b.Stats().Subscriptions)

	// Reuse after Unsubscribe.
	s1.Unsubscribe()
	waitClosed(t, s1.Done(), "the unsubscribed subscription to stop")
	s2 := mustSubscribe(t, tp, "worker", nopHandler[int])
	assert.NotSame(t, s1, s2)

	// Reuse once a drain has started, even before it ends.
	g := newGate[int]()
	s3 := mustSubscribe(t, tp, "drainer", g.handle)
	require.NoError(t, tp.Publish(testCtx(t), 1))
	recv(t, g.started, "the drainer's handler")
	drained := waitingCall(t, testCtx(t), s3.Drain) // Drain waits once it has detached the subscription
	require.NotContains(t, tp.Stats().Subscribers, "drainer", "Drain detaches the subscription")
	s4 := mustSubscribe(t, tp, "drainer", nopHandler[int])
	assert.NotSame(t, s3, s4)
	assert.False(t, isDone(s3))
	g.open()
	require.NoError(t, recv(t, drained, "Drain"))
	assert.True(t, isDone(s3))
}

func TestFilterCountsFiltered(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "filter")
	got := make(chan *Event[int], 16)
	s := mustSubscribe(t, tp, "even", func(_ context.Context, e *Event[int]) error { got <- e; return nil },
		WithFilter(func(e *Event[int]) bool { return e.Payload%2 == 0 }))
	all := make(chan *Event[int], 16)
	mustSubscribe(t, tp, "all", func(_ context.Context, e *Event[int]) error { all <- e; return nil })
	ctx := testCtx(t)
	for i := range 10 {
		require.NoError(t, tp.Publish(ctx, i))
	}
	assert.Equal(t, []int{0, 2, 4, 6, 8}, payloads(t, got, 5, "even events"))
	assert.Len(t, payloads(t, all, 10, "all events"), 10)
	closeBus(t, b)
	st := s.Stats()
	assert.Equal(t, uint64(5), st.Filtered)
	assert.Equal(t, uint64(5), st.Enqueued)
	assert.Equal(t, uint64(5), st.Delivered)
	assert.Zero(t, st.Failed)
	assert.Equal(t, uint64(5), b.Stats().Totals.Filtered)
}

func TestPanickingFilterOrKeyIsReported(t *testing.T) {
	sink, failures := errorSink()
	b := newBus(t, sink)
	tp := mustTopic[int](t, b, "panicky")
	got := make(chan *Event[int], 16)
	okSub := mustSubscribe(t, tp, "ok", func(_ context.Context, e *Event[int]) error { got <- e; return nil })
	var filterHandled, keyHandled atomic.Int32
	filterSub := mustSubscribe(t, tp, "bad-filter", func(context.Context, *Event[int]) error { filterHandled.Add(1); return nil },
		WithFilter(func(e *Event[int]) bool {
			if e.Payload == 1 {
				panic("filter boom")
			}
			return true
		}))
	keySub := mustSubscribe(t, tp, "bad-key", func(context.Context, *Event[int]) error { keyHandled.Add(1); return nil },
		WithConcurrency(2),
		WithKeyFunc(func(e *Event[int]) string {
			if e.Payload == 1 {
				panic(errors.New("key boom"))
			}
			return "k"
		}))

	ctx := testCtx(t)
	require.NotPanics(t, func() { require.NoError(t, tp.Publish(ctx, 1)) })
	failed := map[string]*DeliveryError{}
	for range 2 {
		de := recv(t, failures, "a failure report")
		failed[de.Subscriber] = de
	}
	require.Contains(t, failed, "bad-filter")
	require.Contains(t, failed, "bad-key")
	for name, de := range failed {
		var pe *PanicError
		require.ErrorAs(t, de, &pe, name)
		assert.Equal(t, "panicky", de.Topic)
		assert.Equal(t, 1, de.Message.AnyPayload())
		assert.NotEmpty(t, pe.Stack)
	}
	assert.Contains(t, failed["bad-filter"].Error(), "filter boom")
	assert.Contains(t, failed["bad-key"].Error(), "key boom")
	assert.Equal(t, 1, recv(t, got, "the healthy subscriber's event").Payload)

	// PublishSync gets the failure itself; the error handler does not.
	err := tp.PublishSync(ctx, 1)
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	subs := map[string]bool{}
	for _, leaf := range joined(err) {
		var de *DeliveryError
		require.ErrorAs(t, leaf, &de)
		subs[de.Subscriber] = true
	}
	assert.Equal(t, map[string]bool{"bad-filter": true, "bad-key": true}, subs)
	assert.Equal(t, 1, recv(t, got, "the healthy subscriber's event").Payload)

	// Other events pass.
	require.NoError(t, tp.PublishSync(ctx, 2))
	closeBus(t, b)
	nothingOn(t, failures, "error handler calls for PublishSync failures")
	for _, s := range []*Subscription{filterSub, keySub} {
		st := s.Stats()
		assert.Equal(t, uint64(2), st.Failed, s.Name())
		assert.Equal(t, uint64(3), st.Enqueued, s.Name())
		assert.Equal(t, uint64(1), st.Delivered, s.Name())
	}
	assert.Equal(t, int32(1), filterHandled.Load())
	assert.Equal(t, int32(1), keyHandled.Load())
	assert.Equal(t, uint64(3), okSub.Stats().Delivered)
}

func TestUnsubscribeDropsQueuedEvents(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "unsub")
	g := newGate[int]()
	s := mustSubscribe(t, tp, "s", g.handle)
	ctx := testCtx(t)
	for i := 1; i <= 4; i++ {
		require.NoError(t, tp.Publish(ctx, i))
	}
	recv(t, g.started, "event 1 to start")
	assert.Equal(t, 3, s.Stats().QueueLength)
	s.Unsubscribe()
	assert.ErrorIs(t, recv(t, g.ctxErrs, "the handler's ctx to be cancelled"), context.Canceled)
	waitClosed(t, s.Done(), "Done after Unsubscribe")
	s.Unsubscribe() // again: harmless
	assert.Empty(t, tp.Stats().Subscribers)
	require.NoError(t, tp.Publish(ctx, 5))
	assert.Equal(t, uint64(1), tp.Stats().NoSubscribers)

	st := s.Stats()
	assert.Equal(t, uint64(4), st.Enqueued)
	assert.Equal(t, uint64(4), st.Dropped.Unsubscribed, "three queued, and the cancelled one")
	assert.Zero(t, st.Failed, "the cancelled handler returned its ctx's error: not a failure")
	assert.Zero(t, st.QueueLength)
	assert.Zero(t, st.InFlight)
	assert.Len(t, g.started, 0, "no queued event was handled after Unsubscribe")
	assert.Equal(t, 0, b.Stats().Subscriptions)
	assert.Equal(t, uint64(4), b.Stats().Totals.Dropped.Unsubscribed)
}

func TestUnsubscribeDoneWaitsForRunningHandler(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "unsub.wait")
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	s := mustSubscribe(t, tp, "stubborn", func(ctx context.Context, _ *Event[int]) error {
		started <- struct{}{}
		select { // ignores ctx on purpose
		case <-release:
		case <-time.After(testWait):
		}
		return nil
	})
	require.NoError(t, tp.Publish(testCtx(t), 1))
	recv(t, started, "the handler")
	s.Unsubscribe()
	assert.False(t, isDone(s), "Done closed while a handler still runs")
	assert.Equal(t, 1, b.Stats().Subscriptions, "a stopping subscription is still live")
	close(release)
	waitClosed(t, s.Done(), "Done after the handler returned")
	assert.Equal(t, uint64(1), s.Stats().Delivered)
}

func TestDrainHandlesQueuedEvents(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "drain")
	g := newGate[int]()
	s := mustSubscribe(t, tp, "s", g.handle, WithConcurrency(2))
	ctx := testCtx(t)
	for i := 1; i <= 6; i++ {
		require.NoError(t, tp.Publish(ctx, i))
	}
	recv(t, g.started, "a handler to start")
	drained := waitingCall(t, ctx, s.Drain) // Drain waits once it has detached the subscription
	require.Empty(t, tp.Stats().Subscribers, "Drain detaches the subscription")
	require.NoError(t, tp.Publish(ctx, 7)) // not for the draining subscription
	nothingOn(t, drained, "Drain returned before the queue was handled")
	g.open()
	require.NoError(t, recv(t, drained, "Drain"))
	assert.True(t, isDone(s))
	got := payloads(t, g.done, 6, "the queued events")
	assert.ElementsMatch(t, []int{1, 2, 3, 4, 5, 6}, got)
	nothingOn(t, g.done, "an event published after Drain")
	st := s.Stats()
	assert.Equal(t, uint64(6), st.Enqueued)
	assert.Equal(t, uint64(6), st.Delivered)
	assert.Zero(t, st.Dropped.Total())
	// Drain again: returns at once.
	require.NoError(t, s.Drain(ctx))
}

func TestDrainWithExpiringCtx(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "drain.expire")
	g := newGate[int]()
	s := mustSubscribe(t, tp, "slow", g.handle)
	ctx := testCtx(t)
	for i := 1; i <= 3; i++ {
		require.NoError(t, tp.Publish(ctx, i))
	}
	recv(t, g.started, "event 1 to start")
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := s.Drain(dctx)
	require.Error(t, err)
	var ce *CloseError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, map[string]int{"drain.expire/slow": 2}, ce.Undelivered)
	assert.Equal(t, 2, ce.Total())
	assert.ErrorIs(t, recv(t, g.ctxErrs, "the handler's ctx to be cancelled"), context.Canceled)
	waitClosed(t, s.Done(), "Done")
	st := s.Stats()
	assert.Equal(t, uint64(3), st.Dropped.Unsubscribed, "two queued, and the cancelled one")
	assert.Zero(t, st.Failed)
	assert.Equal(t, st.Enqueued, st.Delivered+st.Failed+st.Dropped.Unsubscribed)
}

func TestSubscriptionControlFromHandlers(t *testing.T) {
	b := newBus(t)
	ctrl := mustTopic[string](t, b, "ctrl")
	data := mustTopic[int](t, b, "ctrl.data")
	side := mustTopic[int](t, b, "ctrl.side")
	ctx := testCtx(t)

	// Subscriptions that the control handler acts on.
	victimGate := newGate[int]()
	victim := mustSubscribe(t, side, "victim", victimGate.handle)
	drainGate := newGate[int]()
	drainee := mustSubscribe(t, data, "drainee", drainGate.handle)

	fresh := make(chan *Event[int], 4)
	syncSeen := make(chan *Event[int], 4)
	mustSubscribe(t, side, "sync-target", func(_ context.Context, e *Event[int]) error { syncSeen <- e; return nil })
	results := make(chan error, 16)
	mustSubscribe(t, ctrl, "controller", func(ctx context.Context, e *Event[string]) error {
		switch e.Payload {
		case "subscribe-and-publish":
			_, err := data.Subscribe("fresh", func(_ context.Context, e *Event[int]) error { fresh <- e; return nil })
			results <- err
			results <- data.Publish(ctx, 42)
		case "unsubscribe":
			victim.Unsubscribe()
			results <- nil
		case "drain":
			dctx, cancel := context.WithTimeout(ctx, testWait)
			defer cancel()
			results <- drainee.Drain(dctx)
		case "publish-sync":
			results <- side.PublishSync(ctx, 7)
		}
		return nil
	})

	t.Run("subscribe and publish", func(t *testing.T) {
		require.NoError(t, ctrl.Publish(ctx, "subscribe-and-publish"))
		require.NoError(t, recv(t, results, "Subscribe from a handler"))
		require.NoError(t, recv(t, results, "Publish from a handler"))
		e := recv(t, fresh, "the new subscriber's event")
		assert.Equal(t, 42, e.Payload)
		assert.NotZero(t, e.CausationID)
		// The drainee got it too; let it through.
		drainGate.release(t)
		assert.Equal(t, 42, recv(t, drainGate.done, "drainee's event").Payload)
	})
	t.Run("unsubscribe another", func(t *testing.T) {
		require.NoError(t, ctrl.Publish(ctx, "unsubscribe"))
		require.NoError(t, recv(t, results, "Unsubscribe from a handler"))
		waitClosed(t, victim.Done(), "the victim to stop")
	})
	t.Run("publish sync", func(t *testing.T) {
		require.NoError(t, ctrl.Publish(ctx, "publish-sync"))
		require.NoError(t, recv(t, results, "PublishSync from a handler"))
		assert.Equal(t, 7, recv(t, syncSeen, "the synced event").Payload)
	})
	t.Run("drain another", func(t *testing.T) {
		for i := 1; i <= 3; i++ {
			require.NoError(t, data.Publish(ctx, i))
		}
		recv(t, drainGate.started, "drainee's handler") // the 42 one
		recv(t, drainGate.started, "drainee's handler on event 1")
		require.NoError(t, ctrl.Publish(ctx, "drain"))
		nothingOn(t, results, "the drain finished with events queued")
		drainGate.open()
		require.NoError(t, recv(t, results, "Drain from a handler"))
		assert.True(t, isDone(drainee))
		assert.Equal(t, uint64(4), drainee.Stats().Delivered)
	})
}

func TestSubscriptionStopsItselfFromItsHandler(t *testing.T) {
	for _, mode := range []string{"unsubscribe", "drain", "drain-derived-ctx"} {
		t.Run(mode, func(t *testing.T) {
			b := newBus(t)
			tp := mustTopic[int](t, b, "self."+mode)
			var sub atomic.Pointer[Subscription]
			proceed := make(chan struct{})
			type report struct {
				err    error
				ctxErr error
			}
			reports := make(chan report, 1)
			handled := make(chan int, 8)
			s := mustSubscribe(t, tp, "self", func(ctx context.Context, e *Event[int]) error {
				if e.Payload == 1 {
					select {
					case <-proceed:
					case <-time.After(testWait):
					}
					var err error
					switch mode {
					case "unsubscribe":
						sub.Load().Unsubscribe()
					case "drain":
						err = sub.Load().Drain(ctx)
					default:
						dctx, cancel := context.WithTimeout(ctx, testWait)
						err = sub.Load().Drain(dctx)
						cancel()
					}
					reports <- report{err, ctx.Err()}
				}
				handled <- e.Payload
				return nil
			})
			sub.Store(s)
			ctx := testCtx(t)
			for i := 1; i <= 3; i++ {
				require.NoError(t, tp.Publish(ctx, i))
			}
			close(proceed)
			r := recv(t, reports, "the handler to stop its own subscription")
			require.NoError(t, r.err)
			waitClosed(t, s.Done(), "Done")
			require.NoError(t, tp.Publish(ctx, 4))
			st := s.Stats()
			if mode == "unsubscribe" {
				assert.ErrorIs(t, r.ctxErr, context.Canceled, "Unsubscribe cancels the handler's ctx")
				assert.Equal(t, []int{1}, recvN(t, handled, 1, "event 1"))
				assert.Equal(t, uint64(2), st.Dropped.Unsubscribed)
				assert.Equal(t, uint64(1), st.Delivered)
			} else {
				assert.NoError(t, r.ctxErr, "Drain does not cancel the handler's ctx")
				assert.Equal(t, []int{1, 2, 3}, recvN(t, handled, 3, "events 1-3"))
				assert.Equal(t, uint64(3), st.Delivered)
				assert.Zero(t, st.Dropped.Total())
			}
			closeBus(t, b)
			nothingOn(t, handled, "an event after the subscription stopped")
		})
	}
}
