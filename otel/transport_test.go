package eventbusotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/busline/eventbus/transport/memory"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	eventbusotel "github.com/busline/eventbus/otel"
)

// chat is the chat example split over two processes sharing a broker: the
// chat service publishes message.sent and records the replies; the
// workers' AI responder answers each message with an ai.reply.generated
// published with its handler's ctx.
type chat struct {
	service, workers       *process
	serviceBus, workersBus *eventbus.Bus
	sent                   *eventbus.Topic[MessageSent]
	replies                *bustest.Recorder[*eventbus.Event[AIReplyGenerated]]
}

// newChat wires the chat, the service's bus over serviceTr, the workers'
// over workersTr with workerMWs after the telemetry middleware and
// workerOpts.
func newChat(t *testing.T, serviceTr, workersTr eventbus.Transport, workerMWs []eventbus.Middleware, workerOpts ...eventbus.Option) *chat {
	t.Helper()
	c := &chat{service: newProcess(t), workers: newProcess(t)}
	c.serviceBus = c.service.newBus(t, nil, eventbus.WithTransport(serviceTr), eventbus.WithSource("/chat-service"))
	c.workersBus = c.workers.newBus(t, workerMWs, append([]eventbus.Option{eventbus.WithTransport(workersTr), eventbus.WithSource("/workers")}, workerOpts...)...)
	c.workers.observe(t, c.workersBus)

	workerSent, err := eventbus.NewTopic[MessageSent](c.workersBus, "message.sent")
	require.NoError(t, err)
	workerReplies, err := eventbus.NewTopic[AIReplyGenerated](c.workersBus, "ai.reply.generated")
	require.NoError(t, err)
	_, err = workerSent.Subscribe("ai-responder", func(ctx context.Context, e *eventbus.Event[MessageSent]) error {
		return workerReplies.Publish(ctx, AIReplyGenerated{e.Payload.ConversationID, "Thanks, " + e.Payload.From + "!"})
	})
	require.NoError(t, err)

	c.sent, err = eventbus.NewTopic[MessageSent](c.serviceBus, "message.sent")
	require.NoError(t, err)
	replies, err := eventbus.NewTopic[AIReplyGenerated](c.serviceBus, "ai.reply.generated")
	require.NoError(t, err)
	c.replies = bustest.Record(t, replies)
	return c
}

// waitReplies waits for n replies at the chat service, then until both
// buses are idle: every handler, and so every consumer span, has ended.
func (c *chat) waitReplies(t *testing.T, n int) []*eventbus.Event[AIReplyGenerated] {
	t.Helper()
	got := c.replies.WaitN(n)
	bustest.WaitIdle(t, c.workersBus)
	bustest.WaitIdle(t, c.serviceBus)
	return got
}

// newMemoryBroker returns a memory.Broker closed when the test ends,
// after the buses made later.
func newMemoryBroker(t *testing.T) *memory.Broker {
	broker := memory.NewBroker()
	t.Cleanup(func() { require.NoError(t, broker.Close()) })
	return broker
}

// One trace follows a message from the chat service through the broker to
// the AI responder, and its reply back: request → publish message.sent →
// process message.sent → publish ai.reply.generated → process
// ai.reply.generated, each span the child of the one before, though the
// two processes share nothing but the broker.
func TestTraceFollowsAChainAcrossBuses(t *testing.T) {
	broker := newMemoryBroker(t)
	c := newChat(t, broker, broker, nil)
	requireChainTraced(t, c)
}

