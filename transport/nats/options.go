package nats

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/busline/eventbus"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the options.
const (
	// DefaultSubjectPrefix is the first subject token of every topic's
	// subject: a topic "orders.created" is published on
	// "eventbus.orders.created".
	DefaultSubjectPrefix = "eventbus"

	// DefaultAckWait is how long the server waits for Ack or Nak before it
	// delivers a message again, when ConsumerConfig.AckTimeout is zero.
	DefaultAckWait = 30 * time.Second

	// DefaultDuplicateWindow is how long the server remembers event IDs to
	// drop republished events, unless WithMaxAge sets a shorter stream
	// lifetime, which then bounds it.
	DefaultDuplicateWindow = 2 * time.Minute

	// DefaultMaxAckPending is the lowest limit put on the messages of a
	// consumer group that are delivered and not yet settled, summed over all
	// processes of the group.
	DefaultMaxAckPending = 10000

	// DefaultMaxInFlight is used when ConsumerConfig.MaxInFlight is zero.
	DefaultMaxInFlight = 128

	// DefaultReconnectWait is how long Connect's connection waits between
	// two attempts to reach the server again.
	DefaultReconnectWait = 250 * time.Millisecond

	// DefaultConnectTimeout bounds Connect's dial when ctx has no earlier
	// deadline.
	DefaultConnectTimeout = 5 * time.Second

	// DefaultMaxPendingPublishes is how many messages of PublishBatch calls
	// may be sent and not yet acknowledged by the server at once, over all
	// the batches of a Transport.
	DefaultMaxPendingPublishes = 4000
)

// Option configures a Transport made by New or Connect.
type Option func(*config) error

type config struct {
	prefix          string
	sharedStream    string // the stream of every topic, or "" for one stream per topic
	storage         jetstream.StorageType
	maxAge          time.Duration
	maxBytes        int64
	replicas        int
	duplicateWindow time.Duration
	ackWait         time.Duration
	maxAckPending   int
	doubleAck       bool
	noDedup         bool
	binary          bool
	logger          *slog.Logger

	maxPendingPublishes int

	// Connect only.
	reconnectWait time.Duration
	natsOptions   []natsgo.Option
	connectOnly   string // name of the first Connect-only option given
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		prefix:        DefaultSubjectPrefix,
		storage:       jetstream.FileStorage,
		replicas:      1,
		ackWait:       DefaultAckWait,
		maxAckPending: DefaultMaxAckPending,
		reconnectWait: DefaultReconnectWait,

		maxPendingPublishes: DefaultMaxPendingPublishes,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalidOption)
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	if c.duplicateWindow == 0 {
		c.duplicateWindow = DefaultDuplicateWindow
		if c.maxAge > 0 && c.maxAge < c.duplicateWindow {
			c.duplicateWindow = c.maxAge
		}
	} else if c.maxAge > 0 && c.duplicateWindow > c.maxAge {
		return nil, fmt.Errorf("%w: duplicate window %v is longer than max age %v", ErrInvalidOption, c.duplicateWindow, c.maxAge)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// WithSubjectPrefix sets the subject tokens put before every topic's name
// (DefaultSubjectPrefix by default). It must be a valid topic name itself:
// dot-separated tokens of ASCII letters, digits, '-' and '_'. Transports
// that share a prefix share topics.
func WithSubjectPrefix(prefix string) Option {
	return func(c *config) error {
		if err := eventbus.ValidateTopicName(prefix); err != nil {
			return fmt.Errorf("%w: subject prefix: %w", ErrInvalidOption, err)
		}
		c.prefix = prefix
		return nil
	}
}

// WithSharedStream makes the transport keep the events of every topic of
// its subject prefix in one stream, named name, that captures
// "<prefix>.>", rather than one stream per topic (the default). That
// layout is what makes the transport an eventbus.PatternTransport: a
// pattern subscription is one consumer of the stream that selects its
// topics with a subject wildcard. The stream's limits (WithMaxAge,
// WithMaxBytes) and its position numbering are then shared by every topic;
// see the package documentation. name must be 1 to 200 ASCII letters,
// digits, '-' or '_'. Every transport on a prefix must use the same
// layout and name: a stream of the other layout on the same subjects is a
// conflict (ErrStreamConflict).
func WithSharedStream(name string) Option {
	return func(c *config) error {
		if err := validStreamName(name); err != nil {
			return err
		}
		c.sharedStream = name
		return nil
	}
}

// WithStorage sets where the servers keep the topics' streams:
// jetstream.FileStorage (the default), which survives a server restart, or
// jetstream.MemoryStorage, which does not.
func WithStorage(s jetstream.StorageType) Option {
	return func(c *config) error {
		if s != jetstream.FileStorage && s != jetstream.MemoryStorage {
			return fmt.Errorf("%w: unknown storage type %d", ErrInvalidOption, int(s))
		}
		c.storage = s
		return nil
	}
}

// WithMaxAge bounds how long a topic's stream (the shared stream, with
// WithSharedStream) keeps an event; zero (the
// default) keeps events until WithMaxBytes or the server's limits discard
// them. Events are kept whether or not every group has acknowledged them,
// so set a limit in production.
func WithMaxAge(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: negative max age %v", ErrInvalidOption, d)
		}
		c.maxAge = d
		return nil
	}
}

