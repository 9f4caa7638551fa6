package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/busline/eventbus"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// jsSubjectOverlap is the server's error code for a stream whose subjects
// are already captured by another stream.
const jsSubjectOverlap jetstream.ErrorCode = 10065

// Transport is an [eventbus.Transport] over NATS JetStream. Make one with New
// or Connect; it is safe for concurrent use. Close it after closing every
// bus that uses it.
type Transport struct {
	js    jetstream.JetStream
	nc    *natsgo.Conn
	owned bool // the connection was opened by Connect, and Close closes it
	cfg   *config
	log   *slog.Logger

	closeConn sync.Once

	// closed is set under mu, and read without it by the publishes.
	closed  atomic.Bool
	routes  sync.Map // topic name → *route
	streams sync.Map // names of the streams known to be set up → struct{}

	// async publishes the messages of PublishBatch: a JetStream context
	// of the transport's own on nc, so that its pending acknowledgements
	// are those of PublishBatch alone; slots holds a token for each of
	// them (see acquireSlot).
	async jetstream.JetStream
	slots chan struct{}
	// beforeSend, when set by a test, is called by PublishBatch before it
	// sends the message at index i.
	beforeSend func(i int)

	mu        sync.Mutex
	consumers map[*consumer]struct{}
}

var _ eventbus.Transport = (*Transport)(nil)

// New returns a Transport that uses js and its connection, which the caller
// keeps owning: Close does not close it. The connection should reconnect
// forever (nats.MaxReconnects(-1)) for consumers to survive a server
// restart. New checks, bounded by ctx, that JetStream is available to the
// connection's account; the error wraps ErrJetStream if it is not.
// Options that only apply to Connect are reported as invalid.
func New(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Transport, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: nil JetStream", ErrInvalidOption)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.connectOnly != "" {
		return nil, fmt.Errorf("%w: %s applies to Connect only", ErrInvalidOption, cfg.connectOnly)
	}
	t, err := newTransport(js, false, cfg)
	if err != nil {
		return nil, err
	}
	if err := t.probe(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// Connect dials the NATS server(s) at url (a comma-separated list of URLs)
// and returns a Transport that owns the connection: Close closes it. The
// connection reconnects forever, waiting WithReconnectWait between attempts.
// ctx's deadline bounds the dial (DefaultConnectTimeout at most); an
// unreachable server gives an error wrapping ErrConnect and the client's
// error. Like New, Connect then checks that JetStream is available.
func Connect(ctx context.Context, url string, opts ...Option) (*Transport, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if url == "" {
		return nil, fmt.Errorf("%w: empty server URL", ErrInvalidOption)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	timeout := DefaultConnectTimeout
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < timeout {
		timeout = max(time.Until(deadline), time.Millisecond)
	}
	log := cfg.logger
	natsOpts := []natsgo.Option{
		natsgo.Name("eventbus"),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(cfg.reconnectWait),
		natsgo.Timeout(timeout),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err == nil { // closed on purpose
				return
			}
			log.Warn("nats: disconnected", "error", err)
		}),
		natsgo.ReconnectHandler(func(nc *natsgo.Conn) {
			log.Info("nats: reconnected", "url", nc.ConnectedUrlRedacted())
		}),
	}
	natsOpts = append(natsOpts, cfg.natsOptions...)
	nc, err := natsgo.Connect(url, natsOpts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("%w: %w", ErrJetStream, err)
	}
	t, err := newTransport(js, true, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if err := t.probe(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return t, nil
}

func newTransport(js jetstream.JetStream, owned bool, cfg *config) (*Transport, error) {
	t := &Transport{
		js:        js,
		nc:        js.Conn(),
		owned:     owned,
		cfg:       cfg,
		log:       cfg.logger,
		slots:     make(chan struct{}, cfg.maxPendingPublishes),
		consumers: make(map[*consumer]struct{}),
	}
	async, err := jetstream.New(t.nc,
		// The slots keep the pending acknowledgements within
		// maxPendingPublishes, so the client never stalls a publish for
		// want of room; its own limit is set above, as a safeguard only.
		jetstream.WithPublishAsyncMaxPending(2*cfg.maxPendingPublishes),
		// Every publish that the client took ends in one of these.
		jetstream.WithPublishAsyncAckHandler(func(jetstream.JetStream, *natsgo.Msg, *jetstream.PubAck) { t.releaseSlot() }),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *natsgo.Msg, error) { t.releaseSlot() }))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJetStream, err)
	}
	t.async = async
	return t, nil
}

