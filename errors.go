package eventbus

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Sentinel errors. Every error returned by this package that has one of
// these causes matches it with [errors.Is].
var (
	// ErrClosed is returned by Publish, Subscribe and NewTopic once Close
	// has been called on the bus.
	ErrClosed = errors.New("eventbus: bus is closed")

	// ErrInvalidTopic is returned for a topic name that is not a
	// dot-separated sequence of tokens of ASCII letters, digits, '-' and '_'.
	ErrInvalidTopic = errors.New("eventbus: invalid topic name")

	// ErrInvalidPattern is returned for a topic pattern that
	// ValidatePattern rejects.
	ErrInvalidPattern = errors.New("eventbus: invalid topic pattern")

	// ErrInvalidSubscriber is returned for a subscriber name that is empty,
	// too long, or has characters other than ASCII letters, digits, '-' and '_'.
	ErrInvalidSubscriber = errors.New("eventbus: invalid subscriber name")

	// ErrTopicTypeMismatch is returned by NewTopic when the name is already
	// bound to another payload type. The error is a *TopicTypeError.
	ErrTopicTypeMismatch = errors.New("eventbus: topic bound to another payload type")

	// ErrDuplicateSubscriber is returned by Subscribe when the topic already
	// has a live subscriber with that name.
	ErrDuplicateSubscriber = errors.New("eventbus: duplicate subscriber name")

	// ErrNilBus is returned by NewTopic when the bus is nil: topics belong
	// to a bus made by New.
	ErrNilBus = errors.New("eventbus: nil *Bus (make one with New)")

	// ErrNilHandler is returned by Subscribe when the handler is nil.
	ErrNilHandler = errors.New("eventbus: nil handler")

	// ErrInvalidOption is wrapped by every error that reports a bad option
	// value, for the bus, a subscription, a publish or a middleware.
	ErrInvalidOption = errors.New("eventbus: invalid option")

	// ErrQueueFull is returned, wrapped in a *SubscriberError, by Publish
	// when a subscriber with the OverflowFail policy has no room.
	ErrQueueFull = errors.New("eventbus: subscriber queue is full")

	// ErrDropped is reported to PublishSync callers for a subscriber that
	// dropped the event (overflow policy, unsubscribe or shutdown) instead of
	// handling it.
	ErrDropped = errors.New("eventbus: event dropped")

	// ErrDeadLettered is wrapped, together with the handler's error, by the
	// *DeliveryError that PublishSync returns for a subscriber whose handler
	// chain failed and whose DeadLetter middleware published the event to
	// the dead-letter topic.
	ErrDeadLettered = errors.New("eventbus: event dead-lettered")

	// ErrHandlerTimeout is wrapped by the error of a handler that failed
	// after the Timeout middleware's deadline passed.
	ErrHandlerTimeout = errors.New("eventbus: handler timed out")

	// ErrMalformedEvent is wrapped by every error that DecodeCloudEvent
	// returns for input that is not a valid event of the expected type.
	ErrMalformedEvent = errors.New("eventbus: malformed event")

	// ErrDuplicateInFlight is returned by the Idempotent middleware for a
	// redelivered event that the same subscriber is still handling, so that
	// the source delivers it again later instead of losing it.
	ErrDuplicateInFlight = errors.New("eventbus: duplicate of an event still being handled")

	// ErrTransport is wrapped by the errors that Publish and Subscribe return
	// when the bus's Transport failed, together with the transport's own
	// error.
	ErrTransport = errors.New("eventbus: transport failed")

	// ErrBrokerClosed is returned by a
	// [github.com/busline/eventbus/transport/memory.Broker], and should be
	// wrapped by any Transport, once it is closed.
	ErrBrokerClosed = errors.New("eventbus: broker is closed")

	// ErrNotRetained is returned by Subscribe, wrapped in a
	// *NotRetainedError, when the start asked for (see WithStart) lies
	// before the oldest event still available.
	ErrNotRetained = errors.New("eventbus: start position not retained")

	// ErrUnknownTopic is returned by calls that name a topic the bus does
	// not have (RepublishDeadLetter).
	ErrUnknownTopic = errors.New("eventbus: unknown topic")

	// ErrCalledFromHandler is returned by a call that waits for the bus to
	// have no handler running (WaitIdle) when it is made with a handler's
	// ctx: it would wait for itself.
	ErrCalledFromHandler = errors.New("eventbus: called from a handler")
)

