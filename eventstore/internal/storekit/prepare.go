package storekit

import (
	"fmt"
	"maps"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/eventstore"
	"github.com/google/uuid"
)

// Prepare checks an append of events to stream at the expected version,
// and returns copies of the events completed as eventstore.Event
// describes: a new UUIDv7 for a nil ID, now for a zero time, the ID's text
// for an empty correlation ID, the time in UTC to the microsecond, and
// Sequence zero. Its errors match eventstore.ErrInvalidStream,
// ErrVersionOverflow or ErrInvalidEvent.
func Prepare(stream string, expected eventstore.ExpectedVersion, events []eventstore.Event, now time.Time) ([]eventstore.Event, error) {
	if err := eventstore.ValidateStreamName(stream); err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: append to stream %q without events", eventstore.ErrInvalidEvent, stream)
	}
	if err := expected.Validate(len(events)); err != nil {
		return nil, err
	}
	out := make([]eventstore.Event, len(events))
	for i, e := range events {
		if err := eventbus.ValidateTopicName(e.Envelope.Topic); err != nil {
			return nil, fmt.Errorf("%w: event %d of the append to stream %q: %w", eventstore.ErrInvalidEvent, i, stream, err)
		}
		if e.ContentType == "" {
			return nil, fmt.Errorf("%w: event %d of the append to stream %q has no content type", eventstore.ErrInvalidEvent, i, stream)
		}
		if _, ok := e.Envelope.Metadata[""]; ok {
			return nil, fmt.Errorf("%w: event %d of the append to stream %q has a metadata entry with an empty key", eventstore.ErrInvalidEvent, i, stream)
		}
		if e.Envelope.ID == uuid.Nil {
			id, err := uuid.NewV7()
			if err != nil {
				return nil, fmt.Errorf("eventstore: new event id: %w", err)
			}
			e.Envelope.ID = id
		}
		if e.Envelope.Time.IsZero() {
			e.Envelope.Time = now
		}
		e.Envelope.Time = e.Envelope.Time.UTC().Truncate(time.Microsecond)
		if e.Envelope.CorrelationID == "" {
			e.Envelope.CorrelationID = e.Envelope.ID.String()
		}
		e.Envelope.Sequence = 0
		e.Envelope.Metadata = maps.Clone(e.Envelope.Metadata)
		if a := e.Envelope.CloudEvent; a != nil {
			copied := *a
			copied.Extensions = maps.Clone(a.Extensions)
			e.Envelope.CloudEvent = &copied
		}
		if e.Data == nil {
			e.Data = []byte{}
		}
		out[i] = e
	}
	return out, nil
}
