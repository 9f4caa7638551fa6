// Package eventstore is an event store for the eventbus: streams of
// events, each append checked against the stream's expected version, one
// global order of every event, and subscriptions that catch up from a
// position and then follow the appends as they commit.
//
// A Store is the interface; the module has two implementations:
// package [github.com/busline/eventbus/eventstore/sqlite], embedded, on a
// file or in memory, with no C toolchain needed; and package
// [github.com/busline/eventbus/eventstore/postgres], for several processes
// on several machines. Package
// [github.com/busline/eventbus/eventstore/eventstoretest] is the
// conformance suite both pass.
//
// # Streams, versions and positions
//
// A stream is named (ValidateStreamName) and holds the events of one
// thing, such as a conversation or an order. Its events have versions 1,
// 2, 3, ...; an append names the version it expects the stream to be at
// (AnyVersion, NoStream, Exactly), and fails with a *ConflictError,
// matching ErrConcurrencyConflict, when another writer appended first.
// The events of one append are stored all or none, at consecutive
// versions and consecutive positions.
//
// Every event also has a position in the store's global order: 1, 2, 3,
// ... with no gap, in the order the appends committed. Because positions
// commit in order, a reader that has seen position p and reads from p+1
// later misses nothing: this is what lets SubscribeAll promise no gap and
// no duplicate while many writers append at once, and what a subscriber
// stores to resume after a stop or a crash.
//
// # Events
//
// An event is kept with the bus's envelope (eventbus.Envelope: ID, topic
// as its type, time, correlation and causation IDs, ordering key,
// metadata, CloudEvents attributes such as the trace context) and its
// payload's bytes with their content type. A Type binds a topic name to a
// payload type and an eventbus.Codec: Type.New encodes a payload into an
// Event to append, Type.FromEvent keeps a bus event's envelope, and
// Type.Decode turns a Record back into an *eventbus.Event.
//
//	sent, _ := eventstore.NewType[MessageSent]("message.sent", nil)
//	e, _ := sent.New(MessageSent{ConversationID: "c-1", Text: "Hi!"})
//	_, err := store.Append(ctx, "conversation-c-1", eventstore.Exactly(3), e)
//	if errors.Is(err, eventstore.ErrConcurrencyConflict) { ... }
//
//	for r, err := range store.ReadStream(ctx, "conversation-c-1", 1) { ... }
//
// # Subscriptions
//
// SubscribeAll calls a handler with every event from a position on, one at
// a time, in position order: first the events stored, then, once
// Subscription.Live is closed, each new event as its append commits. It
// ends on Subscription.Stop, on the store's Close, when its ctx ends, when
// the handler returns an error, or when a read fails; Subscription.Next is
// then the position to resume from. Follower is the machinery behind it,
// for implementations of Store.
//
// # CQRS
//
// Aggregate is the write side: it loads a stream, folds its events into
// a state, lets a command decide new events from it, and appends them at
// the version it loaded, retrying on a conflict when asked.
//
// Projection is the read side: RunProjection feeds a projection the
// events from its checkpoint on, applying each in a transaction of the
// store's database that also advances the checkpoint, so that a read
// model in the same database neither skips nor repeats an event across
// crashes; RebuildProjection empties it to build it again from the first
// event. Both stores implement ProjectionDB.
//
// Outbox publishes the stored events on an eventbus.Bus, and through it
// on any transport, at least once and in order, under their store IDs, so
// that subscribers behind eventbus.Idempotent handle each once even when
// the process died between an append and its publish.
package eventstore