// requireChainTraced publishes a message on c's chat service inside a
// request span and checks the trace of its chain.
func requireChainTraced(t *testing.T, c *chat) {
	t.Helper()
	ctx, request := c.service.tracer.Start(t.Context(), "request")
	require.NoError(t, c.sent.Publish(ctx, MessageSent{"conv-1", "Maria", "Where is my order?"}))
	request.End()
	reply := c.waitReplies(t, 1)[0]

	req := c.service.span(t, "request")
	publish := c.service.span(t, "publish message.sent")
	process := c.workers.span(t, "process message.sent")
	publishReply := c.workers.span(t, "publish ai.reply.generated")
	processReply := c.service.span(t, "process ai.reply.generated")

	requireChildOf(t, publish, req)
	requireChildOf(t, process, publish)
	requireLinkedTo(t, process, publish)
	require.True(t, process.Parent().IsRemote(), "the consumer span's parent comes from the broker")
	requireChildOf(t, publishReply, process)
	requireChildOf(t, processReply, publishReply)
	requireLinkedTo(t, processReply, publishReply)

	require.Equal(t, trace.SpanKindProducer, publish.SpanKind())
	require.Equal(t, trace.SpanKindConsumer, process.SpanKind())
	require.Equal(t, trace.SpanKindProducer, publishReply.SpanKind())
	require.Equal(t, trace.SpanKindConsumer, processReply.SpanKind())

	sentID := attrs(process)[semconv.MessagingMessageIDKey].AsString()
	require.Equal(t, reply.CausationID.String(), sentID, "the reply was caused by the message the worker handled")
	requireAttrs(t, publish,
		semconv.MessagingSystemKey.String("eventbus"),
		semconv.MessagingDestinationName("message.sent"),
		semconv.MessagingOperationName("publish"),
		semconv.MessagingOperationTypeSend,
		semconv.MessagingMessageID(sentID),
		semconv.MessagingMessageConversationID(sentID))
	requireAttrs(t, process,
		semconv.MessagingSystemKey.String("eventbus"),
		semconv.MessagingDestinationName("message.sent"),
		semconv.MessagingConsumerGroupName("ai-responder"),
		semconv.MessagingOperationName("process"),
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingMessageConversationID(sentID),
		eventbusotel.AttrDeliveryAttempt.Int(1),
		eventbusotel.AttrDeliveryCount.Int(1),
		eventbusotel.AttrMessageSequence.Int(1))
	requireAttrs(t, publishReply,
		semconv.MessagingDestinationName("ai.reply.generated"),
		semconv.MessagingMessageID(reply.ID.String()),
		semconv.MessagingMessageConversationID(sentID))
	requireAttrs(t, processReply,
		semconv.MessagingDestinationName("ai.reply.generated"),
		semconv.MessagingConsumerGroupName("bustest-recorder"),
		semconv.MessagingMessageID(reply.ID.String()),
		eventbusotel.AttrMessageCausationID.String(sentID))
	for _, s := range []sdktrace.ReadOnlySpan{publish, process, publishReply, processReply} {
		require.Equal(t, codes.Unset, s.Status().Code, "status of %q", s.Name())
		require.NotContains(t, attrs(s), semconv.ErrorTypeKey, "error.type of %q", s.Name())
	}

	// The metrics of each process.
	service, workers := c.service.metrics(t), c.workers.metrics(t)
	onSent := semconv.MessagingDestinationName("message.sent")
	onReplies := semconv.MessagingDestinationName("ai.reply.generated")
	responder := semconv.MessagingConsumerGroupName("ai-responder")
	require.EqualValues(t, 1, sum(t, service, "messaging.client.sent.messages", onSent, semconv.MessagingOperationName("publish")))
	require.EqualValues(t, 1, sum(t, workers, "messaging.client.sent.messages", onReplies))
	require.EqualValues(t, 1, sum(t, workers, "messaging.client.consumed.messages", onSent, responder, semconv.MessagingOperationName("process")))
	require.EqualValues(t, 1, sum(t, service, "messaging.client.consumed.messages", onReplies))
	for _, name := range []string{"messaging.process.duration", "eventbus.delivery.latency"} {
		n, total := histogram(t, workers, name, onSent, responder)
		require.EqualValues(t, 1, n, name)
		require.Greater(t, total, 0.0, name)
	}
	n, _ := histogram(t, service, "messaging.client.operation.duration", onSent, semconv.MessagingOperationTypeSend)
	require.EqualValues(t, 1, n)
	require.EqualValues(t, 1, sum(t, workers, "eventbus.delivered.messages", onSent, responder, semconv.MessagingSystemKey.String("eventbus")))
	require.EqualValues(t, 0, sum(t, workers, "eventbus.failed.messages", onSent, responder))
	require.EqualValues(t, 0, sum(t, workers, "eventbus.queue.length", onSent, responder))
	require.EqualValues(t, 0, sum(t, workers, "eventbus.delivery.active", onSent, responder))
}

// A delivery that fails makes an error span; the broker's redelivery is a
// second consumer span, child of the same publish span, with the next
// delivery count, that succeeds.
func TestRedeliveryIsASecondChildOfThePublish(t *testing.T) {
	broker := newMemoryBroker(t)
	c := newChat(t, broker, broker,
		[]eventbus.Middleware{bustest.Fail(bustest.FirstAttempts(1))},
		eventbus.WithRedelivery(eventbus.RetryPolicy{InitialInterval: time.Millisecond, Jitter: -1}))
	require.NoError(t, c.sent.Publish(t.Context(), MessageSent{"conv-1", "Maria", "Hello?"}))
	c.waitReplies(t, 1)

	publish := c.service.span(t, "publish message.sent")
	deliveries := c.workers.named("process message.sent")
	require.Len(t, deliveries, 2)
	failed, redelivered := deliveries[0], deliveries[1]
	for _, s := range deliveries {
		requireChildOf(t, s, publish)
		requireLinkedTo(t, s, publish)
	}
	require.Equal(t, codes.Error, failed.Status().Code)
	require.Contains(t, failed.Status().Description, "injected")
	requireAttrs(t, failed, eventbusotel.AttrDeliveryCount.Int(1), semconv.ErrorTypeKey.String("*bustest.InjectedError"))
	require.Equal(t, "exception", failed.Events()[0].Name, "the error is recorded")
	require.Equal(t, codes.Unset, redelivered.Status().Code)
	requireAttrs(t, redelivered, eventbusotel.AttrDeliveryCount.Int(2))
	requireChildOf(t, c.workers.span(t, "publish ai.reply.generated"), redelivered)

	workers := c.workers.metrics(t)
	onSent := semconv.MessagingDestinationName("message.sent")
	require.EqualValues(t, 2, sum(t, workers, "messaging.client.consumed.messages", onSent))
	require.EqualValues(t, 1, sum(t, workers, "messaging.client.consumed.messages", onSent, semconv.ErrorTypeKey.String("*bustest.InjectedError")))
	require.EqualValues(t, 1, sum(t, workers, "eventbus.failed.messages", onSent))
	require.EqualValues(t, 1, sum(t, workers, "eventbus.delivered.messages", onSent))
	n, _ := histogram(t, workers, "eventbus.delivery.latency", onSent)
	require.EqualValues(t, 2, n, "each delivery's latency")
}
