package nats

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sharedStream is the stream name the tests of the shared layout use.
const sharedStream = "events"

// signalHandler is a slog.Handler that signals each record with the
// message msg on a channel, for tests that wait for what the transport
// logs.
type signalHandler struct {
	msg string
	ch  chan struct{}
}

func newSignalHandler(msg string) *signalHandler {
	return &signalHandler{msg: msg, ch: make(chan struct{}, 64)}
}

func (h *signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *signalHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *signalHandler) WithGroup(string) slog.Handler            { return h }
func (h *signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.ch <- struct{}{}:
		default: // more than the tests wait for
		}
	}
	return nil
}

// await waits until n more records with the message have been logged.
func (h *signalHandler) await(t *testing.T, n int) {
	t.Helper()
	ctx := testCtx(t, waitLong)
	for range n {
		select {
		case <-h.ch:
		case <-ctx.Done():
			t.Fatalf("%q not logged %d times within %v", h.msg, n, waitLong)
		}
	}
}

func TestSharedStreamHoldsEveryTopic(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s, WithSharedStream(sharedStream))
	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	chA, deliverA := inbox()
	chB, deliverB := inbox()
	// One group name on two topics: two consumers, each reading its topic.
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "a", Group: "g"}, deliverA)
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "b.c", Group: "g"}, deliverB)
	publish(t, tr, "a", "a1")
	publish(t, tr, "b.c", "b1")
	publish(t, tr, "a", "a2")

	for _, want := range []struct {
		ch   <-chan eventbus.InboundMessage
		data string
		pos  uint64
	}{{chA, "a1", 1}, {chB, "b1", 2}, {chA, "a2", 3}} {
		m := receive(t, want.ch)
		assert.Equal(t, want.data, string(m.Data()))
		assert.Equal(t, want.pos, m.(eventbus.Positioned).Position(), "positions are the shared stream's sequences")
		ack(t, m)
	}

	ctx := testCtx(t, waitLong)
	st, err := js.Stream(ctx, sharedStream)
	require.NoError(t, err)
	assert.Equal(t, []string{"eventbus.>"}, st.CachedInfo().Config.Subjects)
	assert.Equal(t, uint64(3), st.CachedInfo().State.Msgs)
	names := js.StreamNames(ctx)
	var streams []string
	for n := range names.Name() {
		streams = append(streams, n)
	}
	require.NoError(t, names.Err())
	assert.Equal(t, []string{sharedStream}, streams, "no stream per topic")
	for topic, subject := range map[string]string{"a": "eventbus.a", "b.c": "eventbus.b.c"} {
		c, err := js.Consumer(ctx, sharedStream, tr.cfg.durableFor("g", topic))
		require.NoError(t, err, "the consumer of g on %s", topic)
		assert.Equal(t, subject, c.CachedInfo().Config.FilterSubject)
	}
}

func TestSharedStreamDurableNames(t *testing.T) {
	cfg, err := newConfig([]Option{WithSharedStream(sharedStream)})
	require.NoError(t, err)
	plain := cfg.durableFor("g", "orders")
	assert.True(t, strings.HasPrefix(plain, "g_t"), plain)
	assert.NotEqual(t, plain, cfg.durableFor("g", "orders_x"))
	assert.NotEqual(t, plain, cfg.durableFor("h", "orders"))
	assert.Equal(t, plain, cfg.durableFor("g", "orders"), "stable")

	// A pattern without a wildcard names the topic it matches, and a
	// subscriber name may look like another's name with a marker: the
	// markers still keep plain and pattern groups apart.
	assert.NotEqual(t, patternDurableFor("g", "orders"), cfg.durableFor("g", "orders"))
	assert.NotEqual(t, patternDurableFor("g", "orders"), cfg.durableFor("g_p", "orders"))
	long := strings.Repeat("x", 255)
	for _, name := range []string{cfg.durableFor(long, "t"), patternDurableFor(long, "t.>")} {
		assert.Len(t, name, 255)
	}
	assert.NotEqual(t, cfg.durableFor(long, "t"), cfg.durableFor(long[:254]+"y", "t"), "a cut name keeps the hash of the whole")

	def, err := newConfig(nil)
	require.NoError(t, err)
	assert.Equal(t, "g", def.durableFor("g", "orders"), "one stream per topic: the group's name as it is")
}

