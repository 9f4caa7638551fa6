package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/busline/eventbus"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Fields of every stream entry the Transport adds.
const (
	// FieldData holds the encoded event (OutgoingMessage.Data): a
	// CloudEvents 1.0 JSON document.
	FieldData = "data"
	// FieldID holds the event's ID (OutgoingMessage.ID) as a UUID string.
	FieldID = "id"
	// FieldTime holds the time Publish was called, in nanoseconds since the
	// Unix epoch, decimal; FromTime uses it to tell apart the entries of
	// one millisecond, the precision of entry IDs.
	FieldTime = "time"
)

// Transport is an [eventbus.Transport] over Redis Streams, built on the
// go-redis client. Make one with Connect; it is safe for concurrent use.
// Close it after closing every bus that uses it.
type Transport struct {
	cfg  *config
	log  *slog.Logger
	opts *goredis.Options // for the clients of the consumers
	rdb  *goredis.Client  // publishes, settlements, claims, group setup

	mu        sync.Mutex
	closed    bool
	consumers map[*consumer]struct{}
}

var _ eventbus.Transport = (*Transport)(nil)

// Connect returns a Transport to the Redis server at url: a URL of the
// form "redis://[user:password@]host:port[/db]" ("rediss://" for TLS), as
// go-redis's ParseURL reads it, or a bare "host:port". It makes one client
// for publishing and settling, and each Subscribe makes one more for its
// blocking reads; go-redis clients dial again by themselves when a
// connection is lost. Connect checks, bounded by ctx (DefaultConnectTimeout
// at most), that the server answers a PING: if not, the error wraps
// ErrConnect and the client's error.
func Connect(ctx context.Context, url string, opts ...Option) (*Transport, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if url == "" {
		return nil, fmt.Errorf("%w: empty server URL", ErrInvalidOption)
	}
	var ro *goredis.Options
	if strings.Contains(url, "://") {
		if ro, err = goredis.ParseURL(url); err != nil {
			return nil, fmt.Errorf("%w: server URL %q: %w", ErrInvalidOption, url, err)
		}
	} else {
		ro = &goredis.Options{Addr: url}
	}
	// Deadlines of ctx bound each command, not only the wait for a
	// connection of the pool.
	ro.ContextTimeoutEnabled = true
	// Nothing the Transport does needs the client named on the server, or
	// notices of cluster maintenance.
	ro.DisableIdentity = true
	ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	for _, edit := range cfg.redisOptions {
		edit(ro)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, ro.Addr, err)
	}
	rdb := goredis.NewClient(ro)
	pingCtx, cancel := context.WithTimeout(ctx, DefaultConnectTimeout)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		_ = rdb.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%w: %s: %w (%w)", ErrConnect, ro.Addr, ctxErr, err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, ro.Addr, err)
	}
	return &Transport{
		cfg:       cfg,
		log:       cfg.logger,
		opts:      ro,
		rdb:       rdb,
		consumers: make(map[*consumer]struct{}),
	}, nil
}

// StreamKey returns the key of the stream that holds the events of the bus
// topic topic (see the package documentation on topics), for tools that
// read it directly.
func (t *Transport) StreamKey(topic string) string { return streamKey(t.cfg.prefix, topic) }

// Close stops every consumer that Subscribe started and waits, bounded by
// ctx, until their goroutines have returned: a deliver call in progress
// must return first, and each consumer's blocking read in flight must end,
// within the claim interval or a quarter of a second, whichever is
// shorter. Then it closes the client, even when ctx ended first: messages
// delivered and not yet settled can no longer be settled, and their group
// delivers them again after the ack timeout. Publish and Subscribe fail
// with eventbus.ErrBrokerClosed afterwards. Close may be called again, to
// wait once more.
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
			waitErr = fmt.Errorf("eventbus/redis: close: consumers still running: %w", ctx.Err())
		}
		break
	}
	if first {
		if err := t.rdb.Close(); err != nil && waitErr == nil {
			waitErr = fmt.Errorf("eventbus/redis: close: %w", err)
		}
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

// Publish appends m to the topic's stream (XADD, which creates the stream
// on first use) and returns once the server has answered: the entry is
// then in the server's memory, and on disk as the server's persistence
// settings say (see the package documentation). The entry has the fields
// FieldData, FieldID and FieldTime; m.Key is not stored apart from the
// event. With WithMaxLen or WithMaxAge the same request trims the stream.
// Publish fails with ctx's error when ctx ends first (its deadline bounds
// the command; a cancellation is seen between the client's attempts), and
// with an error wrapping ErrRedis when the server cannot be reached or
// refuses the entry. A Publish that failed may still have stored the
// entry, and the server does not deduplicate a retried one.
func (t *Transport) Publish(ctx context.Context, m eventbus.OutgoingMessage) error {
	if err := eventbus.ValidateTopicName(m.Topic); err != nil {
		return fmt.Errorf("eventbus/redis: publish: %w", err)
	}
	if t.isClosed() {
		return fmt.Errorf("eventbus/redis: publish: %w", eventbus.ErrBrokerClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("eventbus/redis: publish to %q: %w", m.Topic, err)
	}
	key := t.StreamKey(m.Topic)
	now := time.Now()
	args := &goredis.XAddArgs{
		Stream: key,
		Values: []any{FieldData, m.Data, FieldID, m.ID.String(), FieldTime, strconv.FormatInt(now.UnixNano(), 10)},
	}
	if t.cfg.binary {
		if values, ok := binaryValues(m.Data, FieldID, m.ID.String(), FieldTime, strconv.FormatInt(now.UnixNano(), 10)); ok {
			args.Values = values
		}
	}
	var err error
	switch {
	case t.cfg.maxLen > 0 && t.cfg.maxAge > 0:
		// XADD takes one trimming strategy: the age goes in a second
		// command of the same round trip.
		args.MaxLen, args.Approx = t.cfg.maxLen, true
		_, err = t.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
			p.XAdd(ctx, args)
			p.XTrimMinIDApprox(ctx, key, t.minID(now), 0)
			return nil
		})
	case t.cfg.maxLen > 0:
		args.MaxLen, args.Approx = t.cfg.maxLen, true
		err = t.rdb.XAdd(ctx, args).Err()
	case t.cfg.maxAge > 0:
		args.MinID, args.Approx = t.minID(now), true
		err = t.rdb.XAdd(ctx, args).Err()
	default:
		err = t.rdb.XAdd(ctx, args).Err()
	}
	if err != nil {
		return commandError(ctx, fmt.Sprintf("publish to %q", m.Topic), err)
	}
	return nil
}

// minID returns the lowest entry ID that WithMaxAge keeps at now.
func (t *Transport) minID(now time.Time) string {
	return strconv.FormatInt(now.Add(-t.cfg.maxAge).UnixMilli(), 10)
}

// commandError wraps the error of a failed command: in ctx's error when
// ctx ended, eventbus.ErrBrokerClosed when the client was closed,
// ErrStreamConflict when the key holds another type, ErrRedis otherwise.
func commandError(ctx context.Context, what string, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %s: %w (%w)", ErrRedis, what, ctx.Err(), err)
	case errors.Is(err, goredis.ErrClosed):
		return fmt.Errorf("eventbus/redis: %s: %w: %w", what, eventbus.ErrBrokerClosed, err)
	case goredis.HasErrorPrefix(err, "WRONGTYPE"):
		return fmt.Errorf("%w: %s: %w", ErrStreamConflict, what, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrRedis, what, err)
}
