package eventbus

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"reflect"

	"github.com/google/uuid"
)

// Option configures a Bus. Options are validated by New; an invalid one
// makes New return an error matching [ErrInvalidOption].
type Option func(*busConfig) error

type busConfig struct {
	logger     *slog.Logger
	middleware []Middleware
	onError    func(ctx context.Context, err *DeliveryError)
	transport  Transport
	redelivery *RetryPolicy
	source     string
	// publishHooks observe every publish (see WithPublishHook).
	publishHooks []PublishHook
}

// WithLogger sets the logger the bus writes its own records to: failures
// reported by the default error handler, dead letters nobody subscribed to,
// shutdown problems. A nil logger, the default, discards them, except the
// default error handler's records, which then go to slog.Default() so that
// a final failure is never silent.
func WithLogger(logger *slog.Logger) Option {
	return func(c *busConfig) error {
		c.logger = logger
		return nil
	}
}

// WithMiddleware appends middleware to the bus-level chain, which wraps the
// handler of every subscription made afterwards, outside the subscription's
// own middleware. The first middleware given is the outermost.
func WithMiddleware(mw ...Middleware) Option {
	return func(c *busConfig) error {
		if err := checkMiddleware(mw); err != nil {
			return err
		}
		c.middleware = append(c.middleware, mw...)
		return nil
	}
}

// WithErrorHandler sets the function called with every event whose handler
// chain finally failed and that no DeadLetter middleware took, except those
// published with PublishSync, whose caller gets the error instead. It is
// called with no lock held and should return quickly: for a handler failure,
// on the subscriber's goroutine with the handler's ctx; for a panic in a
// subscription's filter or ordering key function, on the publisher's
// goroutine with context.Background() and Attempts 0. The default writes an
// error record to the bus's logger, or to slog.Default() when the bus has
// none; for a panic, the record says where it happened (panic_at, the file
// and line of the function that panicked, and stack, the first frames from
// there outwards).
func WithErrorHandler(fn func(ctx context.Context, err *DeliveryError)) Option {
	return func(c *busConfig) error {
		if fn == nil {
			return fmt.Errorf("%w: nil error handler", ErrInvalidOption)
		}
		c.onError = fn
		return nil
	}
}

// WithTransport makes the bus carry its events through t, a message broker,
// instead of handing them from publisher to subscribers in process (see
// Transport for what changes). The bus does not close t.
func WithTransport(t Transport) Option {
	return func(c *busConfig) error {
		if t == nil {
			return fmt.Errorf("%w: nil transport", ErrInvalidOption)
		}
		c.transport = t
		return nil
	}
}

// DefaultMaxDeliveries is how many times a bus with a transport lets the
// broker deliver an event to a subscriber before it dead-letters the event,
// unless WithRedelivery says otherwise.
const DefaultMaxDeliveries = 5

// WithRedelivery sets what a bus with a transport does when a subscriber's
// handler chain fails: the broker delivers the event again after
// p.Backoff(deliveries) (with p's jitter), until it has been delivered
// p.MaxAttempts times (default [DefaultMaxDeliveries]); then, or at once for
// an error that p does not retry (see Permanent), the bus publishes it to the
// dead-letter topic [DefaultDeadLetterTopic] as an Event[FailedDelivery] and
// acknowledges it. Without a transport the option is accepted and unused:
// in-process retries are the Retry middleware's job.
//
// The limit counts the broker's deliveries, not the handler's failures: a
// delivery that was never settled (the process stopped, an acknowledgement
// was lost, the broker restarted) counts as well, so an event can reach
// the limit, and be dead-lettered, after fewer failures than MaxAttempts.
func WithRedelivery(p RetryPolicy) Option {
	return func(c *busConfig) error {
		if p.MaxAttempts == 0 {
			p.MaxAttempts = DefaultMaxDeliveries
		}
		p, err := p.withDefaults()
		if err != nil {
			return err
		}
		c.redelivery = &p
		return nil
	}
}

// DefaultSource is the CloudEvents source of the events a bus sends through
// a transport, unless WithSource says otherwise.
const DefaultSource = "/eventbus"

// WithSource sets the CloudEvents source attribute (a non-empty
// URI-reference, such as "/chat-service") of the events the bus sends
// through its transport.
func WithSource(source string) Option {
	return func(c *busConfig) error {
		if err := checkSource(source); err != nil {
			return fmt.Errorf("%w: source: %w", ErrInvalidOption, err)
		}
		c.source = source
		return nil
	}
}

// TopicOption configures a topic when NewTopic creates it.
type TopicOption func(*topicConfig) error

type topicConfig struct {
	codec     Codec
	retention *Retention
}

