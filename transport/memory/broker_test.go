package memory_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/internal/testkit"
	"github.com/busline/eventbus/transport/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitLimit bounds every wait of these tests.
const waitLimit = 5 * time.Second

// newBroker returns a broker that is closed when the test ends.
func newBroker(t *testing.T) *memory.Broker {
	t.Helper()
	b := memory.NewBroker()
	t.Cleanup(func() { assert.NoError(t, b.Close()) })
	return b
}

// testCtx returns a context that ends when the test does, or after
// waitLimit.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// waitDone waits for a consumer's goroutine to exit.
func waitDone(t *testing.T, c eventbus.Consumer) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(waitLimit):
		t.Fatal("consumer did not stop")
	}
}

// subscribe starts a consumer that is stopped when the test ends.
func subscribe(t *testing.T, b *memory.Broker, cfg eventbus.ConsumerConfig, deliver func(context.Context, eventbus.InboundMessage)) eventbus.Consumer {
	t.Helper()
	c, err := b.Subscribe(testCtx(t), cfg, deliver)
	require.NoError(t, err)
	t.Cleanup(func() {
		c.Stop()
		waitDone(t, c)
	})
	return c
}

// sink returns a deliver function that hands every message to the test
// through the returned channel, leaving it unsettled.
func sink() (func(context.Context, eventbus.InboundMessage), <-chan eventbus.InboundMessage) {
	ch := make(chan eventbus.InboundMessage, 1024)
	return func(ctx context.Context, m eventbus.InboundMessage) {
		select {
		case ch <- m:
		case <-ctx.Done():
		}
	}, ch
}

// recv waits for the next value of ch.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	return testkit.RecvWithin(t, ch, waitLimit, what)
}

// publish publishes data under key to topic.
func publish(t *testing.T, b *memory.Broker, topic, key, data string) {
	t.Helper()
	require.NoError(t, b.Publish(testCtx(t), eventbus.OutgoingMessage{Topic: topic, Key: key, Data: []byte(data)}))
}

// groupStats returns the stats of a group that must exist.
func groupStats(t *testing.T, b *memory.Broker, topic, group string) memory.GroupStats {
	t.Helper()
	st, ok := b.Stats(topic, group)
	require.True(t, ok, "group %s/%s exists", topic, group)
	return st
}

func TestBrokerRoundTrip(t *testing.T) {
	b := newBroker(t)
	deliver, got := sink()
	subscribe(t, b, eventbus.ConsumerConfig{Topic: "orders.placed", Group: "billing"}, deliver)

	data := []byte("hello")
	require.NoError(t, b.Publish(testCtx(t), eventbus.OutgoingMessage{Topic: "orders.placed", Key: "k", Data: data}))
	data[0] = 'J' // the broker keeps its own copy

	m := recv(t, got, "the message")
	assert.Equal(t, "hello", string(m.Data()))
	assert.Equal(t, 1, m.Deliveries())
	assert.Equal(t, memory.GroupStats{InFlight: 1, Consumers: 1}, groupStats(t, b, "orders.placed", "billing"))
	require.NoError(t, m.Ack(testCtx(t)))
	assert.Equal(t, memory.GroupStats{Consumers: 1}, groupStats(t, b, "orders.placed", "billing"))
	// A second Ack of the same delivery is stale and harmless.
	require.NoError(t, m.Ack(testCtx(t)))

	_, ok := b.Stats("orders.placed", "nobody")
	assert.False(t, ok)
}

func TestBrokerFanOutToGroups(t *testing.T) {
	b := newBroker(t)
	d1, got1 := sink()
	d2, got2 := sink()
	subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g1", MaxInFlight: 10}, d1)
	subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g2", MaxInFlight: 10}, d2)
	for i := range 5 {
		publish(t, b, "t", "", strconv.Itoa(i))
	}
	for _, got := range []<-chan eventbus.InboundMessage{got1, got2} {
		for i := range 5 {
			m := recv(t, got, "message "+strconv.Itoa(i))
			assert.Equal(t, strconv.Itoa(i), string(m.Data()))
			require.NoError(t, m.Ack(testCtx(t)))
		}
	}
}

