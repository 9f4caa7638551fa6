package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/busline/eventbus"
	amqp "github.com/rabbitmq/amqp091-go"
)

// contentType is the content type of every message the Transport
// publishes: the body is a CloudEvents 1.0 JSON document.
const contentType = "application/cloudevents+json"

// Transport is an [eventbus.Transport] over RabbitMQ. Make one with
// Connect; it is safe for concurrent use. Close it after closing every bus
// that uses it.
type Transport struct {
	cfg  *config
	log  *slog.Logger
	link *link
	pub  *publisher
	adm  *admin

	mu        sync.Mutex
	closed    bool
	consumers map[*consumer]struct{}

	// detached counts the goroutines of requests that bounded gave up
	// waiting for.
	detached sync.WaitGroup
}

var (
	_ eventbus.Transport        = (*Transport)(nil)
	_ eventbus.PatternTransport = (*Transport)(nil)
)

// Connect dials the RabbitMQ server at url ("amqp://user:pass@host:5672/vhost")
// and returns a Transport that owns the connection: Close closes it. ctx's
// deadline bounds the dial (DefaultConnectTimeout at most); an unreachable
// server, or one that refuses the credentials or the virtual host, gives
// an error wrapping ErrConnect and the client's error. Connect also
// declares the exchange, which fails with ErrRefused if one of that name
// exists with another type. Once connected, the Transport reconnects by
// itself whenever the connection is lost (see WithReconnectWait).
func Connect(ctx context.Context, url string, opts ...Option) (*Transport, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if url == "" {
		return nil, fmt.Errorf("%w: empty server URL", ErrInvalidOption)
	}
	if _, err := amqp.ParseURI(url); err != nil {
		return nil, fmt.Errorf("%w: server URL: %w", ErrInvalidOption, err)
	}
	l, err := dialLink(ctx, url, cfg)
	if err != nil {
		return nil, err
	}
	t := &Transport{cfg: cfg, log: cfg.logger, link: l, consumers: make(map[*consumer]struct{})}
	t.pub = newPublisher(t)
	t.adm = &admin{t: t}
	// Opening the publishing channel declares the exchange.
	if _, err := t.pub.channel(ctx); err != nil {
		l.close()
		return nil, err
	}
	return t, nil
}

// Close stops every consumer that Subscribe and SubscribePattern started
// and waits, bounded by ctx, until their goroutines have returned (a
// deliver call in progress must return first); then it closes the
// connection, even when ctx ended first. The server delivers again, to the
// group's other consumers, every message delivered here and not settled by
// then. Publish and Subscribe fail with eventbus.ErrBrokerClosed
// afterwards, and so do Ack and Nak. Close may be called again, to wait
// once more.
func (t *Transport) Close(ctx context.Context) error {
	t.mu.Lock()
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
		case <-ctx.Done():
			waitErr = fmt.Errorf("eventbus/rabbitmq: close: consumers still running: %w", ctx.Err())
		}
		if waitErr != nil {
			break
		}
	}
	t.pub.close()
	t.adm.close()
	t.link.close()
	t.detached.Wait() // the lost connection ended their requests
	return waitErr
}

