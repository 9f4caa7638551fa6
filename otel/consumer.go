package eventbusotel

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Middleware returns the middleware that traces and measures the handling
// of events; give it to eventbus.New first in eventbus.WithMiddleware, so
// that it is outermost (see the package documentation for why).
//
// Each call of it, one per delivery of an event to a subscriber when it is
// outermost, makes a CONSUMER span named "process <topic>". The span links
// to the event's creation context, the publish span whose context the
// event's trace context (Envelope.TraceContext) carries, and is that span's child,
// unless the handler's ctx already has a span of its own (then that is the
// parent) or WithLinksOnly was given (then the span starts a new trace).
// The handler's ctx is the span's, so the events a handler publishes with
// it are the span's children, and a trace follows a chain of events across
// buses and brokers.
//
// The span has the messaging attributes messaging.system,
// messaging.destination.name (the topic), messaging.consumer.group.name
// (the subscriber's name, a consumer group over a transport),
// messaging.operation.name "process", messaging.operation.type "process",
// messaging.message.id and messaging.message.conversation_id (the event's
// ID and correlation ID), and this package's eventbus.delivery.attempt,
// eventbus.delivery.count, eventbus.message.sequence and, when they apply,
// eventbus.message.causation_id and eventbus.delivery.replayed. It ends
// when the rest of the chain returns: with an error status, the error
// recorded and its error.type when the chain failed; with an error status,
// eventbus.delivery.dead_lettered and error.type "dead_lettered" when the
// DeadLetter middleware, inside this one, dead-lettered the event (it
// reports the delivery handled to the bus; the dead letter's publish is
// seen through this package's PublishHook, which must be on the bus for
// this);
// with an error status and error.type "panic" when the handler panicked,
// the panic going on.
//
// Each call also counts one messaging.client.consumed.messages and records
// messaging.process.duration (with error.type on failure), and, unless the
// event was replayed from retention, the time since the event's publish in
// eventbus.delivery.latency (0 when this process's clock is behind the
// publisher's).
func (t *Telemetry) Middleware() eventbus.Middleware {
	return eventbus.NewMiddleware(func(next eventbus.MessageHandler) eventbus.MessageHandler {
		return func(ctx context.Context, m eventbus.Message) error {
			return t.process(ctx, m, next)
		}
	})
}

// process runs next for m inside a consumer span.
func (t *Telemetry) process(ctx context.Context, m eventbus.Message, next eventbus.MessageHandler) error {
	start := time.Now()
	env := m.EventEnvelope()
	info, inHandler := eventbus.DeliveryFromContext(ctx)
	attrs := make([]attribute.KeyValue, 0, 12)
	attrs = append(attrs,
		t.system,
		semconv.MessagingDestinationName(env.Topic),
		semconv.MessagingOperationName(operationProcess),
		semconv.MessagingOperationTypeProcess)
	if inHandler {
		attrs = append(attrs, semconv.MessagingConsumerGroupName(info.Subscriber))
	}
	// The metrics' attributes, which the span's extend.
	base := attrs[:len(attrs):len(attrs)]
	key := setKey{operationProcess, env.Topic, info.Subscriber}
	if !info.Replayed && !env.Time.IsZero() {
		lag := max(start.Sub(env.Time), 0) // a clock behind the publisher's reads 0
		t.latency.Record(ctx, lag.Seconds(), metric.WithAttributeSet(t.metricSet(key, base)))
	}

	attrs = append(attrs,
		semconv.MessagingMessageID(env.ID.String()),
		semconv.MessagingMessageConversationID(env.CorrelationID),
		AttrMessageSequence.Int64(int64(env.Sequence)))
	if env.CausationID != uuid.Nil {
		attrs = append(attrs, AttrMessageCausationID.String(env.CausationID.String()))
	}
	if inHandler {
		attrs = append(attrs, AttrDeliveryCount.Int(info.Deliveries))
		if info.Replayed {
			attrs = append(attrs, AttrDeliveryReplayed.Bool(true))
		}
	}
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithTimestamp(start),
		trace.WithAttributes(attrs...),
	}
	parent := ctx
	if sc := t.creationContext(env); sc.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
		if !t.linksOnly && !trace.SpanContextFromContext(ctx).IsValid() {
			parent = trace.ContextWithRemoteSpanContext(ctx, sc)
		}
	}
	if t.linksOnly {
		opts = append(opts, trace.WithNewRoot())
	}
	spanCtx, span := t.tracer.Start(parent, operationProcess+" "+env.Topic, opts...)
	state := &deliveryState{event: env.ID}
	spanCtx = context.WithValue(spanCtx, deliveryStateKey{}, state)

	returned := false
	defer func() {
		if !returned { // next panicked: end the span, and let the panic go on
			errType := semconv.ErrorTypeKey.String(ErrorTypePanic)
			span.SetAttributes(errType)
			span.SetStatus(codes.Error, "handler panicked")
			span.End()
			t.recordProcess(ctx, time.Since(start), attribute.NewSet(append(base, errType)...))
		}
	}()
	err := next(spanCtx, m)
	returned = true
	end := time.Now()

	var final []attribute.KeyValue // the span's attributes known at its end
	if info, ok := eventbus.DeliveryFromContext(ctx); ok {
		final = append(final, AttrDeliveryAttempt.Int(info.Attempt))
	}
	set := t.metricSet(key, base)
	switch reason := state.deadLettered.Load(); {
	case err != nil:
		errType := errorType(err)
		set = attribute.NewSet(append(base, errType)...)
		final = append(final, errType)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	case reason != nil:
		errType := semconv.ErrorTypeKey.String(ErrorTypeDeadLettered)
		set = attribute.NewSet(append(base, errType)...)
		final = append(final, errType, AttrDeliveryDeadLettered.Bool(true))
		span.SetStatus(codes.Error, "dead-lettered: "+*reason)
	}
	span.SetAttributes(final...)
	span.End(trace.WithTimestamp(end))
	t.recordProcess(ctx, end.Sub(start), set)
	return err
}

// recordProcess counts a delivery and records its duration d, with the
// attributes set.
func (t *Telemetry) recordProcess(ctx context.Context, d time.Duration, set attribute.Set) {
	t.consumed.Add(ctx, 1, metric.WithAttributeSet(set))
	t.processDuration.Record(ctx, d.Seconds(), metric.WithAttributeSet(set))
}

// deliveryState is what the consumer span of a delivery learns from the
// publishes made with its ctx.
type deliveryState struct {
	event        uuid.UUID
	deadLettered atomic.Pointer[string] // the final error's text
}

type deliveryStateKey struct{}

// markDeadLettered records in the delivery state of ctx, if any, that m,
// just published, is the dead letter of the delivery's event.
func markDeadLettered(ctx context.Context, m eventbus.Message) {
	state, ok := ctx.Value(deliveryStateKey{}).(*deliveryState)
	if !ok {
		return
	}
	dl, ok := m.AnyPayload().(eventbus.FailedDelivery)
	if !ok || dl.Envelope.ID != state.event {
		return
	}
	reason := dl.Error
	state.deadLettered.Store(&reason)
}