// probe fails fast, with a clear error, when the server has no JetStream.
func (t *Transport) probe(ctx context.Context) error {
	if _, err := t.js.AccountInfo(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("%w: account info: %w", ErrJetStream, ctxErr)
		}
		return fmt.Errorf("%w: account info: %w", ErrJetStream, err)
	}
	return nil
}

// Close stops every consumer that Subscribe started and waits, bounded by
// ctx, until their goroutines have returned: a deliver call in progress
// must return first, and each consumer's pull request in flight must end,
// within about a second. Then, if Connect opened the connection, it
// flushes outstanding acknowledgements and closes it, even when ctx ended
// first.
// Publish and Subscribe fail with eventbus.ErrBrokerClosed afterwards;
// messages already delivered can still be settled while the connection is
// open. Close may be called again, to wait once more.
func (t *Transport) Close(ctx context.Context) error {
	t.mu.Lock()
	t.closed.Store(true)
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
		case <-ctx.Done():
			waitErr = fmt.Errorf("eventbus/nats: close: consumers still running: %w", ctx.Err())
		}
		if waitErr != nil {
			break
		}
	}
	if t.owned {
		t.closeConn.Do(func() {
			if waitErr == nil && t.nc.IsConnected() {
				if err := t.nc.FlushWithContext(ctx); err != nil {
					t.log.Warn("nats: flush before close failed", "error", err)
				}
			}
			t.nc.Close()
		})
	}
	return waitErr
}

func (t *Transport) isClosed() bool { return t.closed.Load() }

// route is what Publish needs to know of a topic, worked out once.
type route struct {
	subject string
	stream  streamSpec
	// expect is the value of the Nats-Expected-Stream header: the stream's
	// name. Messages share it, and nothing modifies it.
	expect []string
}

// routeOf returns the route of topic, a valid topic name.
func (t *Transport) routeOf(topic string) *route {
	if r, ok := t.routes.Load(topic); ok {
		return r.(*route)
	}
	spec := t.cfg.streamOf(topic)
	r := &route{subject: subjectFor(t.cfg.prefix, topic), stream: spec, expect: []string{spec.name}}
	actual, _ := t.routes.LoadOrStore(topic, r)
	return actual.(*route)
}

// message sets msg to the NATS message that carries m on r's subject:
// m.Data as the body, or in binary mode its attributes as headers, and,
// unless deduplication is off, m.ID as the message ID and r's stream as
// the one expected to store it. idValue, when not nil, is a slice of
// length one to hold the message ID header's value.
func (t *Transport) message(msg *natsgo.Msg, m *eventbus.OutgoingMessage, r *route, idValue []string) {
	var h natsgo.Header
	data := m.Data
	dedup := !t.cfg.noDedup
	if t.cfg.binary {
		extra := 0
		if dedup {
			extra = 2
		}
		h, data = binaryMsg(m.Data, extra)
	}
	if dedup {
		if idValue == nil {
			idValue = make([]string, 1)
		}
		idValue[0] = m.ID.String()
		if h == nil {
			h = make(natsgo.Header, 2)
		}
		// The headers that jetstream.WithMsgID and WithExpectStream set,
		// without the cost of per-publish options.
		h[jetstream.MsgIDHeader] = idValue
		h[jetstream.ExpectedStreamHeader] = r.expect
	}
	*msg = natsgo.Msg{Subject: r.subject, Header: h, Data: data}
}