// WithMaxBytes bounds the size of each topic's stream (of the shared
// stream, with WithSharedStream); the oldest events are discarded to make
// room. Zero (the default) means no limit of its own.
func WithMaxBytes(n int64) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: negative max bytes %d", ErrInvalidOption, n)
		}
		c.maxBytes = n
		return nil
	}
}

// WithReplicas sets how many servers of a cluster keep a copy of each
// topic's stream (of the shared stream, with WithSharedStream): 1 (the
// default) to 5.
func WithReplicas(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 5 {
			return fmt.Errorf("%w: replicas %d, want 1 to 5", ErrInvalidOption, n)
		}
		c.replicas = n
		return nil
	}
}

// WithDuplicateWindow sets how long the server remembers the event IDs it
// stored, so that an event published again within that time (a retried
// Publish) is stored once. By default DefaultDuplicateWindow, or the max age
// when that is shorter; it may not exceed the max age.
func WithDuplicateWindow(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: duplicate window %v, want > 0", ErrInvalidOption, d)
		}
		c.duplicateWindow = d
		return nil
	}
}

// WithAckWait sets how long the server waits for a delivered message to be
// settled before it delivers it again, for subscriptions whose
// ConsumerConfig.AckTimeout is zero. DefaultAckWait by default.
func WithAckWait(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: ack wait %v, want > 0", ErrInvalidOption, d)
		}
		c.ackWait = d
		return nil
	}
}

// WithMaxAckPending sets the lowest limit on the messages of a consumer
// group that the server has delivered and that are not settled yet, over
// all the processes of the group (DefaultMaxAckPending by default). Subscribe
// raises it to four times ConsumerConfig.MaxInFlight when that is more.
func WithMaxAckPending(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: max ack pending %d, want >= 1", ErrInvalidOption, n)
		}
		c.maxAckPending = n
		return nil
	}
}

// WithoutDeduplication makes Publish send events without their ID as the
// message ID and without naming the stream that must store them, which
// spares the server its deduplication work (see BENCHMARKS.md). A Publish that failed and is retried may then store the
// event twice; the consumers' at-least-once handling (the Idempotent
// middleware) has to absorb such duplicates, as it absorbs redeliveries.
func WithoutDeduplication() Option {
	return func(c *config) error {
		c.noDedup = true
		return nil
	}
}

// WithMaxPendingPublishes sets how many messages of PublishBatch calls may
// be sent and not yet acknowledged by the server at once, over all the
// batches in progress on the Transport (DefaultMaxPendingPublishes by
// default). A batch with more messages sends the next one as an earlier
// one is acknowledged, and a batch that finds no room waits for it,
// bounded by its ctx. It does not limit Publish, which waits for each
// acknowledgement.
func WithMaxPendingPublishes(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: max pending publishes %d, want >= 1", ErrInvalidOption, n)
		}
		c.maxPendingPublishes = n
		return nil
	}
}

// WithDoubleAck makes InboundMessage.Ack wait until the server confirms the
// acknowledgement, bounded by Ack's ctx. Without it Ack only queues the
// acknowledgement on the connection: faster, and never a loss, but an
// acknowledgement lost with the connection makes the server deliver that
// message again once its ack wait has passed.
func WithDoubleAck() Option {
	return func(c *config) error {
		c.doubleAck = true
		return nil
	}
}

// WithBinaryMode makes Publish write events in CloudEvents binary content
// mode: the attributes in "ce-" headers (percent-encoded), datacontenttype
// in "content-type", the payload as the message body, as the CloudEvents
// NATS binding defines it. Without it events are written in structured
// mode, one JSON document per message. Subscribers read both modes either
// way. Data that is not a CloudEvent (the bus never publishes such) is
// written as it is.
func WithBinaryMode() Option {
	return func(c *config) error {
		c.binary = true
		return nil
	}
}

// WithLogger sets the logger for connection events and consumer failures;
// nil (the default) discards them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithReconnectWait sets how long the connection that Connect opens waits
// between two attempts to reach the server again after losing it
// (DefaultReconnectWait by default; it retries forever). Connect only: New
// reports it as an invalid option.
func WithReconnectWait(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: reconnect wait %v, want > 0", ErrInvalidOption, d)
		}
		c.reconnectWait = d
		c.markConnectOnly("WithReconnectWait")
		return nil
	}
}

// WithNATSOptions adds options of the NATS client (credentials, TLS, ...) to
// the connection that Connect opens. They are applied after the transport's
// own (name, unlimited reconnects, reconnect wait, timeout), so they may
// override them. Connect only: New reports it as an invalid option.
func WithNATSOptions(opts ...natsgo.Option) Option {
	return func(c *config) error {
		for _, o := range opts {
			if o == nil {
				return fmt.Errorf("%w: nil NATS option", ErrInvalidOption)
			}
		}
		c.natsOptions = append(c.natsOptions, opts...)
		c.markConnectOnly("WithNATSOptions")
		return nil
	}
}

func (c *config) markConnectOnly(name string) {
	if c.connectOnly == "" {
		c.connectOnly = name
	}
}