// NotRetainedError reports a subscription start that the topic, or the
// broker, cannot serve: the events from there on are no longer all kept.
// It matches [ErrNotRetained].
type NotRetainedError struct {
	Topic string
	Start Start
	// Oldest is the position of the oldest event still available, or 0 if
	// none is kept.
	Oldest uint64
}

func (e *NotRetainedError) Error() string {
	if e.Oldest == 0 {
		return fmt.Sprintf("eventbus: topic %q: start at %s: no events retained", e.Topic, e.Start)
	}
	return fmt.Sprintf("eventbus: topic %q: start at %s: the oldest event retained is at sequence %d", e.Topic, e.Start, e.Oldest)
}

// Unwrap returns [ErrNotRetained].
func (e *NotRetainedError) Unwrap() error { return ErrNotRetained }

// TopicTypeError reports that a topic name is already bound to a payload
// type other than the one asked for. It matches [ErrTopicTypeMismatch].
type TopicTypeError struct {
	Topic    string
	Existing string // the payload type the topic is bound to
	Wanted   string // the payload type that was asked for
}

func (e *TopicTypeError) Error() string {
	return fmt.Sprintf("eventbus: topic %q is bound to payload type %s, not %s", e.Topic, e.Existing, e.Wanted)
}

// Unwrap returns [ErrTopicTypeMismatch].
func (e *TopicTypeError) Unwrap() error { return ErrTopicTypeMismatch }

// SubscriberError is an error that concerns one subscriber of a topic, such
// as a full queue under the OverflowFail policy or a dropped event.
type SubscriberError struct {
	Topic      string
	Subscriber string
	Err        error
}

func (e *SubscriberError) Error() string {
	return fmt.Sprintf("eventbus: topic %q, subscriber %q: %s", e.Topic, e.Subscriber, trimPrefix(e.Err))
}

// Unwrap returns the underlying error.
func (e *SubscriberError) Unwrap() error { return e.Err }

// DeliveryError describes an event whose handler chain finally failed for
// one subscriber. It is what the bus's error handler receives.
type DeliveryError struct {
	Topic      string
	Subscriber string
	EventID    uuid.UUID
	Attempts   int     // how many times the handler was called
	Message    Message // the event, read-only
	Err        error
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("eventbus: topic %q, subscriber %q, event %s failed after %d attempt(s): %s",
		e.Topic, e.Subscriber, e.EventID, e.Attempts, trimPrefix(e.Err))
}

// Unwrap returns the handler's error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// CloseError is returned by Close (and Drain) when its ctx ended before every
// queued event was handled. It lists how many events each subscriber did not
// get and the handlers still running when it returned, and unwraps to the
// ctx's error.
type CloseError struct {
	// Undelivered maps "topic/subscriber" to the number of events that were
	// queued for that subscriber and dropped.
	Undelivered map[string]int
	// Running lists the handlers that were still running, their ctx
	// cancelled, when Close or Drain returned, by topic and subscriber.
	Running []RunningHandler
	Err     error // the ctx's error
}

// RunningHandler is a handler call that was still running when a Close or
// Drain whose ctx ended returned.
type RunningHandler struct {
	Topic      string
	Subscriber string
	EventID    uuid.UUID
	// Attempt is the number of the handler's attempt at the event: the
	// one in progress, or while the Retry middleware waits to call it
	// again, the last one.
	Attempt int
	// For is an upper bound of how long the handler had been running,
	// above the true time by at most some tens of milliseconds.
	For time.Duration
}

