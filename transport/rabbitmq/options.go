package rabbitmq

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/busline/eventbus"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Defaults of the options.
const (
	// DefaultExchange is the name of the topic exchange that carries every
	// topic's events, and the first part of every queue's name.
	DefaultExchange = "eventbus"

	// DefaultPrefetch is the prefetch of a consumer whose
	// ConsumerConfig.MaxInFlight is zero.
	DefaultPrefetch = 128

	// MaxPrefetch is the largest prefetch the server takes: a
	// ConsumerConfig.MaxInFlight above it is refused.
	MaxPrefetch = 65535

	// DefaultMinReconnectWait and DefaultMaxReconnectWait bound the wait
	// between two attempts to reach the server again: it starts at the
	// first and doubles up to the second.
	DefaultMinReconnectWait = 100 * time.Millisecond
	DefaultMaxReconnectWait = 5 * time.Second

	// DefaultConnectTimeout bounds Connect's dial, and each dial of a
	// reconnection, when ctx has no earlier deadline.
	DefaultConnectTimeout = 10 * time.Second
)

// Option configures a Transport made by Connect.
type Option func(*config) error

type config struct {
	exchange     string
	singleActive bool
	mandatory    bool
	minWait      time.Duration
	maxWait      time.Duration
	amqp         amqp.Config
	logger       *slog.Logger
	binary       bool
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		exchange: DefaultExchange,
		minWait:  DefaultMinReconnectWait,
		maxWait:  DefaultMaxReconnectWait,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalidOption)
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// WithExchange sets the name of the topic exchange that carries the events
// (DefaultExchange by default), which is also the first part of the name
// of every queue the Transport declares. It must be a valid topic name:
// dot-separated tokens of ASCII letters, digits, '-' and '_', at most 100
// bytes. Transports that share an exchange share topics.
func WithExchange(name string) Option {
	return func(c *config) error {
		if err := eventbus.ValidateTopicName(name); err != nil {
			return fmt.Errorf("%w: exchange: %w", ErrInvalidOption, err)
		}
		if len(name) > 100 {
			return fmt.Errorf("%w: exchange %q is %d bytes long, want at most 100", ErrInvalidOption, name, len(name))
		}
		c.exchange = name
		return nil
	}
}

// WithSingleActiveConsumer declares the queues of the groups this Transport
// creates with single active consumer: of all the subscriptions of a group,
// in every process, the server delivers to one at a time, and to the next
// when it goes away, so the group handles its events in the order the queue
// holds them, which keeps per-key order across processes at the cost of
// sharing no work between them. The argument is fixed when a queue is
// created: a group whose queue exists without it (or with it, when this
// option is absent) fails to subscribe with ErrRefused. See the package
// documentation on ordering.
func WithSingleActiveConsumer() Option {
	return func(c *config) error {
		c.singleActive = true
		return nil
	}
}

// WithMandatory publishes every message as mandatory: Publish fails with
// ErrUnroutable when the message reached no queue, that is when its topic
// has no group. Without it such a message is dropped by the server and
// Publish succeeds. A Publish whose ctx ends before the server's confirm
// fails with ErrUnavailable, routed or not. At most 1024 mandatory
// messages of a Transport wait for their confirm at a time, including
// those whose Publish has returned that way: a Publish beyond them waits
// for a confirm, bounded by its ctx.
func WithMandatory() Option {
	return func(c *config) error {
		c.mandatory = true
		return nil
	}
}

// WithReconnectWait sets the wait between two attempts to reach the server
// again after the connection was lost: it starts at minWait and doubles up
// to maxWait (DefaultMinReconnectWait and DefaultMaxReconnectWait by
// default). The Transport retries until it is closed.
func WithReconnectWait(minWait, maxWait time.Duration) Option {
	return func(c *config) error {
		if minWait <= 0 || maxWait < minWait {
			return fmt.Errorf("%w: reconnect wait %v to %v, want 0 < min <= max", ErrInvalidOption, minWait, maxWait)
		}
		c.minWait, c.maxWait = minWait, maxWait
		return nil
	}
}

// WithAMQPConfig sets the configuration of the AMQP client's connections
// (credentials other than the URL's, TLS, heartbeat, virtual host,
// properties). Its Dial is replaced by one that honours Connect's ctx and
// DefaultConnectTimeout, and its Recovery must be unset: the Transport
// reconnects by itself.
func WithAMQPConfig(cfg amqp.Config) Option {
	return func(c *config) error {
		if cfg.Recovery != nil {
			return fmt.Errorf("%w: amqp091 Config.Recovery is set: the transport reconnects by itself", ErrInvalidOption)
		}
		c.amqp = cfg
		return nil
	}
}

// WithBinaryMode makes Publish write events in CloudEvents binary content
// mode, as the CloudEvents AMQP binding defines it: each attribute in a
// header "cloudEvents:" + its name, datacontenttype as the message's
// content type, the payload as the body. Without it events are written in
// structured mode, the CloudEvents document as the body with the content
// type "application/cloudevents+json". Subscribers read both modes either
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
