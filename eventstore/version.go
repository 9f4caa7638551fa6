package eventstore

import (
	"fmt"
	"math"
	"strconv"
)

// MaxVersion is the largest stream version and the largest position a
// store keeps: both are stored as signed 64-bit integers.
const MaxVersion = math.MaxInt64

// ExpectedVersion is the condition an Append puts on the stream's version:
// any version, no stream yet, or exactly version n. Its zero value is
// NoStream.
type ExpectedVersion struct {
	any bool
	n   uint64
}

// AnyVersion expects nothing: the append goes to the stream at whatever
// version it is, creating it when it has no event.
func AnyVersion() ExpectedVersion { return ExpectedVersion{any: true} }

// NoStream expects the stream to have no event yet: the append creates it.
// It is Exactly(0).
func NoStream() ExpectedVersion { return ExpectedVersion{} }

// Exactly expects the stream's last event to have version n (versions
// count a stream's events from 1); Exactly(0) is NoStream. An n beyond
// MaxVersion makes Append fail with an error matching
// [ErrVersionOverflow].
func Exactly(n uint64) ExpectedVersion { return ExpectedVersion{n: n} }

// IsAny reports whether e is AnyVersion.
func (e ExpectedVersion) IsAny() bool { return e.any }

// Version returns the version e expects, and false for AnyVersion.
func (e ExpectedVersion) Version() (uint64, bool) { return e.n, !e.any }

// String returns "any version", "no stream" or "version n".
func (e ExpectedVersion) String() string {
	switch {
	case e.any:
		return "any version"
	case e.n == 0:
		return "no stream"
	default:
		return "version " + strconv.FormatUint(e.n, 10)
	}
}

// Validate reports whether e can be met by a stream of a store and leaves
// room for count more events: it fails with an error matching
// [ErrVersionOverflow] when the expected version is beyond MaxVersion or
// when the stream would pass MaxVersion.
func (e ExpectedVersion) Validate(count int) error {
	if !e.any && e.n > MaxVersion {
		return fmt.Errorf("%w: expected version %d is beyond %d", ErrVersionOverflow, e.n, uint64(MaxVersion))
	}
	if !e.any && uint64(count) > MaxVersion-e.n {
		return fmt.Errorf("%w: %d events after version %d pass %d", ErrVersionOverflow, count, e.n, uint64(MaxVersion))
	}
	return nil
}

// Check returns nil when a stream at version actual meets e, and a
// *ConflictError otherwise.
func (e ExpectedVersion) Check(stream string, actual uint64) error {
	if e.any || e.n == actual {
		return nil
	}
	return &ConflictError{Stream: stream, Expected: e, Actual: actual}
}