// WithCodec sets the codec that turns the topic's payloads into bytes and
// back when the bus has a transport (default JSONCodec). Every process
// using the topic must use the same codec.
func WithCodec(codec Codec) TopicOption {
	return func(c *topicConfig) error {
		if codec == nil {
			return fmt.Errorf("%w: nil codec", ErrInvalidOption)
		}
		c.codec = codec
		return nil
	}
}

// Overflow says what Publish does when a subscriber's queue is full.
type Overflow int

const (
	// OverflowBlock makes the publisher wait for room until its ctx is
	// done; Publish then returns the ctx's error. It is the default.
	OverflowBlock Overflow = iota
	// OverflowDropNewest drops the event being published for this
	// subscriber and counts it.
	OverflowDropNewest
	// OverflowDropOldest drops the oldest queued event of this subscriber to
	// make room, and counts it.
	OverflowDropOldest
	// OverflowFail makes Publish return an error matching [ErrQueueFull]
	// that names the subscriber. The other subscribers still get the event.
	OverflowFail
)

func (o Overflow) String() string {
	switch o {
	case OverflowBlock:
		return "block"
	case OverflowDropNewest:
		return "drop-newest"
	case OverflowDropOldest:
		return "drop-oldest"
	case OverflowFail:
		return "fail"
	}
	return fmt.Sprintf("Overflow(%d)", int(o))
}

// DefaultQueueCapacity is the queue capacity of a subscription made without
// WithQueueCapacity.
const DefaultQueueCapacity = 1024

// SubscribeOption configures one subscription. Options are validated by
// Subscribe; an invalid one makes it return an error matching
// [ErrInvalidOption].
type SubscribeOption func(*subscribeConfig) error

type subscribeConfig struct {
	payloadType reflect.Type // of the topic; set before options apply
	capacity    int
	concurrency int
	overflow    Overflow
	keyOf       func(Message) string
	filter      func(Message) bool
	middleware  []Middleware
	start       Start
}

// WithQueueCapacity sets how many events may wait in the subscription's
// queue (default [DefaultQueueCapacity]). With a concurrency above one the
// capacity is split evenly over the workers' lanes, rounding up.
func WithQueueCapacity(n int) SubscribeOption {
	return func(c *subscribeConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: queue capacity %d, want at least 1", ErrInvalidOption, n)
		}
		c.capacity = n
		return nil
	}
}

// WithConcurrency sets how many workers handle the subscription's events
// (default 1). Each worker owns a lane of the queue and runs only while its
// lane has events; events with the same
// ordering key always go to the same lane, so they are handled one at a time
// in publish order, and events without a key go to the shortest lane.
func WithConcurrency(n int) SubscribeOption {
	return func(c *subscribeConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: concurrency %d, want at least 1", ErrInvalidOption, n)
		}
		c.concurrency = n
		return nil
	}
}

// WithOverflow sets the policy applied when the queue is full (default
// [OverflowBlock]).
func WithOverflow(policy Overflow) SubscribeOption {
	return func(c *subscribeConfig) error {
		if policy < OverflowBlock || policy > OverflowFail {
			return fmt.Errorf("%w: unknown overflow policy %d", ErrInvalidOption, int(policy))
		}
		c.overflow = policy
		return nil
	}
}

// WithKeyFunc sets the function that gives an event's ordering key for
// this subscription, replacing the key given at publish with WithKey. Events with the
// same key are handled one at a time in publish order; events with different
// keys may be handled in parallel (see WithConcurrency). It is called by the
// publishing goroutine; a panic in it counts the event as failed for this
// subscriber and reports it to the error handler.
func WithKeyFunc[T any](keyOf func(e *Event[T]) string) SubscribeOption {
	return func(c *subscribeConfig) error {
		if keyOf == nil {
			return fmt.Errorf("%w: nil ordering key function", ErrInvalidOption)
		}
		if err := checkOptionType[T](c, "ordering key"); err != nil {
			return err
		}
		c.keyOf = func(m Message) string { return keyOf(m.(*Event[T])) }
		return nil
	}
}

// WithFilter sets a predicate that an event must satisfy to enter this
// subscription's queue. Events it rejects are counted as filtered. It is
// called by the publishing goroutine; a panic in it counts the event as
// failed for this subscriber and reports it to the error handler.
func WithFilter[T any](keep func(e *Event[T]) bool) SubscribeOption {
	return func(c *subscribeConfig) error {
		if keep == nil {
			return fmt.Errorf("%w: nil filter", ErrInvalidOption)
		}
		if err := checkOptionType[T](c, "filter"); err != nil {
			return err
		}
		c.filter = func(m Message) bool { return keep(m.(*Event[T])) }
		return nil
	}
}