// Publish stores m's Data on the topic's stream, creating the stream on
// first use, and returns once the server has acknowledged it. m.ID becomes
// the message ID the server deduplicates on: publishing the same ID again
// within the duplicate window stores nothing new and succeeds. When Publish
// fails, including when ctx ends first, the message may still have been
// stored; publish it again with the same ID. m.Key is not used: see the
// package documentation on ordering.
func (t *Transport) Publish(ctx context.Context, m eventbus.OutgoingMessage) error {
	if err := eventbus.ValidateTopicName(m.Topic); err != nil {
		return fmt.Errorf("eventbus/nats: publish: %w", err)
	}
	if t.isClosed() {
		return fmt.Errorf("eventbus/nats: publish: %w", eventbus.ErrBrokerClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("eventbus/nats: publish to %q: %w", m.Topic, err)
	}
	r := t.routeOf(m.Topic)
	spec := r.stream
	out := new(struct {
		msg natsgo.Msg
		id  [1]string
	}) // one allocation for both
	msg := &out.msg
	t.message(msg, &m, r, out.id[:])
	for attempt := 0; ; attempt++ {
		if err := t.ensureStream(ctx, spec, attempt > 0); err != nil {
			return err
		}
		_, err := t.js.PublishMsg(ctx, msg)
		if err == nil {
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("eventbus/nats: publish to %q: %w (%w)", m.Topic, ctxErr, err)
		}
		// No stream answered: it was deleted behind the transport's
		// back (or lost with a memory-storage server); set it up again once.
		if errors.Is(err, jetstream.ErrNoStreamResponse) && attempt == 0 {
			t.forgetStream(spec.name)
			continue
		}
		if t.nc.IsClosed() {
			return fmt.Errorf("eventbus/nats: publish to %q: %w: %w", m.Topic, eventbus.ErrBrokerClosed, err)
		}
		return fmt.Errorf("%w: publish to %q: %w", ErrJetStream, m.Topic, err)
	}
}

// Subscribe creates or updates the durable pull consumer of the group
// c.Group on the topic's stream (creating the stream too on first use) and
// starts consuming it from one goroutine of its own. The consumer is named
// c.Group, or, with WithSharedStream, after the group and the topic, and
// reads only the topic's subject (see the package documentation on
// layouts). A group created here starts where c.Start says (by default
// with the events published after Subscribe returns; see the package
// documentation on replay), or fails with a *eventbus.NotRetainedError if
// the stream no longer holds the events from there on; an existing group
// resumes where it stopped. Subscriptions of one group, in this process or
// others, share its events: each goes to one of them.
//
// The goroutine keeps at most c.MaxInFlight messages fetched ahead of the
// deliver call in progress and calls deliver for one message at a time, in
// the order the server hands them over. It survives reconnections and sets
// the stream and group up again if they disappear from the server. When
// the consumer stops, it lets its pull request in flight end (within a
// second) and then hands every message of that pull that it did not pass
// to deliver back to the server (Nak), for prompt redelivery to the
// group's other subscriptions; its Done is closed then. See the package
// documentation.
func (t *Transport) Subscribe(ctx context.Context, c eventbus.ConsumerConfig, deliver func(ctx context.Context, m eventbus.InboundMessage)) (eventbus.Consumer, error) {
	if err := eventbus.ValidateTopicName(c.Topic); err != nil {
		return nil, fmt.Errorf("eventbus/nats: subscribe: %w", err)
	}
	if err := t.checkConsumer(ctx, c, deliver == nil); err != nil {
		return nil, err
	}
	spec := t.cfg.streamOf(c.Topic)
	description := "eventbus subscriber " + c.Group
	var filter string
	if t.cfg.shared() {
		// One stream holds every topic: the group reads its topic's subject.
		description += " of topic " + c.Topic
		filter = subjectFor(t.cfg.prefix, c.Topic)
	}
	cons := t.newConsumer(c, c.Topic, spec, t.cfg.durableFor(c.Group, c.Topic), description, filter,
		func(ctx context.Context, _ string, m eventbus.InboundMessage) { deliver(ctx, m) })
	return t.startConsumer(ctx, cons)
}

// checkConsumer checks what Subscribe and SubscribePattern take besides
// the topic or pattern, and that the transport is open and ctx is not done.
func (t *Transport) checkConsumer(ctx context.Context, c eventbus.ConsumerConfig, nilDeliver bool) error {
	if err := eventbus.ValidateSubscriberName(c.Group); err != nil {
		return fmt.Errorf("eventbus/nats: subscribe: %w", err)
	}
	switch {
	case nilDeliver:
		return fmt.Errorf("%w: nil deliver func", ErrInvalidOption)
	case c.MaxInFlight < 0:
		return fmt.Errorf("%w: MaxInFlight %d, want >= 0", ErrInvalidOption, c.MaxInFlight)
	case c.MaxDeliveries < 0:
		return fmt.Errorf("%w: MaxDeliveries %d, want >= 0", ErrInvalidOption, c.MaxDeliveries)
	case c.AckTimeout < 0:
		return fmt.Errorf("%w: AckTimeout %v, want >= 0", ErrInvalidOption, c.AckTimeout)
	}
	if err := validStart(c.Start); err != nil {
		return err
	}
	if t.isClosed() {
		return fmt.Errorf("eventbus/nats: subscribe: %w", eventbus.ErrBrokerClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("eventbus/nats: subscribe to %q: %w", c.Topic, err)
	}
	return nil
}

// newConsumer returns the consumer of c's group, under the durable name
// durable, of the messages of spec's stream on subject filter (all of
// them if filter is empty).
func (t *Transport) newConsumer(c eventbus.ConsumerConfig, target string, spec streamSpec, durable, description, filter string,
	deliver func(ctx context.Context, subject string, m eventbus.InboundMessage)) *consumer {
	maxInFlight := c.MaxInFlight
	if maxInFlight == 0 {
		maxInFlight = DefaultMaxInFlight
	}
	ackWait := c.AckTimeout
	if ackWait == 0 {
		ackWait = t.cfg.ackWait
	}
	return &consumer{
		t:       t,
		target:  target,
		stream:  spec,
		deliver: deliver,
		fetch:   maxInFlight,
		jscfg: jetstream.ConsumerConfig{
			Durable:       durable,
			Description:   description,
			FilterSubject: filter,
			AckPolicy:     jetstream.AckExplicitPolicy,
			DeliverPolicy: jetstream.DeliverNewPolicy,
			AckWait:       ackWait,
			// The bus counts deliveries and acknowledges the last one
			// it allows itself, so the server never gives up on a message.
			MaxDeliver:    -1,
			MaxAckPending: max(t.cfg.maxAckPending, 4*maxInFlight),
		},
		start: c.Start,
		done:  make(chan struct{}),
	}
}

// startConsumer sets cons's stream and group up, bounded by ctx, and
// starts its goroutine.
func (t *Transport) startConsumer(ctx context.Context, cons *consumer) (eventbus.Consumer, error) {
	jc, err := cons.setup(ctx, false)
	if err != nil {
		return nil, err
	}

	// The consumer outlives ctx, which bounds the setup only.
	runCtx, cancel := context.WithCancel(context.Background())
	cons.cancel = cancel
	t.mu.Lock()
	if t.closed.Load() {
		t.mu.Unlock()
		cancel()
		return nil, fmt.Errorf("eventbus/nats: subscribe: %w", eventbus.ErrBrokerClosed)
	}
	t.consumers[cons] = struct{}{}
	t.mu.Unlock()
	go cons.run(runCtx, jc)
	return cons, nil
}

func (t *Transport) forget(c *consumer) {
	t.mu.Lock()
	delete(t.consumers, c)
	t.mu.Unlock()
}

func (t *Transport) forgetStream(name string) {
	t.streams.Delete(name)
}

// ensureStream returns once the stream spec exists with the transport's
// configuration. Known streams are cached; refresh skips the cache.
// Concurrent first calls may both ask the server, which is harmless.
func (t *Transport) ensureStream(ctx context.Context, spec streamSpec, refresh bool) error {
	if !refresh {
		if _, known := t.streams.Load(spec.name); known {
			return nil
		}
	}
	want := jetstream.StreamConfig{
		Name:        spec.name,
		Description: spec.description,
		Subjects:    []string{spec.subject},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     t.cfg.storage,
		Replicas:    t.cfg.replicas,
		MaxAge:      t.cfg.maxAge,
		MaxBytes:    -1,
		MaxMsgs:     -1,
		Duplicates:  t.cfg.duplicateWindow,
	}
	if t.cfg.maxBytes > 0 {
		want.MaxBytes = t.cfg.maxBytes
	}
	if err := t.setupStream(ctx, want); err != nil {
		return err
	}
	t.streams.Store(spec.name, struct{}{})
	return nil
}

func (t *Transport) setupStream(ctx context.Context, want jetstream.StreamConfig) error {
	// Two rounds: a create that loses a race with another process finds
	// the stream on the second look.
	for range 2 {
		s, err := t.js.Stream(ctx, want.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			_, err = t.js.CreateStream(ctx, want)
			if err == nil {
				t.log.Info("nats: created stream", "stream", want.Name, "subject", want.Subjects[0])
				return nil
			}
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				continue
			}
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == jsSubjectOverlap {
				return fmt.Errorf("%w: another stream already captures subject %q: %w", ErrStreamConflict, want.Subjects[0], err)
			}
			return t.requestError(ctx, "create stream "+want.Name, err)
		}
		if err != nil {
			return t.requestError(ctx, "look up stream "+want.Name, err)
		}
		return t.reconcileStream(ctx, s.CachedInfo().Config, want)
	}
	return fmt.Errorf("%w: stream %q keeps appearing and vanishing", ErrJetStream, want.Name)
}

// reconcileStream accepts an existing stream that is the topic's, updating
// its limits to the transport's options, and refuses one that is not or
// that cannot be turned into it.
func (t *Transport) reconcileStream(ctx context.Context, have, want jetstream.StreamConfig) error {
	subject := want.Subjects[0]
	switch {
	case !slices.Contains(have.Subjects, subject):
		return fmt.Errorf("%w: stream %q exists with subjects %v, not %q", ErrStreamConflict, have.Name, have.Subjects, subject)
	case have.Storage != want.Storage:
		return fmt.Errorf("%w: stream %q exists with %s storage, not %s", ErrStreamConflict, have.Name, have.Storage, want.Storage)
	case have.Retention != want.Retention:
		return fmt.Errorf("%w: stream %q exists with %s retention, not %s", ErrStreamConflict, have.Name, have.Retention, want.Retention)
	}
	if have.MaxAge == want.MaxAge && have.MaxBytes == want.MaxBytes &&
		have.Replicas == want.Replicas && have.Duplicates == want.Duplicates {
		return nil
	}
	upd := have
	upd.MaxAge, upd.MaxBytes, upd.Replicas, upd.Duplicates = want.MaxAge, want.MaxBytes, want.Replicas, want.Duplicates
	if _, err := t.js.UpdateStream(ctx, upd); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("%w: update stream %q: %w", ErrJetStream, have.Name, ctxErr)
		}
		return fmt.Errorf("%w: stream %q exists with other limits and cannot be updated: %w", ErrStreamConflict, have.Name, err)
	}
	t.log.Info("nats: updated stream limits", "stream", have.Name,
		"max_age", want.MaxAge, "max_bytes", want.MaxBytes, "replicas", want.Replicas, "duplicates", want.Duplicates)
	return nil
}

// requestError wraps the error of a failed JetStream request, putting ctx's
// error first when ctx ended, so that callers can match it.
func (t *Transport) requestError(ctx context.Context, what string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w: %s: %w (%w)", ErrJetStream, what, ctxErr, err)
	}
	if t.nc.IsClosed() {
		return fmt.Errorf("%w: %s: %w: %w", ErrJetStream, what, eventbus.ErrBrokerClosed, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrJetStream, what, err)
}
