package eventstore

import (
	"fmt"
	"maps"

	"github.com/busline/eventbus"
)

// Type is an event type of payload type T: a topic name, which is the
// events' Envelope.Topic, and the codec of their payloads. Use the codec of
// the bus topic of the same name (eventbus.WithCodec), so that what the
// store keeps decodes as what the bus carries. A Type is safe for
// concurrent use.
type Type[T any] struct {
	topic string
	codec eventbus.Codec
}

// NewType returns the event type of payload type T named topic, which
// must be a valid topic name (the error matches eventbus.ErrInvalidTopic
// and [ErrInvalidEvent]), with codec for its payloads; a nil codec means
// eventbus.JSONCodec.
func NewType[T any](topic string, codec eventbus.Codec) (*Type[T], error) {
	if err := eventbus.ValidateTopicName(topic); err != nil {
		return nil, fmt.Errorf("%w: type: %w", ErrInvalidEvent, err)
	}
	if codec == nil {
		codec = eventbus.JSONCodec{}
	}
	return &Type[T]{topic: topic, codec: codec}, nil
}

// Topic returns the type's topic name.
func (t *Type[T]) Topic() string { return t.topic }

// Codec returns the type's codec.
func (t *Type[T]) Codec() eventbus.Codec { return t.codec }

// New returns an event of the type with payload encoded by the type's
// codec and the envelope the options set; what they leave empty Append
// fills in (see Event). It fails with an error matching [ErrEncode] when
// the payload does not encode.
func (t *Type[T]) New(payload T, opts ...EventOption) (Event, error) {
	e := Event{Envelope: eventbus.Envelope{Topic: t.topic}}
	for _, o := range opts {
		o(&e.Envelope)
	}
	return t.encode(e, payload)
}

// FromEvent returns a bus event as an event of the type to append,
// keeping its envelope (ID, time, correlation, causation, key, metadata,
// CloudEvents attributes such as the trace context) and encoding its payload with the type's codec. The
// event's topic must be the type's (otherwise the error matches
// [ErrInvalidEvent]); an error matching [ErrEncode] tells that the payload
// does not encode.
func (t *Type[T]) FromEvent(be *eventbus.Event[T]) (Event, error) {
	if be == nil {
		return Event{}, fmt.Errorf("%w: nil event", ErrInvalidEvent)
	}
	if be.Topic != t.topic {
		return Event{}, fmt.Errorf("%w: event of topic %q given to type %q", ErrInvalidEvent, be.Topic, t.topic)
	}
	e := Event{Envelope: be.Envelope}
	e.Envelope.Metadata = maps.Clone(be.Metadata)
	if a := be.CloudEvent; a != nil {
		copied := *a
		copied.Extensions = maps.Clone(a.Extensions)
		e.Envelope.CloudEvent = &copied
	}
	return t.encode(e, be.Payload)
}

func (t *Type[T]) encode(e Event, payload T) (Event, error) {
	data, err := t.codec.Marshal(payload)
	if err != nil {
		return Event{}, fmt.Errorf("%w: type %q: %w", ErrEncode, t.topic, err)
	}
	e.ContentType = t.codec.ContentType()
	e.Data = data
	return e, nil
}

// Is reports whether r is an event of the type: whether its topic is the
// type's.
func (t *Type[T]) Is(r Record) bool { return r.Envelope.Topic == t.topic }

// Decode returns r as a bus event of the type: its envelope, with
// Sequence set to r's position in the store, and its payload decoded with
// the type's codec. It fails with an error matching [ErrDecode] when r is
// of another topic or content type, or its data does not decode.
func (t *Type[T]) Decode(r Record) (*eventbus.Event[T], error) {
	if r.Envelope.Topic != t.topic {
		return nil, fmt.Errorf("%w: record at position %d is a %q, not a %q", ErrDecode, r.Position, r.Envelope.Topic, t.topic)
	}
	if ct := t.codec.ContentType(); r.ContentType != ct {
		return nil, fmt.Errorf("%w: record at position %d has content type %q, the codec of %q makes %q", ErrDecode, r.Position, r.ContentType, t.topic, ct)
	}
	e := &eventbus.Event[T]{Envelope: r.Envelope}
	e.Sequence = r.Position
	if err := t.codec.Unmarshal(r.Data, &e.Payload); err != nil {
		return nil, fmt.Errorf("%w: record at position %d of type %q: %w", ErrDecode, r.Position, t.topic, err)
	}
	return e, nil
}
