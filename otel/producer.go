package eventbusotel

import (
	"context"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// PublishHook returns the hook that traces and counts publishes; give it
// to eventbus.New with eventbus.WithPublishHook.
//
// For every publish the bus accepts it starts a PRODUCER span named
// "publish <topic>", a child of the span in the publisher's ctx (in a
// handler, the consumer span of the event being handled, when Middleware
// is in the chain), and writes the span's context into the event's
// trace context (Envelope.SetTraceContext) through the propagator, so that consumers, in
// this process or beyond a broker, find it. When an earlier hook has
// already set a trace context, that context is kept, as the semantic
// conventions ask of a creation context the publisher provides, and the
// span links to it instead. The span ends when the publish returns, with
// messaging.message.id and messaging.message.conversation_id (the ID and
// correlation ID the bus stamped), and with an error status and error.type
// if the publish failed.
//
// It also counts the publish in messaging.client.sent.messages and records
// its duration in messaging.client.operation.duration.
func (t *Telemetry) PublishHook() eventbus.PublishHook {
	return func(ctx context.Context, env *eventbus.Envelope) func(eventbus.Message, error) {
		start := time.Now()
		attrs := []attribute.KeyValue{
			t.system,
			semconv.MessagingDestinationName(env.Topic),
			semconv.MessagingOperationName(operationPublish),
			semconv.MessagingOperationTypeSend,
		}
		opts := []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithTimestamp(start),
			trace.WithAttributes(attrs...),
		}
		parent, _ := env.TraceContext()
		given := parent != ""
		if given {
			if sc := t.creationContext(env); sc.IsValid() {
				opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
			}
		}
		spanCtx, span := t.tracer.Start(ctx, operationPublish+" "+env.Topic, opts...)
		if !given {
			t.propagator.Inject(spanCtx, envelopeCarrier{env})
		}
		return func(m eventbus.Message, err error) {
			end := time.Now()
			stamped := m.EventEnvelope()
			if stamped.ID != uuid.Nil {
				span.SetAttributes(
					semconv.MessagingMessageID(stamped.ID.String()),
					semconv.MessagingMessageConversationID(stamped.CorrelationID))
			}
			set := t.metricSet(setKey{operationPublish, env.Topic, ""}, attrs)
			if err != nil {
				errType := errorType(err)
				set = attribute.NewSet(append(attrs, errType)...)
				span.SetAttributes(errType)
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			} else {
				markDeadLettered(ctx, m)
			}
			span.End(trace.WithTimestamp(end))
			t.sent.Add(ctx, 1, metric.WithAttributeSet(set))
			t.publishDuration.Record(ctx, end.Sub(start).Seconds(), metric.WithAttributeSet(set))
		}
	}
}

// creationContext returns the span context that env's trace context
// carries, invalid when it carries none.
func (t *Telemetry) creationContext(env *eventbus.Envelope) trace.SpanContext {
	return trace.SpanContextFromContext(t.propagator.Extract(context.Background(), envelopeCarrier{env}))
}
