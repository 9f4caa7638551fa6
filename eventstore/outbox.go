package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/busline/eventbus"
)

// Outbox publishes the events a store keeps on an eventbus.Bus, and
// through it on any transport: at least once, and in position order, so
// in version order within each stream. It keeps a checkpoint in the
// store's database, as a projection does (see RunOutbox): the position to
// publish next, advanced after each publish. If the process dies between an append's commit and
// the publish, or between a publish and the checkpoint, the next run
// publishes from the checkpoint, which may publish an event a second time.
// Each event is published under its store ID (eventbus.WithEventID), so
// subscribers behind eventbus.Idempotent handle it once.
//
// Events are published on the bus topic of the route of their type (see
// Route), with their correlation ID, causation ID, key, metadata and
// CloudEvents attributes (trace context, subject, extensions; not the
// source nor a producer's own id, which a publish cannot set), plus
// the metadata entries "eventstore.stream", "eventstore.version" and
// "eventstore.position". Events of a type without a route are skipped.
type Outbox struct {
	name   string
	sync   bool
	routes map[string]func(ctx context.Context, r Record, opts []eventbus.PublishOption) error
}

// NewOutbox returns an outbox without routes whose checkpoint is named
// name, a valid stream name. With sync, each publish waits with
// PublishSync until the bus's subscribers in this process have handled
// the event, so that a crash cannot lose an event that was queued and not
// handled; their failures are the bus's business (retries, dead letters)
// and do not stop the outbox. On a bus with a transport, where
// PublishSync is not supported, a publish waits for the broker whatever
// sync says.
func NewOutbox(name string, sync bool) (*Outbox, error) {
	if err := ValidateStreamName(name); err != nil {
		return nil, fmt.Errorf("%w: outbox name: %w", ErrInvalidOption, err)
	}
	return &Outbox{name: name, sync: sync, routes: make(map[string]func(context.Context, Record, []eventbus.PublishOption) error)}, nil
}

// Route makes o publish the events of type t on topic, which must have
// the type's name (otherwise the error matches [ErrInvalidOption]). The
// payload is decoded with the type's codec; an event that does not decode
// stops the outbox with an error matching [ErrDecode]. Routes are set
// before the outbox runs.
func Route[T any](o *Outbox, t *Type[T], topic *eventbus.Topic[T]) error {
	if t == nil || topic == nil {
		return fmt.Errorf("%w: outbox %q: nil type or topic", ErrInvalidOption, o.name)
	}
	if t.Topic() != topic.Name() {
		return fmt.Errorf("%w: outbox %q: type %q routed to topic %q", ErrInvalidOption, o.name, t.Topic(), topic.Name())
	}
	o.routes[t.Topic()] = func(ctx context.Context, r Record, opts []eventbus.PublishOption) error {
		e, err := t.Decode(r)
		if err != nil {
			return err
		}
		if !o.sync {
			return topic.Publish(ctx, e.Payload, opts...)
		}
		err = topic.PublishSync(ctx, e.Payload, opts...)
		if errors.Is(err, errors.ErrUnsupported) {
			return topic.Publish(ctx, e.Payload, opts...)
		}
		return publishFailure(ctx, err)
	}
	return nil
}

// publishFailure returns the part of a PublishSync error that means the
// event may not have reached the bus: the bus closed, or ctx ended. The
// subscribers' own failures are left to the bus.
func publishFailure(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, eventbus.ErrClosed):
		return eventbus.ErrClosed
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return nil
}

// publish publishes r on its route, if it has one.
func (o *Outbox) publish(ctx context.Context, r Record) error {
	route, ok := o.routes[r.Envelope.Topic]
	if !ok {
		return nil
	}
	opts := []eventbus.PublishOption{
		eventbus.WithEventID(r.Envelope.ID),
		eventbus.WithCausationID(r.Envelope.CausationID),
		eventbus.WithCorrelationID(r.Envelope.CorrelationID),
		eventbus.WithKey(r.Envelope.Key),
		eventbus.WithMetadataMap(r.Envelope.Metadata),
		eventbus.WithMetadata("eventstore.stream", r.Stream),
		eventbus.WithMetadata("eventstore.version", strconv.FormatUint(r.Version, 10)),
		eventbus.WithMetadata("eventstore.position", strconv.FormatUint(r.Position, 10)),
	}
	if a := r.Envelope.CloudEvent; a != nil {
		attrs := *a
		attrs.Source, attrs.ID = "", "" // the bus's own, on a publish
		opts = append(opts, eventbus.WithCloudEvent(attrs))
	}
	if err := route(ctx, r, opts); err != nil {
		return fmt.Errorf("eventstore: outbox %q: publish the event at position %d: %w", o.name, r.Position, err)
	}
	return nil
}

// RunOutbox runs o on store with its checkpoint in db: from the
// checkpoint on, it publishes each event and then advances the checkpoint,
// holding no transaction while it publishes, so that the bus's handlers
// may append to the store. Stopping it does not keep the checkpoint of an
// event it has published from being recorded. The returned Subscription stops it; it also
// stops when a publish fails, reporting the error, and a new RunOutbox
// resumes from the event that failed. Run one outbox of a name at a time:
// two would publish each event twice.
func RunOutbox[Tx any](ctx context.Context, store Store, db ProjectionDB[Tx], o *Outbox) (*Subscription, error) {
	from, err := loadCheckpoint(ctx, db, o.name)
	if err != nil {
		return nil, err
	}
	return store.SubscribeAll(ctx, from, func(ctx context.Context, r Record) error {
		if err := o.publish(ctx, r); err != nil {
			return err
		}
		// The event is published: record it even if the outbox is being
		// stopped, so that the next run does not publish it again.
		ctx = context.WithoutCancel(ctx)
		return db.InTx(ctx, func(tx Tx) error { return db.SetCheckpoint(ctx, tx, o.name, r.Position+1) })
	})
}