func (t *Transport) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// Publish sends m.Data to the exchange with the topic's name as routing
// key, as a persistent message whose message ID is m.ID, and returns once
// the server has confirmed it: stored in every queue bound to the topic
// (every group of the topic). It waits for the connection while the
// Transport reconnects, bounded by ctx. Publish fails with ErrNacked when
// the server refuses the message, with ErrUnroutable under WithMandatory
// when the topic has no group, and with ErrUnavailable when ctx ends first
// or the connection is lost before the confirm: the server may then have
// stored the message, and publishing it again may deliver it twice. m.Key
// is not sent: see the package documentation on ordering.
func (t *Transport) Publish(ctx context.Context, m eventbus.OutgoingMessage) error {
	if err := eventbus.ValidateTopicName(m.Topic); err != nil {
		return fmt.Errorf("eventbus/rabbitmq: publish: %w", err)
	}
	if t.isClosed() {
		return fmt.Errorf("eventbus/rabbitmq: publish: %w", eventbus.ErrBrokerClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("eventbus/rabbitmq: publish to %q: %w", m.Topic, err)
	}
	msg := amqp.Publishing{
		ContentType:  contentType,
		DeliveryMode: amqp.Persistent,
		MessageId:    m.ID.String(),
		Body:         m.Data,
	}
	if t.cfg.binary {
		binaryPublishing(&msg, m.Data)
	}
	return t.pub.publish(ctx, t.cfg.exchange, m.Topic, msg)
}

// Subscribe declares the group's quorum queue, named
// "<exchange>/<topic>/<group>", binds it to the exchange with the topic's
// name, and starts consuming it, with a prefetch of c.MaxInFlight, on a
// channel and a goroutine of its own; it returns once the server has
// registered the consumer, so the group gets every event published after
// Subscribe returns. Subscriptions of one group, in this process or others,
// are competing consumers (or, under WithSingleActiveConsumer, one active
// and the others waiting). The goroutine survives reconnections, declaring
// the queue and the binding again. c.Start must be zero: the Transport
// does not replay, and a start in the past fails with an error matching
// errors.ErrUnsupported. c.AckTimeout is not used: see the package
// documentation on acknowledgements.
func (t *Transport) Subscribe(ctx context.Context, c eventbus.ConsumerConfig, deliver func(ctx context.Context, m eventbus.InboundMessage)) (eventbus.Consumer, error) {
	if err := eventbus.ValidateTopicName(c.Topic); err != nil {
		return nil, fmt.Errorf("eventbus/rabbitmq: subscribe: %w", err)
	}
	if err := t.checkConsumer(ctx, c, deliver == nil); err != nil {
		return nil, err
	}
	cons := t.newConsumer(c, c.Topic, queueNameFor(t.cfg.exchange, c.Topic, c.Group, ""), c.Topic,
		func(ctx context.Context, _ string, m eventbus.InboundMessage) { deliver(ctx, m) })
	return t.startConsumer(ctx, cons)
}

// checkConsumer checks what Subscribe and SubscribePattern take besides
// the topic or pattern, and that the transport is open and ctx is not done.
func (t *Transport) checkConsumer(ctx context.Context, c eventbus.ConsumerConfig, nilDeliver bool) error {
	if err := eventbus.ValidateSubscriberName(c.Group); err != nil {
		return fmt.Errorf("eventbus/rabbitmq: subscribe: %w", err)
	}
	switch {
	case nilDeliver:
		return fmt.Errorf("%w: nil deliver func", ErrInvalidOption)
	case c.MaxInFlight < 0 || c.MaxInFlight > MaxPrefetch:
		return fmt.Errorf("%w: MaxInFlight %d, want 0 to %d", ErrInvalidOption, c.MaxInFlight, MaxPrefetch)
	case c.MaxDeliveries < 0:
		return fmt.Errorf("%w: MaxDeliveries %d, want >= 0", ErrInvalidOption, c.MaxDeliveries)
	case c.AckTimeout < 0:
		return fmt.Errorf("%w: AckTimeout %v, want >= 0", ErrInvalidOption, c.AckTimeout)
	case !c.Start.IsZero():
		return fmt.Errorf("eventbus/rabbitmq: subscribe %q to %q at %s: %w: the transport does not replay; groups start with the events published after Subscribe",
			c.Group, c.Topic, c.Start, errors.ErrUnsupported)
	}
	if t.isClosed() {
		return fmt.Errorf("eventbus/rabbitmq: subscribe: %w", eventbus.ErrBrokerClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("eventbus/rabbitmq: subscribe to %q: %w", c.Topic, err)
	}
	return nil
}

// startConsumer sets cons up, bounded by ctx, and starts its goroutine.
func (t *Transport) startConsumer(ctx context.Context, cons *consumer) (eventbus.Consumer, error) {
	sess, err := cons.setup(ctx)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		sess.retire()
		return nil, fmt.Errorf("eventbus/rabbitmq: subscribe: %w", eventbus.ErrBrokerClosed)
	}
	t.consumers[cons] = struct{}{}
	t.mu.Unlock()
	go cons.run(sess)
	return cons, nil
}

func (t *Transport) forget(c *consumer) {
	t.mu.Lock()
	delete(t.consumers, c)
	t.mu.Unlock()
}

// declareExchange declares the durable topic exchange on ch.
func (t *Transport) declareExchange(ctx context.Context, ch *amqp.Channel) error {
	if err := ch.ExchangeDeclare(t.cfg.exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return t.amqpError(ctx, fmt.Sprintf("declare exchange %q", t.cfg.exchange), err)
	}
	return nil
}

// amqpError wraps the error of a failed AMQP request: ErrRefused for a
// channel closed by the server's refusal (an *amqp.Error the server sent
// that is not about the connection), ErrUnavailable for a lost connection
// or an ended ctx, eventbus.ErrBrokerClosed once the Transport is closed.
func (t *Transport) amqpError(ctx context.Context, what string, err error) error {
	var ae *amqp.Error
	switch {
	case errors.As(err, &ae) && ae.Server && !isConnectionError(ae):
		return fmt.Errorf("%w: %s: %w", ErrRefused, what, err)
	case t.isClosed():
		return fmt.Errorf("eventbus/rabbitmq: %s: %w: %w", what, eventbus.ErrBrokerClosed, err)
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %s: %w (%w)", ErrUnavailable, what, ctx.Err(), err)
	default:
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
}

// isConnectionError reports whether the server's error closed the
// connection rather than a channel: a shutdown, a forced close.
func isConnectionError(e *amqp.Error) bool {
	switch e.Code {
	case amqp.ConnectionForced, amqp.InternalError, amqp.FrameError, amqp.SyntaxError,
		amqp.CommandInvalid, amqp.ChannelError, amqp.UnexpectedFrame, amqp.ResourceError, amqp.NotAllowed, amqp.NotImplemented:
		return true
	}
	return false
}
