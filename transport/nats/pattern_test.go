package nats

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// patternDelivery is one message a pattern consumer delivered, with its
// topic.
type patternDelivery struct {
	topic string
	m     eventbus.InboundMessage
}

// patternInbox is inbox for SubscribePattern.
func patternInbox() (<-chan patternDelivery, func(context.Context, string, eventbus.InboundMessage)) {
	ch := make(chan patternDelivery)
	return ch, func(ctx context.Context, topic string, m eventbus.InboundMessage) {
		select {
		case ch <- patternDelivery{topic, m}:
		case <-ctx.Done():
			_ = m.Nak(context.Background(), 0)
		}
	}
}

func receivePattern(t *testing.T, ch <-chan patternDelivery) patternDelivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(waitLong):
		t.Fatalf("no message within %v", waitLong)
		return patternDelivery{}
	}
}

// subscribePatternT starts a pattern consumer, stopped when the test ends.
func subscribePatternT(t *testing.T, tr *Transport, c eventbus.ConsumerConfig, deliver func(context.Context, string, eventbus.InboundMessage)) eventbus.Consumer {
	t.Helper()
	cons, err := tr.SubscribePattern(testCtx(t, waitLong), c, deliver)
	require.NoError(t, err)
	t.Cleanup(func() { stopAndWait(t, cons) })
	return cons
}

// newBus returns a bus over tr, closed when the test ends.
func newBus(t *testing.T, tr *Transport) *eventbus.Bus {
	t.Helper()
	b, err := eventbus.New(eventbus.WithTransport(tr), eventbus.WithErrorHandler(func(context.Context, *eventbus.DeliveryError) {}))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close(testCtx(t, waitLong))) })
	return b
}

func newTopic[T any](t *testing.T, b *eventbus.Bus, name string) *eventbus.Topic[T] {
	t.Helper()
	tp, err := eventbus.NewTopic[T](b, name)
	require.NoError(t, err)
	return tp
}

type chatMessage struct {
	Text string `json:"text"`
}

type chatJoined struct {
	Who string `json:"who"`
}

// A bus in the shared layout takes pattern subscriptions: it gets the
// events that another process publishes on every matching topic, of
// whatever payload type, including a topic it creates after subscribing;
// an event of a topic it does not know is dead-lettered with its bytes.
func TestPatternSubscriptionOverSharedStream(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	reader := newBus(t, connect(t, s, WithSharedStream(sharedStream)))
	newTopic[chatMessage](t, reader, "chat.message")
	newTopic[chatJoined](t, reader, "chat.room.joined")
	dead := newTopic[eventbus.FailedDelivery](t, reader, eventbus.DefaultDeadLetterTopic)
	letters := make(chan eventbus.FailedDelivery, 1)
	_, err := dead.Subscribe("dead-letters", func(_ context.Context, e *eventbus.Event[eventbus.FailedDelivery]) error {
		letters <- e.Payload
		return nil
	})
	require.NoError(t, err)
	got := make(chan eventbus.Message, 3)
	ps, err := reader.SubscribePattern("chat.>", "audit", func(_ context.Context, m eventbus.Message) error {
		got <- m
		return nil
	})
	require.NoError(t, err)
	newTopic[chatMessage](t, reader, "chat.later")

	// Another process, which knows a topic the reader does not.
	writer := newBus(t, connect(t, s, WithSharedStream(sharedStream)))
	ctx := testCtx(t, waitLong)
	require.NoError(t, newTopic[chatMessage](t, writer, "chat.message").Publish(ctx, chatMessage{Text: "hi"}))
	require.NoError(t, newTopic[chatJoined](t, writer, "chat.room.joined").Publish(ctx, chatJoined{Who: "ann"}))
	require.NoError(t, newTopic[chatMessage](t, writer, "chat.later").Publish(ctx, chatMessage{Text: "late"}))
	require.NoError(t, newTopic[chatMessage](t, writer, "chat.secret").Publish(ctx, chatMessage{Text: "unknown"}))
	require.NoError(t, newTopic[chatMessage](t, writer, "other").Publish(ctx, chatMessage{Text: "unmatched"}))

	byTopic := map[string]any{}
	for range 3 {
		select {
		case m := <-got:
			byTopic[m.EventEnvelope().Topic] = m.AnyPayload()
		case <-ctx.Done():
			t.Fatalf("got %v, want three events", byTopic)
		}
	}
	assert.Equal(t, map[string]any{
		"chat.message":     chatMessage{Text: "hi"},
		"chat.room.joined": chatJoined{Who: "ann"},
		"chat.later":       chatMessage{Text: "late"},
	}, byTopic)
	assert.Equal(t, []string{"chat.later", "chat.message", "chat.room.joined"}, ps.Topics())

	select {
	case dl := <-letters:
		assert.Equal(t, "chat.secret", dl.Envelope.Topic)
		assert.Equal(t, "audit", dl.Subscriber)
		e, err := eventbus.DecodeCloudEvent[chatMessage](dl.Data, eventbus.JSONCodec{})
		require.NoError(t, err)
		assert.Equal(t, chatMessage{Text: "unknown"}, e.Payload)
	case <-ctx.Done():
		t.Fatal("the event of the unknown topic was not dead-lettered")
	}
}

