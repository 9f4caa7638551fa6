package rabbitmq

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/busline/eventbus"
	amqp "github.com/rabbitmq/amqp091-go"
)

const (
	// setupTimeout bounds each attempt to set a consumer up again after
	// the connection or its channel was lost.
	setupTimeout = 10 * time.Second
	// cancelTimeout bounds the wait for the server to confirm that a
	// stopped consumer is cancelled; past it the channel is closed (once
	// the server answers or the connection is lost), which puts its
	// unsettled messages back in the queue.
	cancelTimeout = 10 * time.Second
)

// consumerTag is the tag of every consumer: each has a channel of its own.
const consumerTag = "eventbus"

// consumer is the eventbus.Consumer that Subscribe and SubscribePattern
// return: one goroutine consuming the group's queue on a channel of its
// own, set up again on a new channel whenever that is lost.
type consumer struct {
	t        *Transport
	target   string // the topic, or the pattern, for logs and errors
	queue    string // the group's queue
	key      string // the routing key that binds it
	prefetch int
	deliver  func(ctx context.Context, topic string, m eventbus.InboundMessage)

	ctx    context.Context // cancelled by Stop
	cancel context.CancelFunc
	done   chan struct{}
}

func (t *Transport) newConsumer(c eventbus.ConsumerConfig, target, queue, key string,
	deliver func(ctx context.Context, topic string, m eventbus.InboundMessage)) *consumer {
	prefetch := c.MaxInFlight
	if prefetch == 0 {
		prefetch = DefaultPrefetch
	}
	// The consumer outlives Subscribe's ctx, which bounds the setup only.
	ctx, cancel := context.WithCancel(context.Background())
	return &consumer{t: t, target: target, queue: queue, key: key, prefetch: prefetch, deliver: deliver,
		ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// Stop implements eventbus.Consumer: it cancels deliver's ctx, and the
// goroutine, once the deliver call in progress has returned, cancels the
// server's consumer and hands back (basic.nack with requeue) the messages
// the server had sent ahead and that were not passed to deliver. It does
// not wait; see Done.
func (c *consumer) Stop() { c.cancel() }

// Done implements eventbus.Consumer: it is closed once the goroutine has
// returned after Stop, or after Close of the Transport.
func (c *consumer) Done() <-chan struct{} { return c.done }

// session is one consuming channel of a consumer. It stays open after the
// consumer has moved on (stopped, or lost it) until every message it
// delivered is settled, so that Ack and Nak of those still reach the
// server; a message can only be settled on the channel that delivered it.
type session struct {
	c          *consumer
	ch         *amqp.Channel
	deliveries <-chan amqp.Delivery

	mu          sync.Mutex
	outstanding int  // messages passed to deliver and not yet settled
	retired     bool // the consumer no longer reads from it
	closing     bool // bounded closes the channel, once its request returns
}

// setup opens a channel on the current connection, declares the exchange,
// the group's queue and its binding, sets the prefetch and starts
// consuming, bounded by ctx.
func (c *consumer) setup(ctx context.Context) (*session, error) {
	conn, _, err := c.t.link.current(ctx)
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, c.t.amqpError(ctx, "open a channel", err)
	}
	var deliveries <-chan amqp.Delivery
	err = c.t.bounded(ctx, ch, "set up the consumer", func() error {
		if err := c.t.declareExchange(ctx, ch); err != nil {
			return err
		}
		args := amqp.Table{amqp.QueueTypeArg: amqp.QueueTypeQuorum}
		if c.t.cfg.singleActive {
			args[amqp.SingleActiveConsumerArg] = true
		}
		if _, err := ch.QueueDeclare(c.queue, true, false, false, false, args); err != nil {
			return c.t.amqpError(ctx, fmt.Sprintf("declare queue %q", c.queue), err)
		}
		if err := ch.QueueBind(c.queue, c.key, c.t.cfg.exchange, false, nil); err != nil {
			return c.t.amqpError(ctx, fmt.Sprintf("bind queue %q to %q", c.queue, c.key), err)
		}
		if err := ch.Qos(c.prefetch, 0, false); err != nil {
			return c.t.amqpError(ctx, fmt.Sprintf("set prefetch %d", c.prefetch), err)
		}
		if err := ctx.Err(); err != nil {
			return err // given up: no consuming on a channel to be closed
		}
		d, err := ch.Consume(c.queue, consumerTag, false, false, false, false, nil)
		if err != nil {
			return c.t.amqpError(ctx, fmt.Sprintf("consume queue %q", c.queue), err)
		}
		deliveries = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &session{c: c, ch: ch, deliveries: deliveries}, nil
}

// run consumes until Stop, setting the consumer up again, with a growing
// wait, whenever its channel is lost; it ends when Stop is called or the
// Transport is closed.
func (c *consumer) run(sess *session) {
	defer close(c.done)
	defer c.t.forget(c)
	log := c.t.log.With("target", c.target, "queue", c.queue)
	for {
		lost := sess.consume()
		sess.retire()
		if !lost {
			return
		}
		log.Warn("eventbus/rabbitmq: consumer's channel lost, setting it up again")
		wait := c.t.cfg.minWait
		for {
			ctx, cancel := context.WithTimeout(c.ctx, setupTimeout)
			next, err := c.setup(ctx)
			cancel()
			if err == nil {
				sess = next
				log.Info("eventbus/rabbitmq: consumer set up again")
				break
			}
			if c.ctx.Err() != nil || c.t.isClosed() {
				return
			}
			log.Warn("eventbus/rabbitmq: setting the consumer up again failed", "error", err, "retry_in", wait)
			if !pause(c.ctx, wait) {
				return
			}
			wait = min(2*wait, c.t.cfg.maxWait)
		}
	}
}

// pause waits d, reporting false if ctx ended first.
func pause(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// consume passes the session's deliveries to deliver, one at a time,
// until the channel is lost (it reports true) or the consumer is stopped
// (false). On Stop it cancels the server's consumer and hands back the
// messages that the server had sent and that were not passed to deliver.
func (s *session) consume() (lost bool) {
	c := s.c
	for {
		select {
		case d, ok := <-s.deliveries:
			if !ok {
				return c.ctx.Err() == nil && !c.t.isClosed()
			}
			if c.ctx.Err() != nil {
				s.handBack(d)
				continue
			}
			s.mu.Lock()
			s.outstanding++
			s.mu.Unlock()
			c.deliver(c.ctx, topicOf(d), newInbound(s, d))
		case <-c.ctx.Done():
			// The server sends nothing more once the cancel is confirmed,
			// and the client then closes deliveries after the messages
			// it buffered. If the cancel fails or goes unanswered, the
			// channel is closed, which hands the messages back.
			ctx, cancel := context.WithTimeout(context.Background(), cancelTimeout)
			err := c.t.bounded(ctx, s.ch, "cancel the consumer", func() error { return s.ch.Cancel(consumerTag, false) })
			cancel()
			if err != nil {
				c.t.log.Debug("eventbus/rabbitmq: cancelling the consumer", "queue", c.queue, "error", err)
				s.mu.Lock()
				s.closing = true
				s.mu.Unlock()
				return false
			}
			for d := range s.deliveries {
				s.handBack(d)
			}
			return false
		}
	}
}

// handBack returns a message not passed to deliver to the queue, for the
// group's other consumers.
func (s *session) handBack(d amqp.Delivery) {
	if err := s.ch.Nack(d.DeliveryTag, false, true); err != nil {
		s.c.t.log.Debug("eventbus/rabbitmq: handing a message back failed; the server requeues it with the channel",
			"queue", s.c.queue, "error", err)
	}
}

// retire marks the session as no longer read from, and closes its channel
// once every message it delivered is settled.
func (s *session) retire() {
	s.mu.Lock()
	s.retired = true
	idle := s.outstanding == 0
	s.mu.Unlock()
	if idle {
		s.closeChannel()
	}
}

// settled records that one of the session's messages was settled, and
// closes the channel if it was the last one of a retired session.
func (s *session) settled() {
	s.mu.Lock()
	s.outstanding--
	idle := s.retired && s.outstanding == 0
	s.mu.Unlock()
	if idle {
		s.closeChannel()
	}
}

// closeChannel closes the channel, unless bounded does.
func (s *session) closeChannel() {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return
	}
	if err := s.ch.Close(); err != nil && !s.ch.IsClosed() {
		s.c.t.log.Debug("eventbus/rabbitmq: closing a consumer's channel", "queue", s.c.queue, "error", err)
	}
}