// String returns "topic/subscriber event ID for duration", the form
// CloseError's message and Close's warning use.
func (r RunningHandler) String() string {
	return fmt.Sprintf("%s/%s event %s for %s", r.Topic, r.Subscriber, r.EventID, r.For)
}

// Total returns the number of undelivered events over all subscribers.
func (e *CloseError) Total() int {
	n := 0
	for _, c := range e.Undelivered {
		n += c
	}
	return n
}

func (e *CloseError) Error() string {
	keys := make([]string, 0, len(e.Undelivered))
	for k := range e.Undelivered {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "eventbus: shutdown incomplete: %d event(s) not delivered", e.Total())
	if len(keys) > 0 {
		b.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s: %d", k, e.Undelivered[k])
		}
		b.WriteString(")")
	}
	if len(e.Running) > 0 {
		fmt.Fprintf(&b, "; %d handler(s) still running (", len(e.Running))
		for i, r := range e.Running {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(r.String())
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the ctx's error.
func (e *CloseError) Unwrap() error { return e.Err }

// BusyError is returned by WaitIdle when its ctx ended before the bus was
// idle: what still kept it busy then. It unwraps to the ctx's error.
type BusyError struct {
	// Publishing is the number of publishes that were in progress.
	Publishing int
	// Busy lists the subscriptions with work left, by topic and subscriber.
	Busy []BusySubscription
	Err  error // the ctx's error
}

// BusySubscription is a subscription that still had work when a WaitIdle
// ended: events queued, handlers running, or a replay not caught up.
type BusySubscription struct {
	Topic      string
	Subscriber string
	// Queued is the number of events waiting in its queue.
	Queued int
	// Running lists its handler calls in progress.
	Running []RunningHandler
	// Replaying says that it was still reading its topic's retained events
	// (WithStart).
	Replaying bool
}

// String returns "topic/subscriber: n queued, running event ID (attempt
// a) for duration, replaying", naming only what applies.
func (s BusySubscription) String() string {
	parts := []string{fmt.Sprintf("%d queued", s.Queued)}
	for _, r := range s.Running {
		parts = append(parts, fmt.Sprintf("running event %s (attempt %d) for %s", r.EventID, r.Attempt, r.For))
	}
	if s.Replaying {
		parts = append(parts, "replaying")
	}
	return s.Topic + "/" + s.Subscriber + ": " + strings.Join(parts, ", ")
}

func (e *BusyError) Error() string {
	var b strings.Builder
	b.WriteString("eventbus: bus still busy")
	sep := ": "
	if e.Publishing > 0 {
		fmt.Fprintf(&b, "%s%d publish(es) in progress", sep, e.Publishing)
		sep = "; "
	}
	for _, s := range e.Busy {
		b.WriteString(sep)
		b.WriteString(s.String())
		sep = "; "
	}
	if e.Err != nil {
		b.WriteString(" (")
		b.WriteString(e.Err.Error())
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the ctx's error.
func (e *BusyError) Unwrap() error { return e.Err }

// trimPrefix drops a leading "eventbus: " from a wrapped error's text so a
// message does not repeat the package name.
func trimPrefix(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.TrimPrefix(err.Error(), "eventbus: ")
}

// BatchError is returned by PublishBatch on a bus with a transport when the
// broker did not store every event of the batch. It matches [ErrTransport]
// and the causes in Err.
type BatchError struct {
	// Topic is the batch's topic.
	Topic string
	// Failed holds the indexes in the batch, ascending, of the events that
	// the broker did not acknowledge: not stored, or stored without the bus
	// hearing of it. The others are stored.
	Failed []int
	// Err holds the causes, joined with errors.Join.
	Err error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("eventbus: publish batch to topic %q: %d events not acknowledged by the broker: %v", e.Topic, len(e.Failed), e.Err)
}

// Unwrap returns ErrTransport and the causes.
func (e *BatchError) Unwrap() []error { return []error{ErrTransport, e.Err} }
