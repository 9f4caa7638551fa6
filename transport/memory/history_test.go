package memory_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/transport/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// positioned is a delivery as the tests read it.
type positioned struct {
	data string
	pos  uint64
}

// take receives n messages from got, acks them and returns them in order.
func take(t *testing.T, got <-chan eventbus.InboundMessage, n int) []positioned {
	t.Helper()
	out := make([]positioned, 0, n)
	for i := range n {
		m := recv(t, got, "message "+strconv.Itoa(i))
		p, ok := m.(eventbus.Positioned)
		require.True(t, ok, "a delivery of the broker implements eventbus.Positioned")
		out = append(out, positioned{string(m.Data()), p.Position()})
		require.NoError(t, m.Ack(testCtx(t)))
	}
	return out
}

// publishAll publishes each of data, without a key, to topic.
func publishAll(t *testing.T, b *memory.Broker, topic string, data ...string) {
	t.Helper()
	for _, d := range data {
		publish(t, b, topic, "", d)
	}
}

// settled checks that the group has nothing left to deliver or settle.
func settled(t *testing.T, b *memory.Broker, topic, group string) {
	t.Helper()
	st := groupStats(t, b, topic, group)
	assert.Zero(t, st.Pending, "pending in %s/%s", topic, group)
	assert.Zero(t, st.InFlight, "in flight in %s/%s", topic, group)
}

// subscribeFrom starts a consumer of a new group that begins at start.
func subscribeFrom(t *testing.T, b *memory.Broker, topic, group string, start eventbus.Start) <-chan eventbus.InboundMessage {
	t.Helper()
	deliver, got := sink()
	subscribe(t, b, eventbus.ConsumerConfig{Topic: topic, Group: group, MaxInFlight: 100, Start: start}, deliver)
	return got
}

func TestBrokerIsAReplayTransport(t *testing.T) {
	var tr eventbus.Transport = memory.NewBroker()
	defer tr.(*memory.Broker).Close()
	_, ok := tr.(eventbus.ReplayTransport)
	assert.True(t, ok)
}

func TestBrokerReplaysFromOldestThenLive(t *testing.T) {
	b := newBroker(t)
	publishAll(t, b, "t", "a", "b", "c")
	publishAll(t, b, "other", "x") // positions are per topic

	got := subscribeFrom(t, b, "t", "late", eventbus.FromOldest())
	assert.Equal(t, []positioned{{"a", 1}, {"b", 2}, {"c", 3}}, take(t, got, 3))
	publishAll(t, b, "t", "d")
	assert.Equal(t, []positioned{{"d", 4}}, take(t, got, 1))
	settled(t, b, "t", "late")

	// A group that starts with new messages gets none of the history.
	news := subscribeFrom(t, b, "t", "new", eventbus.Start{})
	publishAll(t, b, "t", "e")
	assert.Equal(t, []positioned{{"e", 5}}, take(t, news, 1))
	settled(t, b, "t", "new")

	// On a topic nobody published to, FromOldest starts with the first
	// message.
	empty := subscribeFrom(t, b, "empty", "g", eventbus.FromOldest())
	publishAll(t, b, "empty", "first")
	assert.Equal(t, []positioned{{"first", 1}}, take(t, empty, 1))
}

func TestBrokerReplaysFromAPosition(t *testing.T) {
	b := newBroker(t)
	publishAll(t, b, "t", "a", "b", "c", "d")

	got := subscribeFrom(t, b, "t", "from3", eventbus.FromSequence(3))
	assert.Equal(t, []positioned{{"c", 3}, {"d", 4}}, take(t, got, 2))
	settled(t, b, "t", "from3")

	// A position beyond the newest message starts with the message that
	// gets it.
	future := subscribeFrom(t, b, "t", "from6", eventbus.FromSequence(6))
	publishAll(t, b, "t", "e", "f", "g")
	assert.Equal(t, []positioned{{"f", 6}, {"g", 7}}, take(t, future, 2))
	settled(t, b, "t", "from6")

	_, err := b.Subscribe(testCtx(t), eventbus.ConsumerConfig{Topic: "t", Group: "zero", Start: eventbus.FromSequence(0)},
		func(context.Context, eventbus.InboundMessage) {})
	assert.ErrorIs(t, err, eventbus.ErrInvalidOption)
	_, exists := b.Stats("t", "zero")
	assert.False(t, exists, "a failed Subscribe creates no group")
}

