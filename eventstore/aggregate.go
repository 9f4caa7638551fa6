package eventstore

import (
	"context"
	"errors"
	"fmt"
)

// Aggregate rebuilds the state of type S of one stream from its events
// and appends the events that a command decides, with the stream's version
// as the expected version: the write side of CQRS on an event store. Its
// zero value folds nothing into the zero S; set Apply.
type Aggregate[S any] struct {
	// Initial returns the state of a stream with no event; nil means the
	// zero S.
	Initial func() S
	// Apply returns the state after the event r. It must not keep r's
	// Data or Metadata beyond the call unless it copies them. An error
	// fails the load.
	Apply func(state S, r Record) (S, error)
}

// Load reads the stream from its first event and folds every event into
// the state with Apply. It returns the state and the stream's version, the
// version of the last event folded: the initial state and 0 for a stream
// with no event.
func (a *Aggregate[S]) Load(ctx context.Context, store Store, stream string) (S, uint64, error) {
	var state S
	if a.Initial != nil {
		state = a.Initial()
	}
	var version uint64
	for r, err := range store.ReadStream(ctx, stream, 1) {
		if errors.Is(err, ErrStreamNotFound) {
			break
		}
		if err != nil {
			return state, 0, err
		}
		if a.Apply != nil {
			if state, err = a.Apply(state, r); err != nil {
				return state, 0, fmt.Errorf("eventstore: aggregate %q: apply %s at version %d: %w", stream, r.Envelope.Topic, r.Version, err)
			}
		}
		version = r.Version
	}
	return state, version, nil
}

// Decide returns the events that a command makes from the current state
// and version of the stream: none to change nothing, or an error to refuse
// the command.
type Decide[S any] func(state S, version uint64) ([]Event, error)

// Execute loads the stream, calls decide with its state and version, and
// appends the events decided, expecting the version loaded. When another
// writer appended in between, the append fails with a *ConflictError;
// with retries above zero, Execute then loads the stream again and calls
// decide again with the new state, up to retries more times. decide's own
// error is returned as it is, and so is the conflict once the retries are
// spent. When decide returns no events, nothing is appended and the
// result's LastVersion is the version loaded.
func (a *Aggregate[S]) Execute(ctx context.Context, store Store, stream string, retries int, decide Decide[S]) (AppendResult, error) {
	if decide == nil {
		return AppendResult{}, fmt.Errorf("%w: nil decide function", ErrInvalidOption)
	}
	for attempt := 0; ; attempt++ {
		state, version, err := a.Load(ctx, store, stream)
		if err != nil {
			return AppendResult{}, err
		}
		events, err := decide(state, version)
		if err != nil {
			return AppendResult{}, err
		}
		if len(events) == 0 {
			return AppendResult{LastVersion: version}, nil
		}
		res, err := store.Append(ctx, stream, Exactly(version), events...)
		if err == nil || !errors.Is(err, ErrConcurrencyConflict) || attempt >= retries {
			return res, err
		}
	}
}
