package kafka

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/busline/eventbus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults of the options.
const (
	// DefaultTopicPrefix is put before every topic's name in the Kafka
	// topic that holds it: a topic "orders.created" is kept in a Kafka
	// topic named like "eventbus.orders.created.1f0c9a3b".
	DefaultTopicPrefix = "eventbus"

	// DefaultPartitions is the partition count of the topics the Transport
	// creates.
	DefaultPartitions = 1

	// DefaultCommitInterval is how often a consumer commits the offsets of
	// the records settled since its last commit.
	DefaultCommitInterval = 500 * time.Millisecond

	// DefaultRevokeTimeout bounds how long a consumer that gives up
	// partitions (a rebalance, Stop) waits for their delivered records to
	// be settled before it commits and lets them go.
	DefaultRevokeTimeout = 5 * time.Second

	// DefaultMaxRedeliveryDelay bounds the delay of a Nak.
	DefaultMaxRedeliveryDelay = 30 * time.Second

	// DefaultHeartbeatInterval is how often a group member tells the
	// cluster it is alive, and so how soon it notices a rebalance.
	DefaultHeartbeatInterval = time.Second

	// DefaultSessionTimeout is how long the cluster waits for a silent
	// group member before it gives its partitions to the others.
	DefaultSessionTimeout = 10 * time.Second

	// DefaultMaxInFlight is used when ConsumerConfig.MaxInFlight is zero.
	DefaultMaxInFlight = 128

	// DefaultConnectTimeout bounds Connect's check that a broker answers
	// when ctx has no earlier deadline.
	DefaultConnectTimeout = 10 * time.Second
)

// Option configures a Transport made by Connect.
type Option func(*config) error

type config struct {
	prefix            string
	partitions        int32
	replication       int16
	topicConfigs      map[string]*string
	commitInterval    time.Duration
	revokeTimeout     time.Duration
	maxRedelivery     time.Duration
	heartbeatInterval time.Duration
	sessionTimeout    time.Duration
	logger            *slog.Logger
	clientOpts        []kgo.Opt
	binary            bool
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		prefix:            DefaultTopicPrefix,
		partitions:        DefaultPartitions,
		replication:       -1,
		topicConfigs:      map[string]*string{},
		commitInterval:    DefaultCommitInterval,
		revokeTimeout:     DefaultRevokeTimeout,
		maxRedelivery:     DefaultMaxRedeliveryDelay,
		heartbeatInterval: DefaultHeartbeatInterval,
		sessionTimeout:    DefaultSessionTimeout,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalidOption)
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	if c.heartbeatInterval*3 > c.sessionTimeout {
		return nil, fmt.Errorf("%w: heartbeat interval %v is more than a third of the session timeout %v", ErrInvalidOption, c.heartbeatInterval, c.sessionTimeout)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// WithTopicPrefix sets what is put before every topic's name in the name
// of the Kafka topic that holds it (DefaultTopicPrefix by default). It must
// be a valid topic name itself. Transports that share a prefix share
// topics.
func WithTopicPrefix(prefix string) Option {
	return func(c *config) error {
		if err := eventbus.ValidateTopicName(prefix); err != nil {
			return fmt.Errorf("%w: topic prefix: %w", ErrInvalidOption, err)
		}
		c.prefix = prefix
		return nil
	}
}

// WithPartitions sets the partition count of the topics the Transport
// creates (DefaultPartitions by default); -1 leaves it to the cluster's
// num.partitions. The processes of a group share a topic partition by
// partition, so a topic of one partition is handled by one process at a
// time; positions (FromSequence) are only defined on a topic of one
// partition. Topics that exist already keep their partitions.
func WithPartitions(n int32) Option {
	return func(c *config) error {
		if n < 1 && n != -1 {
			return fmt.Errorf("%w: partitions %d, want >= 1 or -1", ErrInvalidOption, n)
		}
		c.partitions = n
		return nil
	}
}

// WithReplicationFactor sets how many brokers keep a copy of each
// partition of the topics the Transport creates; -1 (the default) leaves
// it to the cluster's default.replication.factor. A factor above the
// number of brokers makes Publish and Subscribe fail with ErrTopic.
func WithReplicationFactor(n int16) Option {
	return func(c *config) error {
		if n < 1 && n != -1 {
			return fmt.Errorf("%w: replication factor %d, want >= 1 or -1", ErrInvalidOption, n)
		}
		c.replication = n
		return nil
	}
}

// WithTopicConfig sets a configuration entry of the topics the Transport
// creates, such as "retention.ms" or "min.insync.replicas". A key the
// cluster does not know makes Publish and Subscribe fail with ErrTopic.
func WithTopicConfig(key, value string) Option {
	return func(c *config) error {
		if key == "" {
			return fmt.Errorf("%w: empty topic config key", ErrInvalidOption)
		}
		c.topicConfigs[key] = &value
		return nil
	}
}

// WithCommitInterval sets how often a consumer commits the offsets its
// settled records allow (DefaultCommitInterval by default). A consumer also
// commits when it gives partitions up or stops. A longer interval means
// fewer commits and more records delivered again after a crash.
func WithCommitInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: commit interval %v, want > 0", ErrInvalidOption, d)
		}
		c.commitInterval = d
		return nil
	}
}

