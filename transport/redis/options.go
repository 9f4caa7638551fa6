package redis

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/busline/eventbus"
	goredis "github.com/redis/go-redis/v9"
)

// Defaults of the options.
const (
	// DefaultKeyPrefix is put before every topic's name, with a ':', to make
	// the key of its stream: a topic "orders.created" is the stream
	// "eventbus:orders.created".
	DefaultKeyPrefix = "eventbus"

	// DefaultAckTimeout is how long a delivered entry may stay unsettled
	// before another subscription of its group claims it, when
	// ConsumerConfig.AckTimeout is zero.
	DefaultAckTimeout = 30 * time.Second

	// DefaultClaimInterval is how often each subscription looks for the
	// entries of its group whose ack timeout has passed.
	DefaultClaimInterval = time.Second

	// DefaultMaxInFlight is used when ConsumerConfig.MaxInFlight is zero.
	DefaultMaxInFlight = 128

	// DefaultConnectTimeout bounds Connect's first round trip when ctx has
	// no earlier deadline.
	DefaultConnectTimeout = 5 * time.Second
)

// Option configures a Transport made by Connect.
type Option func(*config) error

type config struct {
	prefix        string
	maxLen        int64
	maxAge        time.Duration
	ackTimeout    time.Duration
	claimInterval time.Duration
	logger        *slog.Logger
	redisOptions  []func(*goredis.Options)
	binary        bool
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		prefix:        DefaultKeyPrefix,
		ackTimeout:    DefaultAckTimeout,
		claimInterval: DefaultClaimInterval,
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

// WithKeyPrefix sets what is put before every topic's name, with a ':', to
// make the key of its stream (DefaultKeyPrefix by default). It must be a
// valid topic name itself: dot-separated tokens of ASCII letters, digits,
// '-' and '_'. Transports that share a prefix (and a server and database)
// share topics.
func WithKeyPrefix(prefix string) Option {
	return func(c *config) error {
		if err := eventbus.ValidateTopicName(prefix); err != nil {
			return fmt.Errorf("%w: key prefix: %w", ErrInvalidOption, err)
		}
		c.prefix = prefix
		return nil
	}
}

// WithMaxLen makes every Publish trim the topic's stream to about n entries
// (XADD MAXLEN ~ n): the server drops the oldest entries, whether or not
// every group has acknowledged them, in whole blocks, so the stream may
// keep somewhat more than n. Zero (the default) sets no length limit.
func WithMaxLen(n int64) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: negative max length %d", ErrInvalidOption, n)
		}
		c.maxLen = n
		return nil
	}
}

// WithMaxAge makes every Publish trim the topic's stream of the entries
// stored more than d ago by the server's clock (XTRIM MINID ~ with the
// entry ID of that time), whether or not every group has acknowledged them;
// like WithMaxLen, trimming works in whole blocks and may keep some older
// entries. Zero (the default) sets no age limit. With both limits, an
// entry goes when either says so.
func WithMaxAge(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: negative max age %v", ErrInvalidOption, d)
		}
		if d > 0 && d < time.Millisecond {
			return fmt.Errorf("%w: max age %v: stream entry IDs count milliseconds", ErrInvalidOption, d)
		}
		c.maxAge = d
		return nil
	}
}

// WithAckTimeout sets how long a delivered entry may stay unsettled before
// the group's subscriptions may claim it and deliver it again, for
// subscriptions whose ConsumerConfig.AckTimeout is zero
// (DefaultAckTimeout by default). It is also how long the entries of a
// crashed process wait for another process.
func WithAckTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("%w: ack timeout %v, want at least 1ms", ErrInvalidOption, d)
		}
		c.ackTimeout = d
		return nil
	}
}

// WithClaimInterval sets how often each subscription looks for entries of
// its group that are due again: those whose ack timeout passed and those
// Nak'ed with a delay that passed (DefaultClaimInterval by default). It
// bounds how late such an entry comes back; each look is one XAUTOCLAIM.
func WithClaimInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("%w: claim interval %v, want at least 1ms", ErrInvalidOption, d)
		}
		c.claimInterval = d
		return nil
	}
}

// WithBinaryMode makes Publish write events in CloudEvents binary content
// mode: each attribute in a field "ce_" + its name (datacontenttype too),
// the payload in FieldData, with FieldID and FieldTime as always; see the
// package documentation. Without it events are written in structured mode,
// the CloudEvents document in FieldData. Subscribers read both modes either
// way. Data that is not a CloudEvent (the bus never publishes such) is
// written as it is.
func WithBinaryMode() Option {
	return func(c *config) error {
		c.binary = true
		return nil
	}
}

// WithLogger sets the logger for consumer failures and recoveries; nil (the
// default) discards them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithRedisOptions adds a function that edits the go-redis client options
// Connect derives from its URL (credentials, TLS, timeouts, pool size, ...)
// before it makes its clients. They run in order, after the Transport has
// set its own values, so they may override them.
func WithRedisOptions(edit func(*goredis.Options)) Option {
	return func(c *config) error {
		if edit == nil {
			return fmt.Errorf("%w: nil Redis options function", ErrInvalidOption)
		}
		c.redisOptions = append(c.redisOptions, edit)
		return nil
	}
}
