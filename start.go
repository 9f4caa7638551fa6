package eventbus

import (
	"fmt"
	"time"
)

// Start says where a new subscription begins reading its topic. The zero
// Start, the default, is "events published after Subscribe returns"; the
// others replay the past first (see WithStart). Make one with FromOldest,
// FromSequence or FromTime.
type Start struct {
	kind     startKind
	sequence uint64
	time     time.Time
}

type startKind uint8

const (
	startNew startKind = iota
	startOldest
	startSequence
	startTime
)

// FromOldest starts at the oldest event still available: the oldest event
// the topic retains in process, or the oldest the broker keeps. It never
// fails for want of history.
func FromOldest() Start { return Start{kind: startOldest} }

// FromSequence starts at position seq, which must be at least 1: in
// process, the event whose Envelope.Sequence is seq; over a transport, the
// broker's own position (the stream sequence, offset or entry ID it
// numbers its messages by, see the adapter's documentation), since each
// process numbers its own events. A position older than the oldest event
// still available makes Subscribe fail with an error matching
// [ErrNotRetained].
func FromSequence(seq uint64) Start { return Start{kind: startSequence, sequence: seq} }

// FromTime starts at the first event published at or after t. If events
// older than the oldest one still available may have been published at or
// after t (history was discarded, and the oldest event left is later than
// t), Subscribe fails with an error matching [ErrNotRetained].
func FromTime(t time.Time) Start { return Start{kind: startTime, time: t} }

// IsZero reports whether s is the zero Start: new events only.
func (s Start) IsZero() bool { return s.kind == startNew }

// Sequence returns the position s starts at, and false unless s was made
// by FromSequence.
func (s Start) Sequence() (uint64, bool) { return s.sequence, s.kind == startSequence }

// Time returns the time s starts at, and false unless s was made by
// FromTime.
func (s Start) Time() (time.Time, bool) { return s.time, s.kind == startTime }

// Oldest reports whether s was made by FromOldest.
func (s Start) Oldest() bool { return s.kind == startOldest }

// String describes s: "new", "oldest", "sequence 42" or "time " and the
// time in RFC 3339 with nanoseconds.
func (s Start) String() string {
	switch s.kind {
	case startOldest:
		return "oldest"
	case startSequence:
		return fmt.Sprintf("sequence %d", s.sequence)
	case startTime:
		return "time " + s.time.Format(time.RFC3339Nano)
	}
	return "new"
}

func (s Start) validate() error {
	switch s.kind {
	case startNew, startOldest:
	case startSequence:
		if s.sequence == 0 {
			return fmt.Errorf("%w: start at sequence 0: sequences start at 1", ErrInvalidOption)
		}
	case startTime:
		if s.time.IsZero() {
			return fmt.Errorf("%w: start at the zero time", ErrInvalidOption)
		}
	default:
		return fmt.Errorf("%w: unknown start", ErrInvalidOption)
	}
	return nil
}

// WithStart sets where the subscription begins: by default with the events
// published after Subscribe returns; with FromOldest, FromSequence or
// FromTime, in the past.
//
// In process, the topic must retain events (WithRetention). The
// subscription first gets the retained events from its start, in sequence
// order, and then every event published after them, each exactly once:
// the hand-off from the retained events to the live ones leaves no gap and
// repeats nothing, however fast other goroutines publish meanwhile.
// Replayed events pass through the subscription's filter, overflow policy,
// middleware and counters like live ones, and a handler tells them apart by
// DeliveryInfo.Replayed. Until it has caught up, a replaying subscription
// reads the retained events at its own pace and holds no publisher back;
// events that retention discards before it reads them are counted as
// Dropped.Expired and logged, never skipped silently.
//
// Over a transport, the start applies when Subscribe creates the consumer
// group; a group that exists already resumes where it stopped. The
// transport must implement ReplayTransport, or Subscribe returns an error
// matching errors.ErrUnsupported.
func WithStart(s Start) SubscribeOption {
	return func(c *subscribeConfig) error {
		if err := s.validate(); err != nil {
			return err
		}
		c.start = s
		return nil
	}
}
