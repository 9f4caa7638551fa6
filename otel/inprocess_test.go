package eventbusotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	eventbusotel "github.com/busline/eventbus/otel"
)

// newTopic returns the topic name of bus, failing the test on error.
func newTopic[T any](t *testing.T, bus *eventbus.Bus, name string) *eventbus.Topic[T] {
	t.Helper()
	topic, err := eventbus.NewTopic[T](bus, name)
	require.NoError(t, err)
	return topic
}

// Without a transport the trace context travels in the shared event: the
// consumer span is the publish span's child all the same.
func TestInProcessConsumerIsChildOfPublish(t *testing.T) {
	p := newProcess(t, eventbusotel.WithSystem("chat"))
	bus := p.newBus(t, nil)
	sent := newTopic[MessageSent](t, bus, "message.sent")
	rec := bustest.Record(t, sent)
	require.NoError(t, sent.Publish(t.Context(), MessageSent{"conv-1", "Maria", "Hi"}))
	bustest.WaitIdle(t, bus)

	e := rec.Events()[0]
	publish, process := p.span(t, "publish message.sent"), p.span(t, "process message.sent")
	require.False(t, publish.Parent().IsValid(), "a publish outside any span starts a trace")
	requireChildOf(t, process, publish)
	requireLinkedTo(t, process, publish)
	parent, _ := e.TraceContext()
	require.Equal(t, publish.SpanContext().TraceID().String(), parent[3:35], "the event carries the publish span's trace ID")
	requireAttrs(t, publish, semconv.MessagingSystemKey.String("chat"), semconv.MessagingMessageID(e.ID.String()))
	requireAttrs(t, process, semconv.MessagingSystemKey.String("chat"), semconv.MessagingMessageID(e.ID.String()))
}

// With WithLinksOnly a consumer span starts a trace of its own, linked to
// the publish span.
func TestLinksOnly(t *testing.T) {
	p := newProcess(t, eventbusotel.WithLinksOnly())
	bus := p.newBus(t, nil)
	bustest.Record(t, newTopic[MessageSent](t, bus, "message.sent"))
	require.NoError(t, newTopic[MessageSent](t, bus, "message.sent").Publish(t.Context(), MessageSent{}))
	bustest.WaitIdle(t, bus)

	publish, process := p.span(t, "publish message.sent"), p.span(t, "process message.sent")
	require.False(t, process.Parent().IsValid(), "the consumer span is a root")
	require.NotEqual(t, publish.SpanContext().TraceID(), process.SpanContext().TraceID())
	requireLinkedTo(t, process, publish)
}

// A handler whose ctx already has a span (here given by middleware outside
// the telemetry's) keeps it as the consumer span's parent; the publish
// span is a link.
func TestAmbientSpanIsTheParent(t *testing.T) {
	p := newProcess(t)
	var ambient trace.Span
	outer := eventbus.NewMiddleware(func(next eventbus.MessageHandler) eventbus.MessageHandler {
		return func(ctx context.Context, m eventbus.Message) error {
			ctx, ambient = p.tracer.Start(ctx, "ambient")
			defer ambient.End()
			return next(ctx, m)
		}
	})
	bus := bustest.NewBus(t,
		eventbus.WithPublishHook(p.tel.PublishHook()),
		eventbus.WithMiddleware(outer, p.tel.Middleware()))
	sent := newTopic[MessageSent](t, bus, "message.sent")
	bustest.Record(t, sent)
	require.NoError(t, sent.Publish(t.Context(), MessageSent{}))
	bustest.WaitIdle(t, bus)

	process := p.span(t, "process message.sent")
	requireChildOf(t, process, p.span(t, "ambient"))
	requireLinkedTo(t, process, p.span(t, "publish message.sent"))
}

// A trace context set by an earlier hook is the event's creation context:
// it is kept, and the publish span links to it.
func TestGivenCreationContextIsKept(t *testing.T) {
	p := newProcess(t)
	_, creator := p.tracer.Start(t.Context(), "create")
	creator.End()
	create := func(ctx context.Context, env *eventbus.Envelope) func(eventbus.Message, error) {
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpan(ctx, creator), carrier)
		env.SetTraceContext(carrier.Get("traceparent"), "")
		return nil
	}
	bus := bustest.NewBus(t,
		eventbus.WithPublishHook(create),
		eventbus.WithPublishHook(p.tel.PublishHook()),
		eventbus.WithMiddleware(p.tel.Middleware()))
	sent := newTopic[MessageSent](t, bus, "message.sent")
	bustest.Record(t, sent)
	require.NoError(t, sent.Publish(t.Context(), MessageSent{}))
	bustest.WaitIdle(t, bus)

	created := p.span(t, "create")
	publish, process := p.span(t, "publish message.sent"), p.span(t, "process message.sent")
	requireLinkedTo(t, publish, created)
	requireChildOf(t, process, created)
}

