package eventbus

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mbtWait bounds every wait of these tests.
const mbtWait = 5 * time.Second

func mbtBroker(t *testing.T) *MemoryBroker {
	t.Helper()
	b := NewMemoryBroker()
	t.Cleanup(func() { assert.NoError(t, b.Close()) })
	return b
}

func mbtCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mbtWait)
	t.Cleanup(cancel)
	return ctx
}

// mbtDone waits for a consumer's goroutine to exit.
func mbtDone(t *testing.T, c Consumer) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(mbtWait):
		t.Fatal("consumer did not stop")
	}
}

// mbtSubscribe starts a consumer that is stopped when the test ends.
func mbtSubscribe(t *testing.T, b *MemoryBroker, cfg ConsumerConfig, deliver func(context.Context, InboundMessage)) Consumer {
	t.Helper()
	c, err := b.Subscribe(mbtCtx(t), cfg, deliver)
	require.NoError(t, err)
	t.Cleanup(func() {
		c.Stop()
		mbtDone(t, c)
	})
	return c
}

// mbtSink returns a deliver function that hands every message to the test
// through the returned channel, leaving it unsettled.
func mbtSink() (func(context.Context, InboundMessage), <-chan InboundMessage) {
	ch := make(chan InboundMessage, 1024)
	return func(ctx context.Context, m InboundMessage) {
		select {
		case ch <- m:
		case <-ctx.Done():
		}
	}, ch
}

func mbtRecv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(mbtWait):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func mbtPublish(t *testing.T, b *MemoryBroker, topic, key, data string) {
	t.Helper()
	require.NoError(t, b.Publish(mbtCtx(t), OutgoingMessage{Topic: topic, Key: key, Data: []byte(data)}))
}

func mbtStats(t *testing.T, b *MemoryBroker, topic, group string) MemoryGroupStats {
	t.Helper()
	st, ok := b.Stats(topic, group)
	require.True(t, ok, "group %s/%s exists", topic, group)
	return st
}

func TestMemoryBrokerRoundTrip(t *testing.T) {
	b := mbtBroker(t)
	deliver, got := mbtSink()
	mbtSubscribe(t, b, ConsumerConfig{Topic: "orders.placed", Group: "billing"}, deliver)

	data := []byte("hello")
	require.NoError(t, b.Publish(mbtCtx(t), OutgoingMessage{Topic: "orders.placed", Key: "k", Data: data}))
	data[0] = 'J' // the broker keeps its own copy

	m := mbtRecv(t, got, "the message")
	assert.Equal(t, "hello", string(m.Data()))
	assert.Equal(t, 1, m.Deliveries())
	assert.Equal(t, MemoryGroupStats{InFlight: 1, Consumers: 1}, mbtStats(t, b, "orders.placed", "billing"))
	require.NoError(t, m.Ack(mbtCtx(t)))
	assert.Equal(t, MemoryGroupStats{Consumers: 1}, mbtStats(t, b, "orders.placed", "billing"))
	// A second Ack of the same delivery is stale and harmless.
	require.NoError(t, m.Ack(mbtCtx(t)))

	_, ok := b.Stats("orders.placed", "nobody")
	assert.False(t, ok)
}

func TestMemoryBrokerFanOutToGroups(t *testing.T) {
	b := mbtBroker(t)
	d1, got1 := mbtSink()
	d2, got2 := mbtSink()
	mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g1", MaxInFlight: 10}, d1)
	mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g2", MaxInFlight: 10}, d2)
	for i := range 5 {
		mbtPublish(t, b, "t", "", strconv.Itoa(i))
	}
	for _, got := range []<-chan InboundMessage{got1, got2} {
		for i := range 5 {
			m := mbtRecv(t, got, "message "+strconv.Itoa(i))
			assert.Equal(t, strconv.Itoa(i), string(m.Data()))
			require.NoError(t, m.Ack(mbtCtx(t)))
		}
	}
}

