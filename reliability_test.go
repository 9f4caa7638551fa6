package eventbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of defects found by trying the public API as a hostile user would:
// each one failed before its fix.

// fastPublisher publishes pubMsg events on tp, as fast as it can, until stop
// is closed; it returns a channel closed once it has returned, and the
// number of publishes.
func fastPublisher(t *testing.T, tp *Topic[pubMsg], stop <-chan struct{}) (<-chan struct{}, *atomic.Int64) {
	t.Helper()
	done := make(chan struct{})
	var n atomic.Int64
	ctx := testCtx(t)
	go func() {
		defer close(done)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := tp.Publish(ctx, pubMsg{N: i}); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("publish %d: %v", i, err)
				return
			}
			n.Add(1)
		}
	}()
	return done, &n
}

// TestUnsubscribeRacingDrain calls Unsubscribe and Drain at once on many
// default subscriptions (readers of the topic's ring) under a fast
// publisher. No handler may run after Done is closed, and every
// subscription's counters and the bus's totals must add up.
func TestUnsubscribeRacingDrain(t *testing.T) {
	const subs = 64
	b := newBus(t)
	tp := mustTopic[pubMsg](t, b, "race.unsubscribe-drain")
	type rec struct {
		s         *Subscription
		calls     atomic.Int64
		afterDone atomic.Int64
	}
	recs := make([]*rec, subs)
	for i := range recs {
		r := &rec{}
		ready := make(chan struct{})
		r.s = mustSubscribe(t, tp, fmt.Sprintf("s%02d", i), func(_ context.Context, e *Event[pubMsg]) error {
			<-ready
			r.calls.Add(1)
			select {
			case <-r.s.Done():
				r.afterDone.Add(1)
			default:
			}
			return nil
		})
		close(ready)
		recs[i] = r
	}
	stop := make(chan struct{})
	pubDone, published := fastPublisher(t, tp, stop)

	var wg sync.WaitGroup
	for _, r := range recs {
		start := make(chan struct{})
		wg.Go(func() { <-start; r.s.Unsubscribe() })
		wg.Go(func() {
			<-start
			err := r.s.Drain(testCtx(t))
			var ce *CloseError
			if err != nil && !errors.As(err, &ce) {
				t.Errorf("drain: %v", err)
			}
		})
		close(start)
	}
	wg.Wait()
	for _, r := range recs {
		waitClosed(t, r.s.Done(), "Done after Unsubscribe and Drain")
	}
	// Publishes that find no subscriber go on a little longer: any handler
	// call after Done would show now.
	for range 1000 {
		require.NoError(t, tp.Publish(testCtx(t), pubMsg{}))
	}
	close(stop)
	<-pubDone
	closeBus(t, b)

	var sum SubscriptionStats
	for _, r := range recs {
		st := r.s.Stats()
		checkAccounting(t, st)
		assert.Zero(t, r.afterDone.Load(), "%s: handler calls after Done", r.s.Name())
		assert.Equal(t, r.calls.Load(), int64(st.Delivered), "%s: handler calls", r.s.Name())
		sum.add(st)
	}
	assert.Equal(t, sum, b.Stats().Totals, "the bus's totals are the sum of its subscriptions' counters")
	t.Logf("%d events published while %d subscriptions stopped", published.Load(), subs)
}

// queueKinds are the two ways a subscription's queue works: a reader of
// the topic's shared ring (the default) and a queue of its own (here made
// so by a filter that keeps every event). Every test run over both must
// see the same behaviour.
var queueKinds = []struct {
	name string
	opts []SubscribeOption
}{
	{"ring reader", nil},
	{"own queue", []SubscribeOption{WithFilter(func(*Event[int]) bool { return true })}},
}

// TestBlockedPublishEndedByCloseReturnsErrClosed: a publisher waiting for
// room when a Close whose ctx ended discards the queue was not accepted and
// must hear so.
func TestBlockedPublishEndedByCloseReturnsErrClosed(t *testing.T) {
	for _, kind := range queueKinds {
		t.Run(kind.name, func(t *testing.T) {
			b := newBus(t)
			tp := mustTopic[int](t, b, "close.blocked")
			g := newGate[int]()
			s := mustSubscribe(t, tp, "slow", g.handle, append(kind.opts, WithQueueCapacity(1))...)
			ctx := testCtx(t)
			require.NoError(t, tp.Publish(ctx, 1))
			recv(t, g.started, "event 1 handled")
			require.NoError(t, tp.Publish(ctx, 2)) // fills the queue
			blocked := waitingPublish(t, ctx, tp, 3)

			ended, end := context.WithCancel(context.Background())
			end()
			var ce *CloseError
			require.ErrorAs(t, b.Close(ended), &ce)
			err := recv(t, blocked, "the blocked publish")
			require.ErrorIs(t, err, ErrClosed, "a publish whose event was never queued")
			var se *SubscriberError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "slow", se.Subscriber)

			recv(t, b.Done(), "the cancelled handler to return")
			st := s.Stats()
			checkAccounting(t, st)
			assert.Equal(t, uint64(2), st.Enqueued)
			assert.Equal(t, uint64(1), st.Dropped.Canceled, "the blocked event")
			st.Topic, st.Subscriber = "", ""
			assert.Equal(t, st, b.Stats().Totals)
		})
	}
}