func TestBrokerReplaysFromATime(t *testing.T) {
	b := newBroker(t)
	before := time.Now()
	publishAll(t, b, "t", "a", "b")
	mark := time.Now()
	publishAll(t, b, "t", "c", "d")

	got := subscribeFrom(t, b, "t", "since-mark", eventbus.FromTime(mark))
	assert.Equal(t, []positioned{{"c", 3}, {"d", 4}}, take(t, got, 2))
	settled(t, b, "t", "since-mark")

	all := subscribeFrom(t, b, "t", "since-before", eventbus.FromTime(before))
	assert.Equal(t, []positioned{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}}, take(t, all, 4))

	// A time after the newest message starts with the first message
	// published at or after it.
	later := time.Now().Add(time.Hour)
	future := subscribeFrom(t, b, "t", "future", eventbus.FromTime(later))
	publishAll(t, b, "t", "e")
	settled(t, b, "t", "future")
	assert.Empty(t, future)

	_, err := b.Subscribe(testCtx(t), eventbus.ConsumerConfig{Topic: "t", Group: "zero", Start: eventbus.FromTime(time.Time{})},
		func(context.Context, eventbus.InboundMessage) {})
	assert.ErrorIs(t, err, eventbus.ErrInvalidOption)
}

func TestBrokerReplayKeepsKeyOrder(t *testing.T) {
	b := newBroker(t)
	publish(t, b, "t", "k", "k1")
	publish(t, b, "t", "k", "k2")
	publish(t, b, "t", "", "free")

	got := subscribeFrom(t, b, "t", "g", eventbus.FromOldest())
	first := recv(t, got, "k1")
	assert.Equal(t, "k1", string(first.Data()))
	free := recv(t, got, "the message without a key")
	assert.Equal(t, "free", string(free.Data()), "k2 waits while k1 is unsettled")
	require.NoError(t, first.Nak(testCtx(t), 0))
	again := recv(t, got, "k1 again")
	assert.Equal(t, "k1", string(again.Data()))
	assert.Equal(t, 2, again.Deliveries())
	require.NoError(t, again.Ack(testCtx(t)))
	assert.Equal(t, "k2", string(recv(t, got, "k2").Data()))
}

func TestBrokerStartBeforeTheOldestKeptFails(t *testing.T) {
	b := newBroker(t)
	before := time.Now()
	publishAll(t, b, "t", "a", "b")
	mark := time.Now()
	publishAll(t, b, "t", "c", "d", "e")
	require.NoError(t, b.SetRetention(3))

	for _, start := range []eventbus.Start{eventbus.FromSequence(1), eventbus.FromSequence(2), eventbus.FromTime(before)} {
		c, err := b.Subscribe(testCtx(t), eventbus.ConsumerConfig{Topic: "t", Group: "late", Start: start},
			func(context.Context, eventbus.InboundMessage) {})
		require.ErrorIs(t, err, eventbus.ErrNotRetained, "start at %s", start)
		assert.Nil(t, c)
		nr, ok := errors.AsType[*eventbus.NotRetainedError](err)
		require.True(t, ok)
		assert.Equal(t, eventbus.NotRetainedError{Topic: "t", Start: start, Oldest: 3}, *nr)
	}
	_, exists := b.Stats("t", "late")
	assert.False(t, exists, "a failed Subscribe creates no group")

	// FromOldest takes what is left; a time after every discarded message
	// and a kept position are served.
	assert.Equal(t, []positioned{{"c", 3}, {"d", 4}, {"e", 5}}, take(t, subscribeFrom(t, b, "t", "oldest", eventbus.FromOldest()), 3))
	assert.Equal(t, []positioned{{"c", 3}, {"d", 4}, {"e", 5}}, take(t, subscribeFrom(t, b, "t", "mark", eventbus.FromTime(mark)), 3))
	assert.Equal(t, []positioned{{"d", 4}, {"e", 5}}, take(t, subscribeFrom(t, b, "t", "at4", eventbus.FromSequence(4)), 2))

	// Retention keeps the newest messages as more are published.
	publishAll(t, b, "t", "f")
	_, err := b.Subscribe(testCtx(t), eventbus.ConsumerConfig{Topic: "t", Group: "late", Start: eventbus.FromSequence(3)},
		func(context.Context, eventbus.InboundMessage) {})
	assert.ErrorIs(t, err, eventbus.ErrNotRetained)

	assert.ErrorIs(t, b.SetRetention(-1), eventbus.ErrInvalidOption)
}

