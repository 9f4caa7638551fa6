package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/busline/eventbus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Record headers the Transport sets on every record it publishes.
const (
	// HeaderContentType carries the CloudEvents structured-mode content
	// type, "application/cloudevents+json".
	HeaderContentType = "content-type"
	// HeaderID carries the event's ID (OutgoingMessage.ID), in the
	// CloudEvents Kafka binding's name for it.
	HeaderID = "ce_id"
	// HeaderTime carries the time Publish was called, in nanoseconds
	// since the Unix epoch, decimal; FromTime uses it to tell apart the
	// records of one millisecond, the precision of Kafka's timestamps.
	HeaderTime = "eventbus-time"
)

const cloudEventsContentType = "application/cloudevents+json"

// Transport is an [eventbus.Transport] over Apache Kafka, built on the
// franz-go client. Make one with Connect; it is safe for concurrent use.
// Close it after closing every bus that uses it.
type Transport struct {
	cfg   *config
	log   *slog.Logger
	seeds []string
	cl    *kgo.Client // producer and admin requests
	adm   *kadm.Client

	mu        sync.Mutex
	closed    bool
	topics    map[string]int32 // bus topic → partition count, for topics known to exist
	consumers map[*consumer]struct{}
}

var _ eventbus.Transport = (*Transport)(nil)

// Connect returns a Transport to the Kafka cluster whose seed brokers are
// brokers ("host:port"). It makes one client for publishing and admin
// requests, which reconnects by itself, and checks, bounded by ctx
// (DefaultConnectTimeout at most), that a broker answers: if none does,
// the error wraps ErrConnect.
func Connect(ctx context.Context, brokers []string, opts ...Option) (*Transport, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("%w: no seed broker", ErrInvalidOption)
	}
	for _, b := range brokers {
		if b == "" {
			return nil, fmt.Errorf("%w: empty seed broker address", ErrInvalidOption)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	kopts := append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(newSpreadPartitioner()),
		// Publish waits for each record's acknowledgement, so lingering
		// would only delay it; records published while a request is in
		// flight are still sent together.
		kgo.ProducerLinger(0),
		// Partitions of a topic created a moment ago may not be known
		// to every broker yet.
		kgo.UnknownTopicRetries(-1),
	}, cfg.clientOpts...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, DefaultConnectTimeout)
	defer cancel()
	if err := cl.Ping(pingCtx); err != nil {
		cl.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%w: %v: %w (%w)", ErrConnect, brokers, ctxErr, err)
		}
		return nil, fmt.Errorf("%w: %v: %w", ErrConnect, brokers, err)
	}
	return &Transport{
		cfg:       cfg,
		log:       cfg.logger,
		seeds:     append([]string(nil), brokers...),
		cl:        cl,
		adm:       kadm.NewClient(cl),
		topics:    make(map[string]int32),
		consumers: make(map[*consumer]struct{}),
	}, nil
}

// KafkaTopic returns the name of the Kafka topic that holds the events of
// the bus topic topic (see the package documentation on topics), for tools
// that read it directly.
func (t *Transport) KafkaTopic(topic string) string { return topicFor(t.cfg.prefix, topic) }

// Close stops every consumer that Subscribe started and waits, bounded by
// ctx, until they have settled what they can, committed, left their groups
// and ended; then it closes the publishing client, failing the publishes
// still waiting for the cluster. Publish and Subscribe fail with
// eventbus.ErrBrokerClosed afterwards. Close may be called again, to wait
// once more.
func (t *Transport) Close(ctx context.Context) error {
	t.mu.Lock()
	first := !t.closed
	t.closed = true
	cs := make([]*consumer, 0, len(t.consumers))
	for c := range t.consumers {
		cs = append(cs, c)
	}
	t.mu.Unlock()
	for _, c := range cs {
		c.Stop()
	}
	var waitErr error
	for _, c := range cs {
		select {
		case <-c.Done():
			continue
		case <-ctx.Done():
			waitErr = fmt.Errorf("eventbus/kafka: close: consumers still running: %w", ctx.Err())
		}
		break
	}
	if first {
		t.cl.Close()
	}
	return waitErr
}

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func (t *Transport) forget(c *consumer) {
	t.mu.Lock()
	delete(t.consumers, c)
	t.mu.Unlock()
}

// Publish appends m to the topic's Kafka topic, creating the topic on first
// use, and returns once every in-sync replica has stored it (acks=all,
// through an idempotent producer, so the client's own retries store it
// once). The record's key is m.Key, so the events of a key go to one
// partition, its value m.Data, and it carries the headers HeaderID,
// HeaderContentType and HeaderTime. The client retries while the cluster is
// unreachable; Publish returns ctx's error when ctx ends first, and the
// record may then still be stored: Kafka does not deduplicate a Publish
// that is retried with the same ID.
func (t *Transport) Publish(ctx context.Context, m eventbus.OutgoingMessage) error {
	if err := eventbus.ValidateTopicName(m.Topic); err != nil {
		return fmt.Errorf("eventbus/kafka: publish: %w", err)
	}
	if t.isClosed() {
		return fmt.Errorf("eventbus/kafka: publish: %w", eventbus.ErrBrokerClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("eventbus/kafka: publish to %q: %w", m.Topic, err)
	}
	if _, err := t.ensureTopic(ctx, m.Topic); err != nil {
		return err
	}
	now := time.Now()
	timeHeader := kgo.RecordHeader{Key: HeaderTime, Value: strconv.AppendInt(nil, now.UnixNano(), 10)}
	rec := &kgo.Record{Topic: t.KafkaTopic(m.Topic), Timestamp: now}
	// In binary mode ce_id and content-type come with the attributes.
	if !t.cfg.binary || !binaryRecord(rec, m.Data, timeHeader) {
		rec.Value = m.Data
		rec.Headers = []kgo.RecordHeader{
			{Key: HeaderID, Value: []byte(m.ID.String())},
			{Key: HeaderContentType, Value: []byte(cloudEventsContentType)},
			timeHeader,
		}
	}
	if m.Key != "" {
		rec.Key = []byte(m.Key)
	}
	// The promise runs once the cluster answers, or the client gives up;
	// the buffered channel lets it finish when Publish returned before.
	result := make(chan error, 1)
	t.cl.Produce(ctx, rec, func(_ *kgo.Record, err error) { result <- err })
	select {
	case err := <-result:
		switch {
		case err == nil:
			return nil
		case errors.Is(err, kgo.ErrClientClosed):
			return fmt.Errorf("eventbus/kafka: publish to %q: %w: %w", m.Topic, eventbus.ErrBrokerClosed, err)
		case ctx.Err() != nil:
			return fmt.Errorf("eventbus/kafka: publish to %q: %w (%w)", m.Topic, ctx.Err(), err)
		}
		return fmt.Errorf("%w: publish to %q: %w", ErrKafka, m.Topic, err)
	case <-ctx.Done():
		return fmt.Errorf("eventbus/kafka: publish to %q: %w", m.Topic, ctx.Err())
	}
}

// requestError wraps the error of a failed request to the cluster in
// sentinel, putting ctx's error first when ctx ended, so that callers can
// match it.
func requestError(ctx context.Context, sentinel error, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w: %s: %w (%w)", sentinel, what, ctxErr, err)
	}
	if errors.Is(err, kgo.ErrClientClosed) {
		return fmt.Errorf("%w: %s: %w: %w", sentinel, what, eventbus.ErrBrokerClosed, err)
	}
	return fmt.Errorf("%w: %s: %w", sentinel, what, err)
}