// TestBlockedPublisherGivingUpKeepsTheCapacity: with several publishers
// waiting for room in a full queue, one of them giving up must not let the
// others' events past the capacity.
func TestBlockedPublisherGivingUpKeepsTheCapacity(t *testing.T) {
	for _, kind := range queueKinds {
		t.Run(kind.name, func(t *testing.T) {
			const capacity = 4
			b := newBus(t)
			tp := mustTopic[int](t, b, "capacity.kept")
			g := newGate[int]()
			s := mustSubscribe(t, tp, "slow", g.handle, append(kind.opts, WithQueueCapacity(capacity))...)
			ctx := testCtx(t)
			require.NoError(t, tp.Publish(ctx, 1))
			recv(t, g.started, "event 1 handled")
			for i := 2; i <= 1+capacity; i++ {
				require.NoError(t, tp.Publish(ctx, i))
			}
			require.Equal(t, capacity, s.Stats().QueueLength)

			p6 := waitingPublish(t, ctx, tp, 6)
			giveUpCtx, giveUp := context.WithCancel(ctx)
			p7 := waitingPublish(t, giveUpCtx, tp, 7)
			p8 := waitingPublish(t, ctx, tp, 8)
			giveUp()
			require.ErrorIs(t, recv(t, p7, "the publish that gave up"), context.Canceled)

			st := s.Stats()
			assert.Equal(t, capacity, st.QueueLength, "queue length once a waiting publisher gave up")
			assert.Equal(t, uint64(1), st.Dropped.Canceled)
			nothingOn(t, p6, "publish 6 returned with the queue still full")
			nothingOn(t, p8, "publish 8 returned with the queue still full")

			// Each handled event makes room for one waiting publisher, and
			// the queue never holds more than its capacity.
			g.release(t)
			returned := 0
			for returned < 2 {
				select {
				case err := <-p6:
					require.NoError(t, err)
				case err := <-p8:
					require.NoError(t, err)
				case <-g.started:
					assert.LessOrEqual(t, s.Stats().QueueLength, capacity)
					g.release(t)
					continue
				}
				returned++
				assert.LessOrEqual(t, s.Stats().QueueLength, capacity)
			}
			g.open()
			got := payloads(t, g.done, 1+capacity+1, "the handled events")
			got = append(got, payloads(t, g.done, 1, "the last event")...)
			assert.ElementsMatch(t, []int{1, 2, 3, 4, 5, 6, 8}, got)
			assert.Equal(t, []int{1, 2, 3, 4, 5}, got[:5], "the queued events first, in order")
			closeBus(t, b)
			st = s.Stats()
			checkAccounting(t, st)
			assert.Equal(t, uint64(7), st.Delivered)
			assert.Equal(t, uint64(1), st.Dropped.Canceled)
		})
	}
}

// TestTransportStatsCountEachDeliveryOnce: over a transport every delivery
// is enqueued on its own, and ends as exactly one of Delivered, Failed (the
// broker delivers it again) or DeadLettered (its last delivery), whether
// the handler or the filter failed, or the message did not decode.
func TestTransportStatsCountEachDeliveryOnce(t *testing.T) {
	tr := newRecordingTransport()
	b := newBus(t, WithTransport(tr), WithRedelivery(RetryPolicy{MaxAttempts: 3, InitialInterval: time.Millisecond}))
	topic := mustTopic[string](t, b, "remote.stats")
	sub := mustSubscribe(t, topic, "reader", func(_ context.Context, e *Event[string]) error {
		switch e.Payload {
		case "fail":
			return errors.New("handler failed")
		case "permanent":
			return Permanent(errors.New("hopeless"))
		case "says-dropped":
			return fmt.Errorf("a downstream publish: %w", ErrDropped)
		}
		return nil
	}, WithFilter(func(e *Event[string]) bool {
		if e.Payload == "filter-panics" {
			panic("filter broke")
		}
		return true
	}))
	fc := recv(t, tr.consumers, "the consumer")

	cases := []struct {
		payload    string
		deliveries int
		settled    string
		want       SubscriptionStats // the counters this delivery adds
	}{
		{"ok", 1, "ack", SubscriptionStats{Enqueued: 1, Delivered: 1}},
		{"fail", 1, "nak-later", SubscriptionStats{Enqueued: 1, Failed: 1}},
		{"fail", 2, "nak-later", SubscriptionStats{Enqueued: 1, Failed: 1}},
		{"fail", 3, "ack", SubscriptionStats{Enqueued: 1, DeadLettered: 1}},
		{"permanent", 1, "ack", SubscriptionStats{Enqueued: 1, DeadLettered: 1}},
		{"says-dropped", 1, "nak-later", SubscriptionStats{Enqueued: 1, Failed: 1}}, // a handler's error, not a drop
		{"filter-panics", 1, "nak-later", SubscriptionStats{Enqueued: 1, Failed: 1}},
		{"filter-panics", 3, "ack", SubscriptionStats{Enqueued: 1, DeadLettered: 1}},
		{"", 1, "ack", SubscriptionStats{Enqueued: 1, DeadLettered: 1}}, // does not decode
	}
	var want SubscriptionStats
	want.Topic, want.Subscriber = "remote.stats", "reader"
	want.Capacity = DefaultQueueCapacity
	for _, c := range cases {
		data := []byte("not an event")
		if c.payload != "" {
			data = encoded(t, "remote.stats", c.payload)
		}
		m := newFakeMessage(data, c.deliveries)
		fc.deliver(fc.ctx, m)
		require.Equal(t, c.settled, m.waitSettled(t), "%q delivered %d times", c.payload, c.deliveries)
		want.add(c.want)
		assert.Equal(t, want, sub.Stats(), "after %q delivered %d times", c.payload, c.deliveries)
	}
	closeBus(t, b)
	st := sub.Stats()
	checkAccounting(t, st)
	st.Topic, st.Subscriber = "", ""
	assert.Equal(t, st, b.Stats().Totals)
}