// In the default layout, one stream per topic, the transport refuses
// patterns, naming the option that makes it take them.
func TestPatternUnsupportedWithStreamPerTopic(t *testing.T) {
	tr := connect(t, startServer(t, t.TempDir(), -1))
	_, err := tr.SubscribePattern(testCtx(t, waitLong), eventbus.ConsumerConfig{Topic: "orders.*", Group: "audit"},
		func(context.Context, string, eventbus.InboundMessage) {})
	require.ErrorIs(t, err, errors.ErrUnsupported)
	assert.Regexp(t, "^eventbus/nats: .*WithSharedStream", err.Error())

	bus := newBus(t, tr)
	_, err = bus.SubscribePattern("orders.*", "audit", func(context.Context, eventbus.Message) error { return nil })
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	assert.ErrorIs(t, err, eventbus.ErrTransport)
	assert.Contains(t, err.Error(), "WithSharedStream")
}

// A pattern consumer is one durable of the shared stream, filtered on the
// pattern's subject and named apart from the plain group of the same name;
// the server selects the topics, and deliver gets each message's topic.
func TestSubscribePatternConsumer(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s, WithSubjectPrefix("acme.events"), WithSharedStream(sharedStream))
	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	ch, deliver := patternInbox()
	subscribePatternT(t, tr, eventbus.ConsumerConfig{Topic: "orders.*", Group: "audit"}, deliver)
	plain, deliverPlain := inbox()
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "orders.created", Group: "audit"}, deliverPlain)

	info, err := js.Consumer(testCtx(t, waitLong), sharedStream, patternDurableFor("audit", "orders.*"))
	require.NoError(t, err)
	assert.Equal(t, "acme.events.orders.*", info.CachedInfo().Config.FilterSubject)

	publish(t, tr, "orders.created.late", "deeper")
	publish(t, tr, "orders", "shallower")
	publish(t, tr, "orders.created", "c")
	publish(t, tr, "orders.paid", "p")
	for _, want := range []patternDelivery{{topic: "orders.created"}, {topic: "orders.paid"}} {
		d := receivePattern(t, ch)
		assert.Equal(t, want.topic, d.topic)
		assert.Equal(t, 1, d.m.Deliveries())
		ack(t, d.m)
	}
	assert.Equal(t, "c", string(receiveAndAck(t, plain)), "the plain group of the same name is another group")

	// A Nak'ed message comes again, counted.
	publish(t, tr, "orders.refunded", "r")
	d := receivePattern(t, ch)
	require.NoError(t, d.m.Nak(testCtx(t, waitLong), 10*time.Millisecond))
	d = receivePattern(t, ch)
	assert.Equal(t, "orders.refunded", d.topic)
	assert.Equal(t, 2, d.m.Deliveries())
	ack(t, d.m)
}

// A pattern consumer honours Start as a plain one does, over the shared
// stream's positions.
func TestSubscribePatternStart(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s, WithSharedStream(sharedStream))
	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	publish(t, tr, "other", "o1")   // 1
	publish(t, tr, "chat.a", "a1")  // 2
	publish(t, tr, "other", "o2")   // 3
	publish(t, tr, "chat.b", "b1")  // 4
	publish(t, tr, "chat.a.x", "x") // 5: not matched by chat.*

	ch, deliver := patternInbox()
	subscribePatternT(t, tr, eventbus.ConsumerConfig{Topic: "chat.*", Group: "replay", Start: eventbus.FromOldest()}, deliver)
	for _, want := range []struct {
		topic string
		pos   uint64
	}{{"chat.a", 2}, {"chat.b", 4}} {
		d := receivePattern(t, ch)
		assert.Equal(t, want.topic, d.topic)
		assert.Equal(t, want.pos, d.m.(eventbus.Positioned).Position())
		ack(t, d.m)
	}

	st, err := js.Stream(testCtx(t, waitLong), sharedStream)
	require.NoError(t, err)
	require.NoError(t, st.Purge(testCtx(t, waitLong), jetstream.WithPurgeSequence(3)))
	_, err = tr.SubscribePattern(testCtx(t, waitLong), eventbus.ConsumerConfig{Topic: "chat.*", Group: "late", Start: eventbus.FromSequence(1)},
		func(context.Context, string, eventbus.InboundMessage) {})
	nr, ok := errors.AsType[*eventbus.NotRetainedError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, eventbus.NotRetainedError{Topic: "chat.*", Start: eventbus.FromSequence(1), Oldest: 4}, *nr)
}

func TestSubscribePatternRejectsBadInput(t *testing.T) {
	tr := connect(t, startServer(t, t.TempDir(), -1), WithSharedStream(sharedStream))
	_, deliver := patternInbox()
	ctx := testCtx(t, waitLong)
	for _, tc := range []struct {
		name    string
		cfg     eventbus.ConsumerConfig
		deliver func(context.Context, string, eventbus.InboundMessage)
		want    error
	}{
		{"empty pattern", eventbus.ConsumerConfig{Group: "g"}, deliver, eventbus.ErrInvalidPattern},
		{"inner rest wildcard", eventbus.ConsumerConfig{Topic: "a.>.b", Group: "g"}, deliver, eventbus.ErrInvalidPattern},
		{"dotted group", eventbus.ConsumerConfig{Topic: "a.*", Group: "a.b"}, deliver, eventbus.ErrInvalidSubscriber},
		{"nil deliver", eventbus.ConsumerConfig{Topic: "a.*", Group: "g"}, nil, ErrInvalidOption},
		{"negative in flight", eventbus.ConsumerConfig{Topic: "a.*", Group: "g", MaxInFlight: -1}, deliver, ErrInvalidOption},
		{"start at nothing", eventbus.ConsumerConfig{Topic: "a.*", Group: "g", Start: eventbus.FromSequence(0)}, deliver, ErrInvalidOption},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tr.SubscribePattern(ctx, tc.cfg, tc.deliver)
			assert.ErrorIs(t, err, tc.want)
			assert.Regexp(t, "^eventbus/nats: ", err.Error())
		})
	}
}