func TestBrokerWithoutHistory(t *testing.T) {
	b := newBroker(t)
	require.NoError(t, b.SetRetention(0))
	publishAll(t, b, "t", "a", "b")
	afterAll := time.Now()

	_, err := b.Subscribe(testCtx(t), eventbus.ConsumerConfig{Topic: "t", Group: "late", Start: eventbus.FromSequence(2)},
		func(context.Context, eventbus.InboundMessage) {})
	nr, ok := errors.AsType[*eventbus.NotRetainedError](err)
	require.True(t, ok, "%v", err)
	assert.Zero(t, nr.Oldest, "nothing is kept")

	// A time after every discarded message, FromOldest and the next
	// position start with the next message.
	for i, start := range []eventbus.Start{eventbus.FromTime(afterAll), eventbus.FromOldest(), eventbus.FromSequence(5)} {
		got := subscribeFrom(t, b, "t", "g"+strconv.Itoa(i), start)
		publishAll(t, b, "t", "c"+strconv.Itoa(i))
		assert.Equal(t, []positioned{{"c" + strconv.Itoa(i), uint64(3 + i)}}, take(t, got, 1), "start at %s", start)
	}
	// Each of those messages was discarded as soon as it was published.
	_, err = b.Subscribe(testCtx(t), eventbus.ConsumerConfig{Topic: "t", Group: "late", Start: eventbus.FromTime(afterAll)},
		func(context.Context, eventbus.InboundMessage) {})
	assert.ErrorIs(t, err, eventbus.ErrNotRetained)
}

func TestBrokerDiscardBefore(t *testing.T) {
	b := newBroker(t)
	// A group that exists keeps its backlog whatever the history loses.
	deliver, got := sink()
	c := subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "early", MaxInFlight: 10}, deliver)
	c.Stop()
	waitDone(t, c)
	publishAll(t, b, "t", "a", "b", "c", "d")
	b.DiscardBefore("t", 3)
	b.DiscardBefore("t", 2)       // already gone: nothing changes
	b.DiscardBefore("nowhere", 5) // no such topic: nothing changes

	_, err := b.Subscribe(testCtx(t), eventbus.ConsumerConfig{Topic: "t", Group: "late", Start: eventbus.FromSequence(2)},
		func(context.Context, eventbus.InboundMessage) {})
	nr, ok := errors.AsType[*eventbus.NotRetainedError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, uint64(3), nr.Oldest)
	assert.Equal(t, []positioned{{"c", 3}, {"d", 4}}, take(t, subscribeFrom(t, b, "t", "oldest", eventbus.FromOldest()), 2))

	// The existing group ignores its start and resumes with its backlog.
	deliver2, got2 := sink()
	subscribe(t, b, eventbus.ConsumerConfig{Topic: "t", Group: "early", MaxInFlight: 10, Start: eventbus.FromSequence(1)}, deliver2)
	assert.Equal(t, []positioned{{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}}, take(t, got2, 4))
	assert.Empty(t, got)
	settled(t, b, "t", "early")

	// Discarding past the newest message empties the history without
	// moving the positions.
	b.DiscardBefore("t", 100)
	empty := subscribeFrom(t, b, "t", "after-all", eventbus.FromOldest())
	publishAll(t, b, "t", "e")
	assert.Equal(t, []positioned{{"e", 5}}, take(t, empty, 1))
}
