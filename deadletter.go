package eventbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"time"

	"github.com/busline/eventbus/internal/cloudevents"
)

// DefaultDeadLetterTopic is the topic the DeadLetter middleware publishes to
// unless told otherwise.
const DefaultDeadLetterTopic = "deadletter"

// FailedDelivery is the payload of a dead-letter event: an event whose handler
// chain finally failed for one subscriber, with what is needed to inspect it
// and republish it (see Republish). The dead-letter event's causation ID is
// the failed event's ID, and it keeps the failed event's correlation ID.
type FailedDelivery struct {
	// Envelope is the failed event's envelope, as published.
	Envelope Envelope `json:"envelope"`
	// PayloadType is the Go type of the failed event's payload.
	PayloadType string `json:"payloadType"`
	// Payload is the failed event's payload. It is shared with the original
	// event and must be treated as read-only.
	Payload any `json:"payload"`
	// Subscriber is the name of the subscriber whose chain failed.
	Subscriber string `json:"subscriber"`
	// Error is the text of the final error.
	Error string `json:"error"`
	// Attempts is how many times the handler was called.
	Attempts int `json:"attempts"`
	// FailedAt is when the chain gave up.
	FailedAt time.Time `json:"failedAt"`
	// Data is the encoded event as a transport delivered it, set only when
	// it could not be decoded; Envelope then holds just the topic, and
	// Payload is nil.
	Data []byte `json:"data,omitempty"`
}

var failedDeliveryType = reflect.TypeFor[FailedDelivery]()

// DeadLetterOption configures the DeadLetter middleware.
type DeadLetterOption func(*deadLetterConfig) error

type deadLetterConfig struct {
	topic string
}

// DeadLetterTopic sets the name of the dead-letter topic (default
// [DefaultDeadLetterTopic]). The name must pass ValidateTopicName.
func DeadLetterTopic(name string) DeadLetterOption {
	return func(c *deadLetterConfig) error {
		if err := ValidateTopicName(name); err != nil {
			return fmt.Errorf("%w: dead-letter topic: %w", ErrInvalidOption, err)
		}
		c.topic = name
		return nil
	}
}

// DeadLetter returns middleware that publishes every event whose
// inner chain fails to the dead-letter topic, as an Event[FailedDelivery] on the
// bus the delivery belongs to, and then reports the delivery as handled: the
// failure is counted in SubscriptionStats.DeadLettered and not sent to the
// bus's error handler. If the dead letter cannot be published, the original
// error is returned joined with the publish error. Failures of a dead-letter
// topic's own subscribers, and of every other topic carrying FailedDelivery
// payloads, are not dead-lettered again.
//
// Put it outermost, so that it sees only final failures (after Retry) and
// their attempt count. A dead letter published while the topic has no
// subscriber is counted in TopicStats.NoSubscribers and logged at warn level
// to the bus's logger.
//
// An invalid or nil option gives middleware whose Err matches
// [ErrInvalidOption].
func DeadLetter(opts ...DeadLetterOption) Middleware {
	cfg := deadLetterConfig{topic: DefaultDeadLetterTopic}
	for _, opt := range opts {
		if opt == nil {
			return invalidMiddleware(fmt.Errorf("%w: nil DeadLetterOption", ErrInvalidOption))
		}
		if err := opt(&cfg); err != nil {
			return invalidMiddleware(err)
		}
	}
	return NewMiddleware(func(next MessageHandler) MessageHandler {
		return func(ctx context.Context, m Message) error {
			err := next(ctx, m)
			if err == nil {
				return nil
			}
			d := deliveryFrom(ctx)
			if d == nil || d.sub.topic.payloadType == failedDeliveryType {
				return err // dead-lettering a dead letter could loop
			}
			if perr := publishDeadLetter(ctx, d, cfg.topic, m, err); perr != nil {
				return errors.Join(err, fmt.Errorf("eventbus: dead letter: %w", perr))
			}
			d.deadLettered.Store(&err)
			return nil
		}
	})
}

func publishDeadLetter(ctx context.Context, d *deliveryContext, name string, m Message, cause error) error {
	return publishFailedDelivery(ctx, d.sub, name, d.sub.failedDelivery(m, int(d.attempt.Load()), cause))
}

// failedDelivery describes the final failure of m for s after attempts
// handler calls (or broker deliveries) as a dead letter; m is nil for a
// message that did not decode, and then only the topic of the envelope is
// known.
func (s *Subscription) failedDelivery(m Message, attempts int, cause error) FailedDelivery {
	dl := FailedDelivery{
		PayloadType: s.topic.payloadType.String(),
		Subscriber:  s.name,
		Error:       cause.Error(),
		Attempts:    attempts,
		FailedAt:    time.Now(),
	}
	if m != nil {
		dl.Envelope = *m.EventEnvelope()
		dl.Payload = m.AnyPayload()
	} else {
		dl.Envelope.Topic = s.topic.name
	}
	return dl
}

