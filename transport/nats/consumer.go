package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/busline/eventbus"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// pullExpiry is how long the server keeps a pull request open while it
	// has fewer messages than the request asked for. A stopped consumer
	// waits for its pull request in flight to end, so pullExpiry bounds
	// how long Done takes after Stop; the client gives up on a pull request
	// that brought nothing for pullExpiry and a second more, which bounds
	// how long a pull request lost with the connection or the server goes
	// unnoticed.
	pullExpiry = time.Second
	// setupTimeout bounds each attempt to set the stream and group up again.
	setupTimeout = 10 * time.Second
	// Waits between attempts to set the stream and group up again.
	minRetryWait = 100 * time.Millisecond
	maxRetryWait = 5 * time.Second
	// A consume session that lasted this long resets the wait.
	healthySession = 10 * time.Second
)

// consumer is the eventbus.Consumer that Subscribe and SubscribePattern
// return: one goroutine pulling the durable consumer jscfg.Durable of
// stream.
type consumer struct {
	t      *Transport
	target string // the topic, or the pattern, for logs and errors
	stream streamSpec
	// deliver gets each message with the subject it was published on.
	deliver func(ctx context.Context, subject string, m eventbus.InboundMessage)
	fetch   int // messages fetched ahead at most
	jscfg   jetstream.ConsumerConfig
	start   eventbus.Start // where the group begins if Subscribe creates it
	cancel  context.CancelFunc
	done    chan struct{}
}

// Stop implements eventbus.Consumer: it cancels deliver's ctx, and the
// goroutine stops passing messages to deliver and sends no new pull
// request. It does not wait; see Done.
func (c *consumer) Stop() { c.cancel() }

// Done implements eventbus.Consumer. After Stop it is closed once the
// deliver call in progress, if any, has returned, the pull request in
// flight has ended (within about pullExpiry while the connection holds),
// and every message that the pull brought and that was not passed to
// deliver has been handed back (Nak).
func (c *consumer) Done() <-chan struct{} { return c.done }

// setup makes sure the stream and the durable consumer exist, bounded by ctx.
// A group that Subscribe creates (refresh false) begins at c.start; one set
// up again after it vanished begins with new messages.
func (c *consumer) setup(ctx context.Context, refresh bool) (jetstream.Consumer, error) {
	if err := c.t.ensureStream(ctx, c.stream, refresh); err != nil {
		return nil, err
	}
	start := c.start
	if refresh {
		start = eventbus.Start{}
	}
	return c.createOrResume(ctx, c.stream.name, start)
}