func TestMemoryBrokerGroupLifetime(t *testing.T) {
	b := mbtBroker(t)
	// No group yet: the message is not kept.
	mbtPublish(t, b, "t", "", "lost")

	deliver, got := mbtSink()
	c := mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g"}, deliver)
	mbtPublish(t, b, "t", "", "first")
	m := mbtRecv(t, got, "first")
	assert.Equal(t, "first", string(m.Data()))
	require.NoError(t, m.Ack(mbtCtx(t)))

	// The group outlives its consumer and keeps accumulating.
	c.Stop()
	mbtDone(t, c)
	mbtPublish(t, b, "t", "", "second")
	mbtPublish(t, b, "t", "", "third")
	assert.Equal(t, MemoryGroupStats{Pending: 2}, mbtStats(t, b, "t", "g"))

	deliver2, got2 := mbtSink()
	mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 2}, deliver2)
	for _, want := range []string{"second", "third"} {
		m := mbtRecv(t, got2, want)
		assert.Equal(t, want, string(m.Data()))
		assert.Equal(t, 1, m.Deliveries())
		require.NoError(t, m.Ack(mbtCtx(t)))
	}
}

func TestMemoryBrokerCompetingConsumers(t *testing.T) {
	const n = 50
	b := mbtBroker(t)
	type handled struct {
		consumer int
		data     string
	}
	got := make(chan handled, n)
	release := make(chan struct{})
	for id := range 2 {
		mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 1}, func(ctx context.Context, m InboundMessage) {
			got <- handled{id, string(m.Data())}
			// Hold the first message until both consumers have one, so that
			// neither can take everything.
			select {
			case <-release:
			case <-ctx.Done():
				return
			}
			// Not ctx: it ends when the test stops the consumer, and an Ack
			// with an ended ctx fails.
			assert.NoError(t, m.Ack(context.Background()))
		})
	}
	for i := range n {
		mbtPublish(t, b, "t", "", strconv.Itoa(i))
	}
	first := mbtRecv(t, got, "a first delivery")
	second := mbtRecv(t, got, "a second delivery")
	assert.NotEqual(t, first.consumer, second.consumer, "each consumer holds one message")
	close(release)

	seen := map[string]int{first.data: 1, second.data: 1}
	perConsumer := [2]int{1, 1}
	for range n - 2 {
		h := mbtRecv(t, got, "a delivery")
		seen[h.data]++
		perConsumer[h.consumer]++
	}
	for i := range n {
		assert.Equal(t, 1, seen[strconv.Itoa(i)], "message %d handled once", i)
	}
	assert.Equal(t, n, perConsumer[0]+perConsumer[1])
}

func TestMemoryBrokerMaxInFlight(t *testing.T) {
	for _, tc := range []struct{ set, want int }{{0, 1}, {-3, 1}, {2, 2}} {
		t.Run(strconv.Itoa(tc.set), func(t *testing.T) {
			b := mbtBroker(t)
			deliver, got := mbtSink()
			mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: tc.set}, deliver)
			for i := range 5 {
				mbtPublish(t, b, "t", "", strconv.Itoa(i))
			}
			var held []InboundMessage
			for range tc.want {
				held = append(held, mbtRecv(t, got, "a message"))
			}
			// The consumer may not take one more while these are unsettled.
			assert.Equal(t, MemoryGroupStats{Pending: 5 - tc.want, InFlight: tc.want, Consumers: 1}, mbtStats(t, b, "t", "g"))
			require.NoError(t, held[0].Ack(mbtCtx(t)))
			m := mbtRecv(t, got, "the next message")
			assert.Equal(t, strconv.Itoa(tc.want), string(m.Data()))
		})
	}
}