func TestBrokerGroupLifetime(t *testing.T) {
	b := newBroker(t)
	// No group yet: a group that starts with new messages never gets it.
	publish(t, b, "t", "", "before")

	deliver, got := sink()
	c := subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliver)
	publish(t, b, "t", "", "first")
	m := recv(t, got, "first")
	assert.Equal(t, "first", string(m.Data()))
	require.NoError(t, m.Ack(testCtx(t)))

	// The group outlives its consumer and keeps accumulating.
	c.Stop()
	waitDone(t, c)
	publish(t, b, "t", "", "second")
	publish(t, b, "t", "", "third")
	assert.Equal(t, memory.GroupStats{Pending: 2}, groupStats(t, b, "t", "g"))

	deliver2, got2 := sink()
	subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 2}, deliver2)
	for _, want := range []string{"second", "third"} {
		m := recv(t, got2, want)
		assert.Equal(t, want, string(m.Data()))
		assert.Equal(t, 1, m.Deliveries())
		require.NoError(t, m.Ack(testCtx(t)))
	}
}

func TestBrokerCompetingConsumers(t *testing.T) {
	const n = 50
	b := newBroker(t)
	type handled struct {
		consumer int
		data     string
	}
	got := make(chan handled, n)
	release := make(chan struct{})
	for id := range 2 {
		subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 1}, func(ctx context.Context, m eventbus.InboundMessage) {
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
		publish(t, b, "t", "", strconv.Itoa(i))
	}
	first := recv(t, got, "a first delivery")
	second := recv(t, got, "a second delivery")
	assert.NotEqual(t, first.consumer, second.consumer, "each consumer holds one message")
	close(release)

	seen := map[string]int{first.data: 1, second.data: 1}
	perConsumer := [2]int{1, 1}
	for range n - 2 {
		h := recv(t, got, "a delivery")
		seen[h.data]++
		perConsumer[h.consumer]++
	}
	for i := range n {
		assert.Equal(t, 1, seen[strconv.Itoa(i)], "message %d handled once", i)
	}
	assert.Equal(t, n, perConsumer[0]+perConsumer[1])
}

func TestBrokerMaxInFlight(t *testing.T) {
	for _, tc := range []struct{ set, want int }{{0, 1}, {-3, 1}, {2, 2}} {
		t.Run(strconv.Itoa(tc.set), func(t *testing.T) {
			b := newBroker(t)
			deliver, got := sink()
			subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: tc.set}, deliver)
			for i := range 5 {
				publish(t, b, "t", "", strconv.Itoa(i))
			}
			var held []eventbus.InboundMessage
			for range tc.want {
				held = append(held, recv(t, got, "a message"))
			}
			// The consumer may not take one more while these are unsettled.
			assert.Equal(t, memory.GroupStats{Pending: 5 - tc.want, InFlight: tc.want, Consumers: 1}, groupStats(t, b, "t", "g"))
			require.NoError(t, held[0].Ack(testCtx(t)))
			m := recv(t, got, "the next message")
			assert.Equal(t, strconv.Itoa(tc.want), string(m.Data()))
		})
	}
}

