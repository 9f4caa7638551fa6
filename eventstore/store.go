package eventstore

import (
	"context"
	"iter"
)

// Store is an event store: streams of events, each append checked against
// the stream's expected version, and one global order of every event.
//
// Every method takes a ctx first; a ctx that ends makes the call return
// its error. A Store is safe for concurrent use. After Close, every call
// fails with an error matching [ErrClosed].
type Store interface {
	// Append appends events to the end of the stream, all or none: it
	// fails, appending nothing, with a *ConflictError (matching
	// [ErrConcurrencyConflict]) when the stream is not at the expected
	// version; with an error matching [ErrInvalidStream] for an invalid
	// stream name, [ErrVersionOverflow] for a version beyond MaxVersion, and
	// [ErrInvalidEvent] for no events or an invalid one. The events get the
	// stream's next versions and the store's next positions, in the order
	// given. The result tells the versions and positions taken.
	Append(ctx context.Context, stream string, expected ExpectedVersion, events ...Event) (AppendResult, error)

	// ReadStream yields the stream's events from version from on (from 0
	// counts as 1), in version order, until the stream's last event at the
	// time of the call or a little later. It yields a single error matching
	// [ErrStreamNotFound] for a stream with no event, and one matching
	// [ErrInvalidStream] for an invalid name. An error ends the sequence.
	ReadStream(ctx context.Context, stream string, from uint64) iter.Seq2[Record, error]

	// ReadAll yields the events of every stream from position from on
	// (from 0 counts as 1), in position order, until the last event at the
	// time of the call or a little later. An error ends the sequence.
	ReadAll(ctx context.Context, from uint64) iter.Seq2[Record, error]

	// SubscribeAll calls handler with every event from position from on
	// (from 0 counts as 1), one at a time and in position order: first the
	// stored events, then each event as its append commits, without a gap
	// and without a duplicate, whatever the number of concurrent writers.
	// It returns once the subscription runs; see Subscription for how it
	// ends. To resume after a stop or a crash, subscribe again from the
	// position after the last event handled.
	SubscribeAll(ctx context.Context, from uint64, handler Handler) (*Subscription, error)

	// Head returns the position of the store's last event, 0 when it has
	// none.
	Head(ctx context.Context) (uint64, error)

	// StreamVersion returns the version of the stream's last event, 0 when
	// the stream has none.
	StreamVersion(ctx context.Context, stream string) (uint64, error)

	// Close stops the store's subscriptions, waits until their handlers
	// have returned, and releases the store's connections. If ctx ends
	// first, Close returns its error and the connections are released all
	// the same. Calling Close again returns nil.
	Close(ctx context.Context) error
}

// AppendResult tells what an Append took.
type AppendResult struct {
	// FirstVersion and LastVersion are the versions of the first and the
	// last event appended; LastVersion is the stream's version after the
	// append.
	FirstVersion, LastVersion uint64
	// FirstPosition and LastPosition are the positions of the first and the
	// last event appended.
	FirstPosition, LastPosition uint64
}

// Handler handles one event of a subscription. An error stops the
// subscription, which reports it (see Subscription.Err). ctx ends when the
// subscription is stopped.
type Handler func(ctx context.Context, r Record) error