// TestMemoryBrokerKeyOrdering has three competing consumers take keyed and
// unkeyed messages, Nak'ing the first delivery of every third one, and
// checks that each key is handled one message at a time in publish order.
func TestMemoryBrokerKeyOrdering(t *testing.T) {
	const keys, perKey = 4, 25
	b := mbtBroker(t)
	got := make(chan InboundMessage, keys*perKey*2+perKey)
	for range 3 {
		mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 4}, func(ctx context.Context, m InboundMessage) {
			select {
			case got <- m:
			case <-ctx.Done():
			}
		})
	}
	for i := range perKey {
		for k := range keys {
			mbtPublish(t, b, "t", "k"+strconv.Itoa(k), fmt.Sprintf("k%d/%d", k, i))
		}
		mbtPublish(t, b, "t", "", fmt.Sprintf("-/%d", i))
	}

	next := map[string]int{}      // key -> index expected next
	inFlight := map[string]bool{} // key -> a delivery is unsettled
	var pending []InboundMessage  // delivered, settled later to let others overtake
	remaining := keys*perKey + perKey
	naks := 0
	parse := func(m InboundMessage) (string, int) {
		key, n, _ := strings.Cut(string(m.Data()), "/")
		idx, err := strconv.Atoi(n)
		require.NoError(t, err)
		return key, idx
	}
	settle := func(m InboundMessage) {
		key, idx := parse(m)
		inFlight[key] = false
		if idx%3 == 0 && m.Deliveries() == 1 {
			naks++
			delay := time.Duration(0)
			if idx%2 == 0 {
				delay = time.Millisecond
			}
			require.NoError(t, m.Nak(mbtCtx(t), delay))
			return
		}
		require.NoError(t, m.Ack(mbtCtx(t)))
		if key != "-" {
			next[key]++
		}
		remaining--
	}
	for remaining > 0 {
		m := mbtRecv(t, got, fmt.Sprintf("a delivery (%d left)", remaining))
		key, idx := parse(m)
		if key != "-" {
			require.False(t, inFlight[key], "two deliveries of key %s in flight at once", key)
			require.Equal(t, next[key], idx, "order of key %s", key)
			inFlight[key] = true
		}
		pending = append(pending, m)
		// Settle in batches, oldest first, so several keys are in flight
		// together.
		if len(pending) >= 3 || len(got) == 0 {
			for _, p := range pending {
				settle(p)
			}
			pending = pending[:0]
		}
	}
	assert.Greater(t, naks, 0)
	for k := range keys {
		assert.Equal(t, perKey, next["k"+strconv.Itoa(k)])
	}
	assert.Equal(t, MemoryGroupStats{Consumers: 3}, mbtStats(t, b, "t", "g"))
}

func TestMemoryBrokerNakDelay(t *testing.T) {
	b := mbtBroker(t)
	deliver, got := mbtSink()
	mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g"}, deliver)

	t.Run("redelivers after the delay", func(t *testing.T) {
		mbtPublish(t, b, "t", "", "m")
		m := mbtRecv(t, got, "the message")
		const delay = 30 * time.Millisecond
		start := time.Now()
		require.NoError(t, m.Nak(mbtCtx(t), delay))
		again := mbtRecv(t, got, "the redelivery")
		assert.GreaterOrEqual(t, time.Since(start), delay)
		assert.Equal(t, "m", string(again.Data()))
		assert.Equal(t, 2, again.Deliveries())
		// The first delivery is settled: settling it again does nothing.
		require.NoError(t, m.Ack(mbtCtx(t)))
		assert.Equal(t, MemoryGroupStats{InFlight: 1, Consumers: 1}, mbtStats(t, b, "t", "g"))
		require.NoError(t, again.Ack(mbtCtx(t)))
	})

	t.Run("later messages overtake unless they share the key", func(t *testing.T) {
		mbtPublish(t, b, "t", "k", "k1")
		mbtPublish(t, b, "t", "k", "k2")
		mbtPublish(t, b, "t", "", "free")
		m := mbtRecv(t, got, "k1")
		require.Equal(t, "k1", string(m.Data()))
		require.NoError(t, m.Nak(mbtCtx(t), time.Hour))
		// k2 comes before "free" in group order, so getting "free" now
		// shows that k2 is held back behind k1.
		free := mbtRecv(t, got, "free")
		assert.Equal(t, "free", string(free.Data()))
		require.NoError(t, free.Ack(mbtCtx(t)))
		assert.Equal(t, MemoryGroupStats{Pending: 2, Consumers: 1}, mbtStats(t, b, "t", "g"))
	})
}

func TestMemoryBrokerAckTimeout(t *testing.T) {
	b := mbtBroker(t)
	deliver, got := mbtSink()
	const timeout = 30 * time.Millisecond
	mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g", AckTimeout: timeout}, deliver)
	start := time.Now()
	mbtPublish(t, b, "t", "k", "m")
	first := mbtRecv(t, got, "the message")
	again := mbtRecv(t, got, "the redelivery after the ack timeout")
	assert.GreaterOrEqual(t, time.Since(start), timeout)
	assert.Equal(t, "m", string(again.Data()))
	assert.Equal(t, 2, again.Deliveries())
	// The expired delivery can no longer settle the message.
	require.NoError(t, first.Ack(mbtCtx(t)))
	require.NoError(t, first.Nak(mbtCtx(t), 0))
	// The second delivery may have timed out too by now, so only count.
	st := mbtStats(t, b, "t", "g")
	assert.Equal(t, 1, st.InFlight+st.Pending, "the message is still there")
}