// TestBrokerKeyOrdering has three competing consumers take keyed and
// unkeyed messages, Nak'ing the first delivery of every third one, and
// checks that each key is handled one message at a time in publish order.
func TestBrokerKeyOrdering(t *testing.T) {
	const keys, perKey = 4, 25
	b := newBroker(t)
	got := make(chan eventbus.InboundMessage, keys*perKey*2+perKey)
	for range 3 {
		subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 4}, func(ctx context.Context, m eventbus.InboundMessage) {
			select {
			case got <- m:
			case <-ctx.Done():
			}
		})
	}
	for i := range perKey {
		for k := range keys {
			publish(t, b, "t", "k"+strconv.Itoa(k), fmt.Sprintf("k%d/%d", k, i))
		}
		publish(t, b, "t", "", fmt.Sprintf("-/%d", i))
	}

	next := map[string]int{}              // key -> index expected next
	inFlight := map[string]bool{}         // key -> a delivery is unsettled
	var pending []eventbus.InboundMessage // delivered, settled later to let others overtake
	remaining := keys*perKey + perKey
	naks := 0
	parse := func(m eventbus.InboundMessage) (string, int) {
		key, n, _ := strings.Cut(string(m.Data()), "/")
		idx, err := strconv.Atoi(n)
		require.NoError(t, err)
		return key, idx
	}
	settle := func(m eventbus.InboundMessage) {
		key, idx := parse(m)
		inFlight[key] = false
		if idx%3 == 0 && m.Deliveries() == 1 {
			naks++
			delay := time.Duration(0)
			if idx%2 == 0 {
				delay = time.Millisecond
			}
			require.NoError(t, m.Nak(testCtx(t), delay))
			return
		}
		require.NoError(t, m.Ack(testCtx(t)))
		if key != "-" {
			next[key]++
		}
		remaining--
	}
	for remaining > 0 {
		m := recv(t, got, fmt.Sprintf("a delivery (%d left)", remaining))
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
	assert.Equal(t, memory.GroupStats{Consumers: 3}, groupStats(t, b, "t", "g"))
}

func TestBrokerNakDelay(t *testing.T) {
	b := newBroker(t)
	deliver, got := sink()
	subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliver)

	t.Run("redelivers after the delay", func(t *testing.T) {
		publish(t, b, "t", "", "m")
		m := recv(t, got, "the message")
		const delay = 30 * time.Millisecond
		start := time.Now()
		require.NoError(t, m.Nak(testCtx(t), delay))
		again := recv(t, got, "the redelivery")
		assert.GreaterOrEqual(t, time.Since(start), delay)
		assert.Equal(t, "m", string(again.Data()))
		assert.Equal(t, 2, again.Deliveries())
		// The first delivery is settled: settling it again does nothing.
		require.NoError(t, m.Ack(testCtx(t)))
		assert.Equal(t, memory.GroupStats{InFlight: 1, Consumers: 1}, groupStats(t, b, "t", "g"))
		require.NoError(t, again.Ack(testCtx(t)))
	})

	t.Run("later messages overtake unless they share the key", func(t *testing.T) {
		publish(t, b, "t", "k", "k1")
		publish(t, b, "t", "k", "k2")
		publish(t, b, "t", "", "free")
		m := recv(t, got, "k1")
		require.Equal(t, "k1", string(m.Data()))
		require.NoError(t, m.Nak(testCtx(t), time.Hour))
		// k2 comes before "free" in group order, so getting "free" now
		// shows that k2 is held back behind k1.
		free := recv(t, got, "free")
		assert.Equal(t, "free", string(free.Data()))
		require.NoError(t, free.Ack(testCtx(t)))
		assert.Equal(t, memory.GroupStats{Pending: 2, Consumers: 1}, groupStats(t, b, "t", "g"))
	})
}

func TestBrokerAckTimeout(t *testing.T) {
	b := newBroker(t)
	deliver, got := sink()
	const timeout = 30 * time.Millisecond
	subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g", AckTimeout: timeout}, deliver)
	start := time.Now()
	publish(t, b, "t", "k", "m")
	first := recv(t, got, "the message")
	again := recv(t, got, "the redelivery after the ack timeout")
	assert.GreaterOrEqual(t, time.Since(start), timeout)
	assert.Equal(t, "m", string(again.Data()))
	assert.Equal(t, 2, again.Deliveries())
	// The expired delivery can no longer settle the message.
	require.NoError(t, first.Ack(testCtx(t)))
	require.NoError(t, first.Nak(testCtx(t), 0))
	// The second delivery may have timed out too by now, so only count.
	st := groupStats(t, b, "t", "g")
	assert.Equal(t, 1, st.InFlight+st.Pending, "the message is still there")
}