// WithSubscriptionMiddleware appends middleware to this subscription's own
// chain, which runs inside the bus-level chain. The first given is the
// outermost.
func WithSubscriptionMiddleware(mw ...Middleware) SubscribeOption {
	return func(c *subscribeConfig) error {
		if err := checkMiddleware(mw); err != nil {
			return err
		}
		c.middleware = append(c.middleware, mw...)
		return nil
	}
}

func checkOptionType[T any](c *subscribeConfig, what string) error {
	if c.payloadType == nil {
		return fmt.Errorf("%w: %s for payload type %s on a pattern subscription, whose topics may carry any payload type (use WithMessageFilter or WithMessageKeyFunc)",
			ErrInvalidOption, what, reflect.TypeFor[T]())
	}
	if want := reflect.TypeFor[T](); c.payloadType != want {
		return fmt.Errorf("%w: %s is for payload type %s, the topic carries %s", ErrInvalidOption, what, want, c.payloadType)
	}
	return nil
}

// PublishOption configures one publish. It is a small value, so passing
// options costs no allocation beyond what they carry.
type PublishOption struct {
	kind       publishOptionKind
	text       string
	value      string
	meta       map[string]string
	cloudEvent *CloudEventAttributes
	id         uuid.UUID
}

type publishOptionKind uint8

const (
	optNone publishOptionKind = iota
	optKey
	optCorrelation
	optMetadataPair
	optMetadataMap
	optCloudEvent
	optEventID
	optCausationID
)

// WithKey sets the event's ordering key (Envelope.Key). Subscriptions
// without their own WithKeyFunc use it to keep events with the same key
// in order when they run several workers.
func WithKey(key string) PublishOption { return PublishOption{kind: optKey, text: key} }

// WithCorrelationID sets the event's correlation ID, replacing the one it
// would inherit from ctx.
func WithCorrelationID(id string) PublishOption {
	return PublishOption{kind: optCorrelation, text: id}
}

// WithMetadata adds one metadata entry to the event. Keys must not be empty.
func WithMetadata(key, value string) PublishOption {
	return PublishOption{kind: optMetadataPair, text: key, value: value}
}

// WithMetadataMap adds every entry of m to the event's metadata. The map is
// copied, so the caller may change it afterwards.
func WithMetadataMap(m map[string]string) PublishOption {
	return PublishOption{kind: optMetadataMap, meta: m}
}

// WithEventID publishes the event with ID id instead of a new UUIDv7: for
// publishing again an event kept elsewhere, such as an event store's, so
// that the Idempotent middleware of its subscribers recognises the second
// publish of one event. The nil UUID is refused with [ErrInvalidOption].
// The event's correlation ID, unless set or inherited, is the text of id.
func WithEventID(id uuid.UUID) PublishOption { return PublishOption{kind: optEventID, id: id} }

// WithCausationID sets the event's causation ID, replacing the one it
// would inherit from a handler's ctx: for publishing again an event kept
// elsewhere with its own causation.
func WithCausationID(id uuid.UUID) PublishOption { return PublishOption{kind: optCausationID, id: id} }

type publishConfig struct {
	key           string
	correlationID string
	metadata      map[string]string
	cloudEvent    *CloudEventAttributes
	id            uuid.UUID
	causationID   uuid.UUID
}

func (c *publishConfig) apply(opts []PublishOption) error {
	for _, o := range opts {
		switch o.kind {
		case optKey:
			c.key = o.text
		case optCorrelation:
			if o.text == "" {
				return fmt.Errorf("%w: empty correlation id", ErrInvalidOption)
			}
			c.correlationID = o.text
		case optMetadataPair:
			if o.text == "" {
				return fmt.Errorf("%w: empty metadata key", ErrInvalidOption)
			}
			if c.metadata == nil {
				c.metadata = make(map[string]string, len(opts))
			}
			c.metadata[o.text] = o.value
		case optMetadataMap:
			for k := range o.meta {
				if k == "" {
					return fmt.Errorf("%w: empty metadata key", ErrInvalidOption)
				}
			}
			if len(o.meta) == 0 {
				continue
			}
			if c.metadata == nil {
				c.metadata = make(map[string]string, len(o.meta))
			}
			maps.Copy(c.metadata, o.meta)
		case optCloudEvent:
			if err := checkCloudEvent(o.cloudEvent); err != nil {
				return err
			}
			if !o.cloudEvent.isZero() {
				c.cloudEvent = o.cloudEvent
			}
		case optEventID:
			if o.id == uuid.Nil {
				return fmt.Errorf("%w: nil event id", ErrInvalidOption)
			}
			c.id = o.id
		case optCausationID:
			c.causationID = o.id
		default:
			return fmt.Errorf("%w: zero PublishOption", ErrInvalidOption)
		}
	}
	return nil
}