// publishFailedDelivery publishes dl on the dead-letter topic name of s's
// bus, keyed as the failed event, with ctx, a handler's ctx: that links
// the dead letter to the failed event and lets it through while the bus
// drains. In process, a dead letter nobody subscribed to is logged at warn
// level (over a transport, subscribers may be in other processes).
func publishFailedDelivery(ctx context.Context, s *Subscription, name string, dl FailedDelivery) error {
	topic, err := newTopic[FailedDelivery](s.topic.bus, name, true)
	if err != nil {
		return err
	}
	if s.topic.bus.transport == nil && len(*topic.core.subscribers.Load()) == 0 {
		s.topic.bus.logger.LogAttrs(ctx, slog.LevelWarn, "eventbus: dead letter published with no subscriber on its topic",
			slog.String("dead_letter_topic", name),
			slog.String("topic", dl.Envelope.Topic),
			slog.String("subscriber", s.name),
			slog.String("event_id", dl.Envelope.ID.String()),
			slog.String("error", dl.Error))
	}
	return topic.Publish(ctx, dl, WithKey(dl.Envelope.Key))
}

// Republish publishes a dead letter's payload again on topic, with the
// original ordering key, metadata, correlation ID and CloudEvents
// attributes (Envelope.CloudEvent, but for what belongs to the new event:
// its source and id, the bus's, its trace context, and the extensions
// named like the bus's own, which the bus writes its own way), plus the
// metadata
// entries "eventbus.republished-from" (the original event ID) and
// "eventbus.dead-letter-error". The payload must be of type T, or, for a
// dead letter read back from JSON (where it became a map), something that
// encoding/json turns into a T; otherwise Republish returns an error matching
// [ErrTopicTypeMismatch].
func Republish[T any](ctx context.Context, topic *Topic[T], dl FailedDelivery) error {
	payload, err := payloadAs[T](dl.Payload)
	if err != nil {
		return &TopicTypeError{Topic: topic.Name(), Existing: topic.core.payloadType.String(), Wanted: fmt.Sprintf("%T (%v)", dl.Payload, err)}
	}
	opts := []PublishOption{
		WithKey(dl.Envelope.Key),
		WithMetadataMap(dl.Envelope.Metadata),
		WithMetadata("eventbus.republished-from", dl.Envelope.ID.String()),
		WithMetadata("eventbus.dead-letter-error", dl.Error),
	}
	if dl.Envelope.CorrelationID != "" {
		opts = append(opts, WithCorrelationID(dl.Envelope.CorrelationID))
	}
	if a := dl.Envelope.CloudEvent; a != nil {
		attrs := *a
		attrs.Source, attrs.ID, attrs.TraceParent, attrs.TraceState = "", "", "", ""
		attrs.Extensions = maps.Clone(attrs.Extensions)
		maps.DeleteFunc(attrs.Extensions, func(name string, _ ExtensionValue) bool { return cloudevents.IsKnownAttribute(name) })
		opts = append(opts, WithCloudEvent(attrs))
	}
	return topic.Publish(ctx, payload, opts...)
}

// RepublishDeadLetter is Republish on the topic the dead letter's event was
// published on, whatever its payload type: for tools that handle every
// topic's dead letters, such as a debug page. It fails with an error
// matching [ErrUnknownTopic] when the bus has no topic of that name, with
// one matching [ErrMalformedEvent] for a dead letter of an event that did
// not decode (it has Data and no payload), and as Republish does otherwise.
func (b *Bus) RepublishDeadLetter(ctx context.Context, dl FailedDelivery) error {
	if dl.Data != nil {
		return fmt.Errorf("%w: dead letter of an event that did not decode, from topic %q: nothing to republish", ErrMalformedEvent, dl.Envelope.Topic)
	}
	b.mu.Lock()
	tc := b.topics[dl.Envelope.Topic]
	b.mu.Unlock()
	if tc == nil {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, dl.Envelope.Topic)
	}
	return tc.handle.(republisher).republish(ctx, dl)
}

// republisher is the part of a *Topic[T] that RepublishDeadLetter uses.
type republisher interface {
	republish(ctx context.Context, dl FailedDelivery) error
}

func (t *Topic[T]) republish(ctx context.Context, dl FailedDelivery) error {
	return Republish(ctx, t, dl)
}

// payloadAs returns v as a T, converting it through encoding/json when it is
// not one already.
func payloadAs[T any](v any) (T, error) {
	if t, ok := v.(T); ok {
		return t, nil
	}
	var t T
	if v == nil {
		return t, errors.New("no payload")
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return t, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, err
	}
	return t, nil
}