func TestBrokerRestart(t *testing.T) {
	b := newBroker(t)
	deliver, got := sink()
	subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 3}, deliver)
	for _, s := range []string{"a", "b", "c", "d"} {
		publish(t, b, "t", "", s)
	}
	var old []eventbus.InboundMessage
	for range 3 {
		old = append(old, recv(t, got, "a message"))
	}
	require.NoError(t, old[0].Ack(testCtx(t)))
	d := recv(t, got, "d")
	require.Equal(t, "d", string(d.Data()))

	b.Restart()
	for _, want := range []string{"b", "c", "d"} {
		m := recv(t, got, want+" again")
		assert.Equal(t, want, string(m.Data()))
		assert.Equal(t, 2, m.Deliveries())
		old = append(old, m)
	}
	// Settling a delivery made before the restart does nothing.
	require.NoError(t, old[1].Ack(testCtx(t)))
	require.NoError(t, old[2].Nak(testCtx(t), 0))
	require.NoError(t, d.Ack(testCtx(t)))
	assert.Equal(t, memory.GroupStats{InFlight: 3, Consumers: 1}, groupStats(t, b, "t", "g"))
	for _, m := range old[3:] {
		require.NoError(t, m.Ack(testCtx(t)))
	}
	assert.Equal(t, memory.GroupStats{Consumers: 1}, groupStats(t, b, "t", "g"))

	// The consumer keeps running.
	publish(t, b, "t", "", "e")
	e := recv(t, got, "e")
	assert.Equal(t, 1, e.Deliveries())
	require.NoError(t, e.Ack(testCtx(t)))
}

func TestBrokerStopThenSettle(t *testing.T) {
	b := newBroker(t)
	deliver, got := sink()
	c := subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 2}, deliver)
	publish(t, b, "t", "", "a")
	publish(t, b, "t", "", "b")
	a := recv(t, got, "a")
	bm := recv(t, got, "b")
	c.Stop()
	c.Stop()
	waitDone(t, c)
	publish(t, b, "t", "", "c")

	require.NoError(t, a.Ack(testCtx(t)))
	require.NoError(t, bm.Nak(testCtx(t), 0))
	assert.Equal(t, memory.GroupStats{Pending: 2}, groupStats(t, b, "t", "g"))

	deliver2, got2 := sink()
	subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 2}, deliver2)
	m := recv(t, got2, "b again")
	assert.Equal(t, "b", string(m.Data()))
	assert.Equal(t, 2, m.Deliveries())
	assert.Equal(t, "c", string(recv(t, got2, "c").Data()))
}

func TestBrokerStopCancelsDeliver(t *testing.T) {
	b := newBroker(t)
	entered := make(chan struct{})
	cancelled := make(chan eventbus.InboundMessage, 1)
	c := subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g"}, func(ctx context.Context, m eventbus.InboundMessage) {
		close(entered)
		<-ctx.Done()
		cancelled <- m
	})
	publish(t, b, "t", "", "x")
	recv(t, entered, "deliver to start")
	c.Stop()
	waitDone(t, c)
	m := recv(t, cancelled, "deliver's ctx to end")
	require.NoError(t, m.Ack(testCtx(t)))
	assert.Equal(t, memory.GroupStats{}, groupStats(t, b, "t", "g"))
}