// WithRevokeTimeout sets how long a consumer that gives partitions up, in
// a rebalance or when it stops, waits for the records it delivered from
// them to be settled before it commits and lets them go
// (DefaultRevokeTimeout by default). Records still unsettled then are
// delivered again by the partitions' next owner. The wait holds the
// group's rebalance up, so keep it well below the bus's ten seconds for a
// Subscribe.
func WithRevokeTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: revoke timeout %v, want > 0", ErrInvalidOption, d)
		}
		c.revokeTimeout = d
		return nil
	}
}

// WithMaxRedeliveryDelay bounds the delay of InboundMessage.Nak
// (DefaultMaxRedeliveryDelay by default): a longer delay is cut to it.
// While a record waits for its redelivery, its partition delivers nothing
// newer.
func WithMaxRedeliveryDelay(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: max redelivery delay %v, want > 0", ErrInvalidOption, d)
		}
		c.maxRedelivery = d
		return nil
	}
}

// WithHeartbeatInterval sets how often a group member heartbeats
// (DefaultHeartbeatInterval by default), which bounds how long it takes to
// notice that the group rebalances. It may be at most a third of the
// session timeout.
func WithHeartbeatInterval(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: heartbeat interval %v, want > 0", ErrInvalidOption, d)
		}
		c.heartbeatInterval = d
		return nil
	}
}

// WithSessionTimeout sets how long the cluster waits for a group member
// that stopped heartbeating, a crashed process, before it gives that
// member's partitions to the others (DefaultSessionTimeout by default).
// The cluster refuses values outside its group.min.session.timeout.ms and
// group.max.session.timeout.ms (6 seconds to 30 minutes by default): the
// consumer's Subscribe then fails with ErrKafka.
func WithSessionTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: session timeout %v, want > 0", ErrInvalidOption, d)
		}
		c.sessionTimeout = d
		return nil
	}
}

// WithBinaryMode makes Publish write events in CloudEvents binary content
// mode, as the CloudEvents Kafka binding defines it: the attributes in "ce_"
// headers, datacontenttype in "content-type", the payload as the record's
// value (and HeaderTime as always). Without it events are written in
// structured mode, the CloudEvents document as the value. Subscribers read
// both modes either way. Data that is not a CloudEvent (the bus never
// publishes such) is written as it is.
func WithBinaryMode() Option {
	return func(c *config) error {
		c.binary = true
		return nil
	}
}

// WithLogger sets the logger for consumer failures and rebalances; nil
// (the default) discards them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithClientOptions adds options of the franz-go client (TLS, SASL, client
// ID, ...) to every client the Transport makes: its producer and admin
// client, and the group member of each Subscribe. They are applied after
// the Transport's own, so they may override them; overriding the producer's
// acknowledgements, idempotence or the group's balancers and commits
// changes what this package promises.
func WithClientOptions(opts ...kgo.Opt) Option {
	return func(c *config) error {
		for _, o := range opts {
			if o == nil {
				return fmt.Errorf("%w: nil client option", ErrInvalidOption)
			}
		}
		c.clientOpts = append(c.clientOpts, opts...)
		return nil
	}
}