// A handler that fails for good, with Retry inside the telemetry's
// middleware, gives one error span covering both attempts.
func TestFailingHandler(t *testing.T) {
	p := newProcess(t)
	bus := p.newBus(t, []eventbus.Middleware{eventbus.Retry(eventbus.RetryPolicy{MaxAttempts: 2, InitialInterval: time.Millisecond})})
	p.observe(t, bus)
	sent := newTopic[MessageSent](t, bus, "message.sent")
	boom := errors.New("push gateway down")
	_, err := sent.Subscribe("notification", func(context.Context, *eventbus.Event[MessageSent]) error { return boom })
	require.NoError(t, err)
	require.NoError(t, sent.Publish(t.Context(), MessageSent{}))
	bustest.WaitIdle(t, bus)

	process := p.span(t, "process message.sent")
	require.Equal(t, codes.Error, process.Status().Code)
	require.Equal(t, boom.Error(), process.Status().Description)
	requireAttrs(t, process,
		semconv.MessagingConsumerGroupName("notification"),
		eventbusotel.AttrDeliveryAttempt.Int(2),
		semconv.ErrorTypeKey.String("*errors.errorString"))
	require.Len(t, process.Events(), 1)
	require.Equal(t, "exception", process.Events()[0].Name)

	rm := p.metrics(t)
	group := semconv.MessagingConsumerGroupName("notification")
	require.EqualValues(t, 1, sum(t, rm, "eventbus.failed.messages", group))
	require.EqualValues(t, 1, sum(t, rm, "eventbus.handler.retries", group))
	require.EqualValues(t, 0, sum(t, rm, "eventbus.delivered.messages", group))
	require.EqualValues(t, 1, sum(t, rm, "messaging.client.consumed.messages", group, semconv.ErrorTypeKey.String("*errors.errorString")))
	n, _ := histogram(t, rm, "messaging.process.duration", group, semconv.ErrorTypeKey.String("*errors.errorString"))
	require.EqualValues(t, 1, n)
}

// The DeadLetter middleware reports a dead-lettered delivery handled; the
// consumer span still ends in error, and the dead letter's publish is its
// child.
func TestDeadLetteredDelivery(t *testing.T) {
	p := newProcess(t)
	bus := p.newBus(t, []eventbus.Middleware{
		eventbus.DeadLetter(),
		eventbus.Retry(eventbus.RetryPolicy{MaxAttempts: 2, InitialInterval: time.Millisecond}),
	})
	p.observe(t, bus)
	sent := newTopic[MessageSent](t, bus, "message.sent")
	_, err := sent.Subscribe("notification", func(context.Context, *eventbus.Event[MessageSent]) error {
		return errors.New("push gateway down")
	})
	require.NoError(t, err)
	dead := bustest.Record(t, newTopic[eventbus.FailedDelivery](t, bus, eventbus.DefaultDeadLetterTopic))
	require.NoError(t, sent.Publish(t.Context(), MessageSent{}))
	bustest.WaitIdle(t, bus)
	require.Equal(t, 1, dead.Len())

	process := p.span(t, "process message.sent")
	require.Equal(t, codes.Error, process.Status().Code)
	require.Equal(t, "dead-lettered: push gateway down", process.Status().Description)
	requireAttrs(t, process,
		eventbusotel.AttrDeliveryDeadLettered.Bool(true),
		eventbusotel.AttrDeliveryAttempt.Int(2),
		semconv.ErrorTypeKey.String(eventbusotel.ErrorTypeDeadLettered))
	publishDead := p.span(t, "publish deadletter")
	requireChildOf(t, publishDead, process)
	requireChildOf(t, p.span(t, "process deadletter"), publishDead)
	require.Equal(t, codes.Unset, p.span(t, "process deadletter").Status().Code, "the dead letter's own handling succeeded")

	rm := p.metrics(t)
	group := semconv.MessagingConsumerGroupName("notification")
	require.EqualValues(t, 1, sum(t, rm, "eventbus.dead_lettered.messages", group))
	require.EqualValues(t, 0, sum(t, rm, "eventbus.failed.messages", group))
	require.EqualValues(t, 1, sum(t, rm, "messaging.client.consumed.messages", group, semconv.ErrorTypeKey.String(eventbusotel.ErrorTypeDeadLettered)))
}