func TestMemoryBrokerRestart(t *testing.T) {
	b := mbtBroker(t)
	deliver, got := mbtSink()
	mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 3}, deliver)
	for _, s := range []string{"a", "b", "c", "d"} {
		mbtPublish(t, b, "t", "", s)
	}
	var old []InboundMessage
	for range 3 {
		old = append(old, mbtRecv(t, got, "a message"))
	}
	require.NoError(t, old[0].Ack(mbtCtx(t)))
	d := mbtRecv(t, got, "d")
	require.Equal(t, "d", string(d.Data()))

	b.Restart()
	for _, want := range []string{"b", "c", "d"} {
		m := mbtRecv(t, got, want+" again")
		assert.Equal(t, want, string(m.Data()))
		assert.Equal(t, 2, m.Deliveries())
		old = append(old, m)
	}
	// Settling a delivery made before the restart does nothing.
	require.NoError(t, old[1].Ack(mbtCtx(t)))
	require.NoError(t, old[2].Nak(mbtCtx(t), 0))
	require.NoError(t, d.Ack(mbtCtx(t)))
	assert.Equal(t, MemoryGroupStats{InFlight: 3, Consumers: 1}, mbtStats(t, b, "t", "g"))
	for _, m := range old[3:] {
		require.NoError(t, m.Ack(mbtCtx(t)))
	}
	assert.Equal(t, MemoryGroupStats{Consumers: 1}, mbtStats(t, b, "t", "g"))

	// The consumer keeps running.
	mbtPublish(t, b, "t", "", "e")
	e := mbtRecv(t, got, "e")
	assert.Equal(t, 1, e.Deliveries())
	require.NoError(t, e.Ack(mbtCtx(t)))
}

func TestMemoryBrokerStopThenSettle(t *testing.T) {
	b := mbtBroker(t)
	deliver, got := mbtSink()
	c := mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 2}, deliver)
	mbtPublish(t, b, "t", "", "a")
	mbtPublish(t, b, "t", "", "b")
	a := mbtRecv(t, got, "a")
	bm := mbtRecv(t, got, "b")
	c.Stop()
	c.Stop()
	mbtDone(t, c)
	mbtPublish(t, b, "t", "", "c")

	require.NoError(t, a.Ack(mbtCtx(t)))
	require.NoError(t, bm.Nak(mbtCtx(t), 0))
	assert.Equal(t, MemoryGroupStats{Pending: 2}, mbtStats(t, b, "t", "g"))

	deliver2, got2 := mbtSink()
	mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 2}, deliver2)
	m := mbtRecv(t, got2, "b again")
	assert.Equal(t, "b", string(m.Data()))
	assert.Equal(t, 2, m.Deliveries())
	assert.Equal(t, "c", string(mbtRecv(t, got2, "c").Data()))
}

func TestMemoryBrokerStopCancelsDeliver(t *testing.T) {
	b := mbtBroker(t)
	entered := make(chan struct{})
	cancelled := make(chan InboundMessage, 1)
	c := mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g"}, func(ctx context.Context, m InboundMessage) {
		close(entered)
		<-ctx.Done()
		cancelled <- m
	})
	mbtPublish(t, b, "t", "", "x")
	mbtRecv(t, entered, "deliver to start")
	c.Stop()
	mbtDone(t, c)
	m := mbtRecv(t, cancelled, "deliver's ctx to end")
	require.NoError(t, m.Ack(mbtCtx(t)))
	assert.Equal(t, MemoryGroupStats{}, mbtStats(t, b, "t", "g"))
}

