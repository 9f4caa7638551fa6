package eventstore

import (
	"maps"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
)

// EventOption sets a part of the envelope of an event that Type.New makes.
type EventOption func(e *eventbus.Envelope)

// WithID sets the event's ID; without it Append gives the event a new
// UUIDv7.
func WithID(id uuid.UUID) EventOption { return func(e *eventbus.Envelope) { e.ID = id } }

// WithTime sets the event's time; without it Append uses the time of the
// append.
func WithTime(t time.Time) EventOption { return func(e *eventbus.Envelope) { e.Time = t } }

// WithKey sets the event's ordering key.
func WithKey(key string) EventOption { return func(e *eventbus.Envelope) { e.Key = key } }

// WithCorrelationID sets the event's correlation ID; without it the event
// is a root event, whose correlation ID is the text of its ID.
func WithCorrelationID(id string) EventOption {
	return func(e *eventbus.Envelope) { e.CorrelationID = id }
}

// WithCausationID sets the ID of the event that caused this one.
func WithCausationID(id uuid.UUID) EventOption {
	return func(e *eventbus.Envelope) { e.CausationID = id }
}

// CausedBy makes the event a consequence of the event whose envelope is
// cause: its causation ID is cause's ID and its correlation ID cause's
// correlation ID, as for an event a bus handler publishes.
func CausedBy(cause *eventbus.Envelope) EventOption {
	return func(e *eventbus.Envelope) {
		if cause == nil {
			return
		}
		e.CausationID = cause.ID
		e.CorrelationID = cause.CorrelationID
	}
}

// WithMetadata adds one metadata entry to the event.
func WithMetadata(key, value string) EventOption {
	return func(e *eventbus.Envelope) {
		if e.Metadata == nil {
			e.Metadata = make(map[string]string)
		}
		e.Metadata[key] = value
	}
}

// WithCloudEvent sets the event's CloudEvents attributes beyond the rest
// of the envelope (subject, dataschema, trace context, extensions), as
// eventbus.WithCloudEvent does for a publish, replacing those set before
// (WithTraceContext after it keeps them); they are copied.
func WithCloudEvent(attrs eventbus.CloudEventAttributes) EventOption {
	return func(e *eventbus.Envelope) {
		attrs.Extensions = maps.Clone(attrs.Extensions)
		e.CloudEvent = &attrs
	}
}

// WithTraceContext sets the event's W3C trace context (traceparent and
// tracestate), keeping its other CloudEvents attributes.
func WithTraceContext(traceParent, traceState string) EventOption {
	return func(e *eventbus.Envelope) {
		e.SetTraceContext(traceParent, traceState)
	}
}
