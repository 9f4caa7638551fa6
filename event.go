package eventbus

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Envelope is the part of an event that does not depend on its payload
// type. It is stamped by Publish and is serialisable with encoding/json, so
// that an event can cross a process boundary or be stored.
type Envelope struct {
	// ID is a UUID version 7: IDs of events published later sort later.
	ID uuid.UUID `json:"id"`
	// Topic is the name of the topic the event was published on.
	Topic string `json:"topic"`
	// Time is when Publish accepted the event.
	Time time.Time `json:"time"`
	// Sequence numbers the events of one topic 1, 2, 3, ... in the order
	// Publish accepted them.
	Sequence uint64 `json:"sequence"`
	// CorrelationID is shared by every event of one causal chain. A root
	// event's correlation ID is the text of its own ID unless the publisher
	// set one.
	CorrelationID string `json:"correlationId"`
	// CausationID is the ID of the event whose handler published this one,
	// or uuid.Nil for a root event.
	CausationID uuid.UUID `json:"causationId"`
	// Key is the ordering key given by the publisher, or empty.
	Key string `json:"key,omitempty"`
	// Metadata is free-form string metadata given by the publisher.
	Metadata map[string]string `json:"metadata,omitempty"`
	// CloudEvent holds the event's CloudEvents attributes beyond the fields
	// above: the source of an event read from a broker, the id and type as
	// another producer wrote them, subject, dataschema, the trace context
	// and the other extensions. It is nil when there are none, as for an
	// event published in this process without WithCloudEvent or a publish
	// hook that sets a trace context; the bus's source (WithSource) is then
	// the event's source when it is encoded.
	CloudEvent *CloudEventAttributes `json:"cloudEvent,omitempty"`
}

// TraceContext returns the W3C Trace Context of the span that published
// the event, carried across processes in the CloudEvents distributed
// tracing extension (traceparent, tracestate); empty when it has none.
func (e *Envelope) TraceContext() (traceParent, traceState string) {
	if e.CloudEvent == nil {
		return "", ""
	}
	return e.CloudEvent.TraceParent, e.CloudEvent.TraceState
}

// SetTraceContext sets the event's trace context (see TraceContext); a
// PublishHook, such as the OpenTelemetry module's, calls it. It copies
// CloudEvent before changing it, so that a copy of the envelope shares
// nothing that changes.
func (e *Envelope) SetTraceContext(traceParent, traceState string) {
	var a CloudEventAttributes
	if e.CloudEvent != nil {
		a = *e.CloudEvent
	}
	a.TraceParent, a.TraceState = traceParent, traceState
	e.CloudEvent = &a
}

// SourceOr returns the event's CloudEvents source: the producer's for an
// event read from a broker, or def, the bus's, for one published in this
// process.
func (e *Envelope) SourceOr(def string) string {
	if e.CloudEvent != nil && e.CloudEvent.Source != "" {
		return e.CloudEvent.Source
	}
	return def
}

// Event is a published event: its envelope and its typed payload.
//
// One Event is allocated per publish and shared by every subscriber of the
// topic, possibly at the same time from several goroutines. Handlers and
// middleware must treat it, its Metadata map and anything its Payload points
// to as read-only.
type Event[T any] struct {
	Envelope
	Payload T `json:"payload"`

	// idText holds the text of ID, so that a root event's CorrelationID
	// needs no allocation of its own.
	idText [36]byte
}

// EventEnvelope returns the event's envelope (the embedded Envelope). It is
// part of the [Message] view.
func (e *Event[T]) EventEnvelope() *Envelope { return &e.Envelope }

// AnyPayload returns the payload as an any. It is part of the [Message]
// view; typed handlers use the Payload field instead.
func (e *Event[T]) AnyPayload() any { return e.Payload }

// Message is the type-erased view of an event that middleware sees, so that
// one middleware serves every topic. Its only implementation is *Event[T];
// a typed handler gets the *Event[T] itself. Like the Event, a Message is
// shared and read-only.
type Message interface {
	// EventEnvelope returns the envelope: ID, topic, time, sequence,
	// correlation, causation, key and metadata.
	EventEnvelope() *Envelope
	// AnyPayload returns the payload.
	AnyPayload() any
}

type correlationKey struct{}

// ContextWithCorrelationID returns a copy of ctx that makes events published
// with it carry correlation ID id, unless the publish sets one explicitly.
// Use it to tie events to an incoming request.
func ContextWithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey{}, id)
}

// CorrelationIDFromContext returns the correlation ID that an event
// published with ctx would inherit: the one set by ContextWithCorrelationID,
// or that of the event being handled when ctx is a handler's ctx.
func CorrelationIDFromContext(ctx context.Context) (string, bool) {
	if id, ok := ctx.Value(correlationKey{}).(string); ok && id != "" {
		return id, true
	}
	if d := deliveryFrom(ctx); d != nil {
		if h := d.envelope(); h != nil {
			return h.CorrelationID, true
		}
	}
	return "", false
}
