package eventbus

import (
	"context"
	"fmt"
	"log/slog"
)

// PublishHook observes the publishes of a bus, for tracing and metrics:
// the OpenTelemetry module's producer spans are one (see WithPublishHook).
//
// The bus calls it for every publish it accepts (the bus open, the options
// valid), Publish's and PublishSync's, those of handlers and of the
// dead-letter middleware included, on the publisher's goroutine, with no
// lock of the bus held. It is called before the event is stamped and
// handed to any subscriber or to the transport, with the envelope as far
// as it is known then: Topic, Key, Metadata, CorrelationID, CausationID
// and CloudEvent (WithCloudEvent's) are set, ID, Time and Sequence are not.
// The hook may set the event's trace context (Envelope.SetTraceContext),
// which travels with the event, and must change nothing else; Metadata is
// the publisher's own map.
//
// It returns a function, or nil, that the bus calls when the publish
// returns, with the stamped event and the publish's error (PublishSync's
// wait for the handlers is not part of it). A hook or a done function
// that panics is logged and otherwise ignored: the publish goes on.
type PublishHook func(ctx context.Context, env *Envelope) (done func(m Message, err error))

// WithPublishHook adds hook to the bus's publish hooks, called in the
// order they were added (their done functions in the reverse order).
func WithPublishHook(hook PublishHook) Option {
	return func(c *busConfig) error {
		if hook == nil {
			return fmt.Errorf("%w: nil publish hook", ErrInvalidOption)
		}
		c.publishHooks = append(c.publishHooks, hook)
		return nil
	}
}

// beginPublish runs the bus's publish hooks on env and returns their done
// functions, last first, appended to dones (the caller's, so that a few
// hooks cost no allocation).
func (b *Bus) beginPublish(ctx context.Context, env *Envelope, dones []func(Message, error)) []func(Message, error) {
	for _, hook := range b.publishHooks {
		if done := b.runHook(ctx, hook, env); done != nil {
			dones = append(dones, done)
		}
	}
	for i, j := 0, len(dones)-1; i < j; i, j = i+1, j-1 {
		dones[i], dones[j] = dones[j], dones[i]
	}
	return dones
}

// endPublish calls the done functions of a publish's hooks.
func (b *Bus) endPublish(ctx context.Context, dones []func(Message, error), m Message, err error) {
	for _, done := range dones {
		b.guardHook(ctx, m.EventEnvelope().Topic, func() { done(m, err) })
	}
}

// runHook calls hook, shielding the publisher from its panic.
func (b *Bus) runHook(ctx context.Context, hook PublishHook, env *Envelope) (done func(Message, error)) {
	b.guardHook(ctx, env.Topic, func() { done = hook(ctx, env) })
	return done
}

// guardHook runs call, logging a panic instead of letting it reach the
// publisher.
func (b *Bus) guardHook(ctx context.Context, topic string, call func()) {
	defer func() {
		if r := recover(); r != nil {
			b.logger.LogAttrs(ctx, slog.LevelError, "eventbus: publish hook panicked",
				slog.String("topic", topic), slog.Any("panic", r))
		}
	}()
	call()
}
