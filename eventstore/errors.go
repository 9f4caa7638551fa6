package eventstore

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this module that has one of
// these causes matches it with [errors.Is].
var (
	// ErrConcurrencyConflict is returned by Append when the stream is not at
	// the expected version: another writer appended first. The error is a
	// *ConflictError.
	ErrConcurrencyConflict = errors.New("eventstore: concurrency conflict")

	// ErrInvalidStream is returned for a stream name that ValidateStreamName
	// rejects.
	ErrInvalidStream = errors.New("eventstore: invalid stream name")

	// ErrStreamNotFound is yielded by ReadStream for a stream that has no
	// event.
	ErrStreamNotFound = errors.New("eventstore: stream not found")

	// ErrVersionOverflow is returned by Append for an expected version, or a
	// stream version after the append, beyond the largest version a store
	// keeps (math.MaxInt64).
	ErrVersionOverflow = errors.New("eventstore: version out of range")

	// ErrInvalidEvent is returned by Append for an event that cannot be
	// stored: no events at all, or an event whose type is not a valid topic
	// name, whose content type is empty, or whose metadata has an empty key.
	ErrInvalidEvent = errors.New("eventstore: invalid event")

	// ErrEncode is returned by the typed helpers when a payload does not
	// encode with the type's codec.
	ErrEncode = errors.New("eventstore: payload does not encode")

	// ErrDecode is returned by the typed helpers when a record is not an
	// event of the type, or its data does not decode with the type's codec.
	ErrDecode = errors.New("eventstore: record does not decode")

	// ErrClosed is returned by the calls of a store, and of a Follower,
	// after Close.
	ErrClosed = errors.New("eventstore: store is closed")

	// ErrInvalidOption is wrapped by every error that reports a bad option
	// or argument value.
	ErrInvalidOption = errors.New("eventstore: invalid option")
)

// ConflictError is the error of an Append whose expected version did not
// match the stream's version. It matches [ErrConcurrencyConflict].
type ConflictError struct {
	// Stream is the stream appended to.
	Stream string
	// Expected is the version the append expected.
	Expected ExpectedVersion
	// Actual is the stream's version when the append was refused: the
	// version of its last event, or 0 for a stream with no event.
	Actual uint64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("eventstore: concurrency conflict on stream %q: expected %s, stream is at version %d", e.Stream, e.Expected, e.Actual)
}

// Unwrap returns [ErrConcurrencyConflict].
func (e *ConflictError) Unwrap() error { return ErrConcurrencyConflict }