// A panicking handler without Recover still ends its span, in error; the
// panic goes on to the bus, which survives it.
func TestPanickingHandler(t *testing.T) {
	p := newProcess(t)
	bus := p.newBus(t, nil)
	sent := newTopic[MessageSent](t, bus, "message.sent")
	sub, err := sent.Subscribe("notification", func(context.Context, *eventbus.Event[MessageSent]) error { panic("nil map") })
	require.NoError(t, err)
	require.NoError(t, sent.Publish(t.Context(), MessageSent{}))
	bustest.WaitIdle(t, bus)

	process := p.span(t, "process message.sent")
	require.Equal(t, codes.Error, process.Status().Code)
	require.Equal(t, "handler panicked", process.Status().Description)
	requireAttrs(t, process, semconv.ErrorTypeKey.String(eventbusotel.ErrorTypePanic))
	require.EqualValues(t, 1, sub.Stats().Failed)
	require.EqualValues(t, 1, sum(t, p.metrics(t), "messaging.client.consumed.messages", semconv.ErrorTypeKey.String("panic")))
}

// A publish the bus refuses is not traced; one that fails after the hook
// ran (here: an OverflowFail subscriber's full queue) ends its span in
// error, counted with its error.type.
func TestFailedPublish(t *testing.T) {
	p := newProcess(t)
	bus := p.newBus(t, nil)
	sent := newTopic[MessageSent](t, bus, "message.sent")
	release := holdFirst(t, sent, "slow", eventbus.WithQueueCapacity(1), eventbus.WithOverflow(eventbus.OverflowFail))
	require.NoError(t, sent.Publish(t.Context(), MessageSent{Text: "queued"}))
	err := sent.Publish(t.Context(), MessageSent{Text: "rejected"})
	require.ErrorIs(t, err, eventbus.ErrQueueFull)
	release()
	bustest.WaitIdle(t, bus)

	publishes := p.named("publish message.sent")
	require.Len(t, publishes, 3)
	failed := publishes[2]
	require.Equal(t, codes.Error, failed.Status().Code)
	requireAttrs(t, failed, semconv.ErrorTypeKey.String("*eventbus.SubscriberError"))
	rm := p.metrics(t)
	require.EqualValues(t, 3, sum(t, rm, "messaging.client.sent.messages"))
	require.EqualValues(t, 1, sum(t, rm, "messaging.client.sent.messages", semconv.ErrorTypeKey.String("*eventbus.SubscriberError")))
}

// An event replayed from retention has its span marked replayed, and no
// latency: its publish was long ago by design.
func TestReplayedDelivery(t *testing.T) {
	p := newProcess(t)
	bus := p.newBus(t, nil)
	sent, err := eventbus.NewTopic[MessageSent](bus, "message.sent", eventbus.WithRetention(eventbus.Retention{MaxEvents: 10}))
	require.NoError(t, err)
	require.NoError(t, sent.Publish(t.Context(), MessageSent{Text: "before the subscriber"}))
	sub, err := sent.Subscribe("transcript", func(context.Context, *eventbus.Event[MessageSent]) error { return nil },
		eventbus.WithStart(eventbus.FromOldest()))
	require.NoError(t, err)
	<-sub.Live() // the history has been handled
	require.NoError(t, sent.Publish(t.Context(), MessageSent{Text: "live"}))
	bustest.WaitIdle(t, bus)

	processes := p.named("process message.sent")
	require.Len(t, processes, 2)
	requireAttrs(t, processes[0], eventbusotel.AttrDeliveryReplayed.Bool(true), eventbusotel.AttrMessageSequence.Int(1))
	require.NotContains(t, attrs(processes[1]), eventbusotel.AttrDeliveryReplayed)
	rm := p.metrics(t)
	n, _ := histogram(t, rm, "eventbus.delivery.latency")
	require.EqualValues(t, 1, n, "only the live event's latency")
	require.EqualValues(t, 2, sum(t, rm, "messaging.client.consumed.messages"))
}