func TestSharedStreamReplayPositions(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s, WithSharedStream(sharedStream))
	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	// Sequences 1 to 6: a, b, a, b, a, b.
	for i := range 3 {
		publish(t, tr, "a", string(rune('0'+i)))
		publish(t, tr, "b", string(rune('0'+i)))
	}
	data, pos := takeReplayed(t, subscribeAt(t, tr, "b", "from3", eventbus.FromSequence(3)), 2)
	assert.Equal(t, []string{"1", "2"}, data, "a position selects the topic's messages from there on")
	assert.Equal(t, []uint64{4, 6}, pos)

	// The stream loses its oldest messages, of both topics, up to 3 (a's):
	// a start before it fails, and the oldest position kept of b is 4.
	st, err := js.Stream(testCtx(t, waitLong), sharedStream)
	require.NoError(t, err)
	require.NoError(t, st.Purge(testCtx(t, waitLong), jetstream.WithPurgeSequence(3)))
	err = subscribeErr(t, tr, "b", "late", eventbus.FromSequence(2))
	nr, ok := errors.AsType[*eventbus.NotRetainedError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, eventbus.NotRetainedError{Topic: "b", Start: eventbus.FromSequence(2), Oldest: 4}, *nr)
	_, err = js.Consumer(testCtx(t, waitLong), sharedStream, tr.cfg.durableFor("late", "b"))
	assert.ErrorIs(t, err, jetstream.ErrConsumerNotFound, "a failed Subscribe leaves no group")

	// A topic with no message kept: Oldest is 0.
	nr, ok = errors.AsType[*eventbus.NotRetainedError](subscribeErr(t, tr, "c", "late", eventbus.FromSequence(1)))
	require.True(t, ok)
	assert.Zero(t, nr.Oldest)

	data, _ = takeReplayed(t, subscribeAt(t, tr, "b", "oldest", eventbus.FromOldest()), 2)
	assert.Equal(t, []string{"1", "2"}, data)
}

func TestSharedStreamAndPerTopicStreamsConflict(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	ctx := testCtx(t, waitLong)
	msg := func() eventbus.OutgoingMessage {
		return eventbus.OutgoingMessage{Topic: "t", ID: uuid.New(), Data: []byte("x")}
	}
	perTopic := connect(t, s)
	require.NoError(t, perTopic.Publish(ctx, msg()))
	shared := connect(t, s, WithSharedStream(sharedStream))
	assert.ErrorIs(t, shared.Publish(ctx, msg()), ErrStreamConflict, "a topic's stream captures part of the prefix")

	// On another prefix, the shared stream comes first.
	prefixed := connect(t, s, WithSubjectPrefix("acme"), WithSharedStream("acme"))
	require.NoError(t, prefixed.Publish(ctx, msg()))
	perTopicAcme := connect(t, s, WithSubjectPrefix("acme"))
	assert.ErrorIs(t, perTopicAcme.Publish(ctx, msg()), ErrStreamConflict, "the shared stream captures the topic's subject")

	// A stream of the shared name that captures other subjects.
	other := connect(t, s, WithSubjectPrefix("other"), WithSharedStream("acme"))
	assert.ErrorIs(t, other.Publish(ctx, msg()), ErrStreamConflict)
}

func TestSharedStreamConsumersSetUpAgain(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	logs := newSignalHandler("nats: group set up again")
	tr := connect(t, s, WithSharedStream(sharedStream), WithLogger(slog.New(logs)))
	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	plain, deliverPlain := inbox()
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "chat.x", Group: "g"}, deliverPlain)
	pattern, deliverPattern := patternInbox()
	subscribePatternT(t, tr, eventbus.ConsumerConfig{Topic: "chat.*", Group: "g"}, deliverPattern)

	// The pattern's group is deleted: it is set up again, the plain one
	// is untouched.
	require.NoError(t, js.DeleteConsumer(testCtx(t, waitLong), sharedStream, patternDurableFor("g", "chat.*")))
	logs.await(t, 1)
	publish(t, tr, "chat.x", "after the group")
	assert.Equal(t, "after the group", string(receiveAndAck(t, plain)))
	got := receivePattern(t, pattern)
	assert.Equal(t, "chat.x", got.topic)
	assert.Equal(t, "after the group", string(got.m.Data()))
	ack(t, got.m)

	// The whole stream is deleted: both groups set it and themselves up
	// again, and Publish finds it.
	require.NoError(t, js.DeleteStream(testCtx(t, waitLong), sharedStream))
	logs.await(t, 2)
	publish(t, tr, "chat.x", "after the stream")
	assert.Equal(t, "after the stream", string(receiveAndAck(t, plain)))
	got = receivePattern(t, pattern)
	assert.Equal(t, "after the stream", string(got.m.Data()))
	ack(t, got.m)
}

func receiveAndAck(t *testing.T, ch <-chan eventbus.InboundMessage) []byte {
	t.Helper()
	m := receive(t, ch)
	ack(t, m)
	return m.Data()
}