// run consumes until ctx is cancelled by Stop or the connection is closed,
// setting the stream and the group up again whenever consuming fails.
func (c *consumer) run(ctx context.Context, jc jetstream.Consumer) {
	defer close(c.done)
	defer c.t.forget(c)
	log := c.t.log.With("topic", c.target, "group", c.jscfg.Durable)
	wait := minRetryWait
	for {
		started := time.Now()
		err := c.consume(ctx, jc)
		if ctx.Err() != nil {
			return
		}
		if c.t.nc.IsClosed() {
			log.Error("nats: connection closed, consumer stopped", "error", err)
			return
		}
		if time.Since(started) >= healthySession {
			wait = minRetryWait
		}
		log.Warn("nats: consuming failed, setting the group up again", "error", err)
		for {
			if !pause(ctx, wait) {
				return
			}
			wait = min(2*wait, maxRetryWait)
			setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
			jc, err = c.setup(setupCtx, true)
			cancel()
			if err == nil {
				log.Info("nats: group set up again")
				break
			}
			if ctx.Err() != nil {
				return
			}
			if c.t.nc.IsClosed() {
				log.Error("nats: connection closed, consumer stopped", "error", err)
				return
			}
			log.Warn("nats: setting the group up again failed", "error", err)
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

// consume pulls batches of at most c.fetch messages and hands them to
// deliver, until ctx ends or a pull fails in a way that calls for setting
// the group up again. The next batch is asked for only once the previous
// one has gone through deliver, so a blocked deliver stops the fetching and
// no more than c.fetch messages are ever waiting in the client.
//
// Each pull is a Fetch rather than one long-lived Messages iterator: the
// iterator asks for a full batch again after a reconnect while its buffer,
// sized to one batch, still holds messages, and the client then drops the
// overflow, which only comes back after the ack wait.
//
// A pull is never cut short when ctx ends. The client drops, without a
// word, the messages of a Fetch whose context is cancelled that are still
// in its buffer or on their way, and the server goes on sending messages
// to the pull request until it learns that nobody listens any more; each
// of them would come back only after the ack wait. So once ctx has ended,
// consume keeps receiving until the server has ended the pull (the batch
// is complete, or the pull expired after pullExpiry) and only then Naks
// the messages it did not pass to deliver: Nak'ed earlier, a message could
// be sent again to this very pull.
func (c *consumer) consume(ctx context.Context, jc jetstream.Consumer) error {
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		batch, err := jc.Fetch(c.fetch, jetstream.FetchMaxWait(pullExpiry))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		var undelivered []jetstream.Msg
		for msg := range batch.Messages() {
			if ctx.Err() != nil {
				undelivered = append(undelivered, msg)
				continue
			}
			c.deliver(ctx, msg.Subject(), newInbound(msg, c.t.cfg.doubleAck))
		}
		// The pull has ended: the server delivers a Nak'ed message again
		// at once, to another pull request of the group.
		for _, msg := range undelivered {
			c.nak(msg)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch err := batch.Error(); {
		case err == nil:
			// The batch was complete, or the pull expired; or it was lost
			// with the connection or the server, and the client gave up
			// on it. Pull again; if the group is gone, that pull fails
			// with an error that leads to a new setup.
		case errors.Is(err, jetstream.ErrServerShutdown):
			// The client reconnects, to this server once it is back or to
			// another of the cluster; the pull is sent once it has.
			if !pause(ctx, minRetryWait) {
				return ctx.Err()
			}
		default:
			return err
		}
	}
}

func (c *consumer) nak(msg jetstream.Msg) {
	if err := msg.Nak(); err != nil {
		c.t.log.Debug("nats: handing a message back failed; it returns after the ack wait",
			"topic", c.target, "group", c.jscfg.Durable, "error", err)
	}
}

// inbound is the eventbus.InboundMessage of one JetStream delivery.
type inbound struct {
	msg        jetstream.Msg
	data       []byte // the structured-mode document
	malformed  error  // why a binary-mode message is not a valid event
	deliveries int
	doubleAck  bool
}

func newInbound(msg jetstream.Msg, doubleAck bool) *inbound {
	m := &inbound{msg: msg, deliveries: 1, doubleAck: doubleAck}
	m.data, m.malformed = structuredData(msg.Headers(), msg.Data())
	if md, err := msg.Metadata(); err == nil && md.NumDelivered > 0 {
		m.deliveries = int(min(md.NumDelivered, uint64(1<<31-1)))
	}
	return m
}

// Data implements eventbus.InboundMessage: the message's CloudEvent as a
// structured-mode document, converted from binary mode when the message's
// headers carry it that way.
func (m *inbound) Data() []byte { return m.data }

// Malformed implements eventbus.MalformedMessage: why a binary-mode
// message does not make a valid CloudEvent, or nil.
func (m *inbound) Malformed() error { return m.malformed }

// Deliveries implements eventbus.InboundMessage, from the delivery count
// that the server puts in the message's metadata.
func (m *inbound) Deliveries() int { return m.deliveries }

// Ack implements eventbus.InboundMessage. Without WithDoubleAck it queues
// the acknowledgement on the connection and ignores ctx; with it, it waits
// for the server's confirmation, bounded by ctx.
func (m *inbound) Ack(ctx context.Context) error {
	var err error
	if m.doubleAck {
		err = m.msg.DoubleAck(ctx)
	} else {
		err = m.msg.Ack()
	}
	return settleError("ack", err)
}

// Nak implements eventbus.InboundMessage: the server delivers the message
// again after delay (at once for zero). It queues the request on the
// connection and ignores ctx.
func (m *inbound) Nak(_ context.Context, delay time.Duration) error {
	if delay < 0 {
		return fmt.Errorf("%w: negative nak delay %v", ErrInvalidOption, delay)
	}
	var err error
	if delay == 0 {
		err = m.msg.Nak()
	} else {
		err = m.msg.NakWithDelay(delay)
	}
	return settleError("nak", err)
}

func settleError(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, natsgo.ErrConnectionClosed):
		return fmt.Errorf("eventbus/nats: %s: %w: %w", what, eventbus.ErrBrokerClosed, err)
	default:
		return fmt.Errorf("eventbus/nats: %s: %w", what, err)
	}
}