func TestBrokerClose(t *testing.T) {
	b := memory.NewBroker()
	entered := make(chan eventbus.InboundMessage, 1)
	blocked, err := b.Subscribe(testCtx(t), eventbus.ConsumerConfig{Topic: "t", Group: "g1"}, func(ctx context.Context, m eventbus.InboundMessage) {
		entered <- m
		<-ctx.Done()
	})
	require.NoError(t, err)
	idle, err := b.Subscribe(testCtx(t), eventbus.ConsumerConfig{Topic: "t", Group: "g2", MaxInFlight: 5}, func(ctx context.Context, m eventbus.InboundMessage) {})
	require.NoError(t, err)
	publish(t, b, "t", "", "x")
	m := recv(t, entered, "the blocked delivery")

	closed := make(chan error, 1)
	go func() { closed <- b.Close() }()
	require.NoError(t, recv(t, closed, "Close"))
	waitDone(t, blocked)
	waitDone(t, idle)
	require.NoError(t, b.Close(), "Close is idempotent")

	err = b.Publish(testCtx(t), eventbus.OutgoingMessage{Topic: "t", Data: []byte("y")})
	assert.ErrorIs(t, err, eventbus.ErrBrokerClosed)
	_, err = b.Subscribe(testCtx(t), eventbus.ConsumerConfig{Topic: "t", Group: "g3"}, func(context.Context, eventbus.InboundMessage) {})
	assert.ErrorIs(t, err, eventbus.ErrBrokerClosed)
	assert.ErrorIs(t, m.Ack(testCtx(t)), eventbus.ErrBrokerClosed)
	assert.ErrorIs(t, m.Nak(testCtx(t), 0), eventbus.ErrBrokerClosed)
	b.Restart() // no effect, no panic
	st, ok := b.Stats("t", "g1")
	require.True(t, ok)
	assert.Equal(t, memory.GroupStats{InFlight: 1}, st)
}

func TestBrokerValidation(t *testing.T) {
	b := newBroker(t)
	ctx := testCtx(t)
	nop := func(context.Context, eventbus.InboundMessage) {}

	assert.ErrorIs(t, b.Publish(ctx, eventbus.OutgoingMessage{Topic: "bad..topic"}), eventbus.ErrInvalidTopic)
	assert.ErrorIs(t, b.Publish(ctx, eventbus.OutgoingMessage{Topic: ""}), eventbus.ErrInvalidTopic)
	assert.ErrorIs(t, b.Publish(ctx, eventbus.OutgoingMessage{Topic: "a.*"}), eventbus.ErrInvalidTopic)

	for _, tc := range []struct {
		name    string
		cfg     eventbus.ConsumerConfig
		deliver func(context.Context, eventbus.InboundMessage)
		want    error
	}{
		{"bad topic", eventbus.ConsumerConfig{Topic: "a b", Group: "g"}, nop, eventbus.ErrInvalidTopic},
		{"bad group", eventbus.ConsumerConfig{Topic: "t", Group: "g.x"}, nop, eventbus.ErrInvalidSubscriber},
		{"empty group", eventbus.ConsumerConfig{Topic: "t"}, nop, eventbus.ErrInvalidSubscriber},
		{"nil deliver", eventbus.ConsumerConfig{Topic: "t", Group: "g"}, nil, eventbus.ErrNilHandler},
		{"negative ack timeout", eventbus.ConsumerConfig{Topic: "t", Group: "g", AckTimeout: -time.Second}, nop, eventbus.ErrInvalidOption},
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

func TestBrokerContext(t *testing.T) {
	b := newBroker(t)
	deliver, got := sink()
	subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliver)

	done, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.Publish(done, eventbus.OutgoingMessage{Topic: "t", Data: []byte("x")})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, memory.GroupStats{Consumers: 1}, groupStats(t, b, "t", "g"), "nothing stored")

	_, err = b.Subscribe(done, eventbus.ConsumerConfig{Topic: "t", Group: "other"}, deliver)
	assert.ErrorIs(t, err, context.Canceled)

	publish(t, b, "t", "", "y")
	m := recv(t, got, "y")
	assert.ErrorIs(t, m.Ack(done), context.Canceled)
	assert.Equal(t, memory.GroupStats{InFlight: 1, Consumers: 1}, groupStats(t, b, "t", "g"), "a failed Ack settles nothing")
	require.NoError(t, m.Ack(testCtx(t)))
}