func TestMemoryBrokerClose(t *testing.T) {
	b := NewMemoryBroker()
	entered := make(chan InboundMessage, 1)
	blocked, err := b.Subscribe(mbtCtx(t), ConsumerConfig{Topic: "t", Group: "g1"}, func(ctx context.Context, m InboundMessage) {
		entered <- m
		<-ctx.Done()
	})
	require.NoError(t, err)
	idle, err := b.Subscribe(mbtCtx(t), ConsumerConfig{Topic: "t", Group: "g2", MaxInFlight: 5}, func(ctx context.Context, m InboundMessage) {})
	require.NoError(t, err)
	mbtPublish(t, b, "t", "", "x")
	m := mbtRecv(t, entered, "the blocked delivery")

	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	require.NoError(t, mbtRecv(t, closed, "Close"))
	mbtDone(t, blocked)
	mbtDone(t, idle)
	require.NoError(t, b.Close(), "Close is idempotent")

	err = b.Publish(mbtCtx(t), OutgoingMessage{Topic: "t", Data: []byte("y")})
	assert.ErrorIs(t, err, ErrBrokerClosed)
	_, err = b.Subscribe(mbtCtx(t), ConsumerConfig{Topic: "t", Group: "g3"}, func(context.Context, InboundMessage) {})
	assert.ErrorIs(t, err, ErrBrokerClosed)
	assert.ErrorIs(t, m.Ack(mbtCtx(t)), ErrBrokerClosed)
	assert.ErrorIs(t, m.Nak(mbtCtx(t), 0), ErrBrokerClosed)
	b.Restart() // no effect, no panic
	st, ok := b.Stats("t", "g1")
	require.True(t, ok)
	assert.Equal(t, MemoryGroupStats{InFlight: 1}, st)
}

func TestMemoryBrokerValidation(t *testing.T) {
	b := mbtBroker(t)
	ctx := mbtCtx(t)
	nop := func(context.Context, InboundMessage) {}

	assert.ErrorIs(t, b.Publish(ctx, OutgoingMessage{Topic: "bad..topic"}), ErrInvalidTopic)
	assert.ErrorIs(t, b.Publish(ctx, OutgoingMessage{Topic: ""}), ErrInvalidTopic)
	assert.ErrorIs(t, b.Publish(ctx, OutgoingMessage{Topic: "a.*"}), ErrInvalidTopic)

	for _, tc := range []struct {
		name    string
		cfg     ConsumerConfig
		deliver func(context.Context, InboundMessage)
		want    error
	}{
		{"bad topic", ConsumerConfig{Topic: "a b", Group: "g"}, nop, ErrInvalidTopic},
		{"bad group", ConsumerConfig{Topic: "t", Group: "g.x"}, nop, ErrInvalidSubscriber},
		{"empty group", ConsumerConfig{Topic: "t"}, nop, ErrInvalidSubscriber},
		{"nil deliver", ConsumerConfig{Topic: "t", Group: "g"}, nil, ErrNilHandler},
		{"negative ack timeout", ConsumerConfig{Topic: "t", Group: "g", AckTimeout: -time.Second}, nop, ErrInvalidOption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := b.Subscribe(ctx, tc.cfg, tc.deliver)
			assert.ErrorIs(t, err, tc.want)
			assert.Nil(t, c)
		})
	}
	_, ok := b.Stats("t", "g")
	assert.False(t, ok, "a failed Subscribe creates no group")
}

func TestMemoryBrokerContext(t *testing.T) {
	b := mbtBroker(t)
	deliver, got := mbtSink()
	mbtSubscribe(t, b, ConsumerConfig{Topic: "t", Group: "g"}, deliver)

	done, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.Publish(done, OutgoingMessage{Topic: "t", Data: []byte("x")})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, MemoryGroupStats{Consumers: 1}, mbtStats(t, b, "t", "g"), "nothing stored")

	_, err = b.Subscribe(done, ConsumerConfig{Topic: "t", Group: "other"}, deliver)
	assert.ErrorIs(t, err, context.Canceled)

	mbtPublish(t, b, "t", "", "y")
	m := mbtRecv(t, got, "y")
	assert.ErrorIs(t, m.Ack(done), context.Canceled)
	assert.Equal(t, MemoryGroupStats{InFlight: 1, Consumers: 1}, mbtStats(t, b, "t", "g"), "a failed Ack settles nothing")
	require.NoError(t, m.Ack(mbtCtx(t)))
}
