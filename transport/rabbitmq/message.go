package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/busline/eventbus"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Headers of the messages the Transport hands back after a delay (see
// Nak): the server's own delivery count starts again at zero for such a
// copy, so it carries the deliveries of the message so far, and the topic
// its routing key no longer holds.
const (
	headerDeliveries = "x-eventbus-deliveries"
	headerTopic      = "x-eventbus-topic"
	// headerDeliveryCount is the quorum queue's count of the times it
	// delivered the message before and got it back.
	headerDeliveryCount = "x-delivery-count"
)

// inbound is the eventbus.InboundMessage of one delivery.
type inbound struct {
	s          *session
	d          amqp.Delivery
	topic      string
	data       []byte // the structured-mode document
	malformed  error  // why a binary-mode message is not a valid event
	deliveries int
	settled    atomic.Bool
}

func newInbound(s *session, d amqp.Delivery) *inbound {
	n := 1 + headerInt(d.Headers, headerDeliveryCount) + headerInt(d.Headers, headerDeliveries)
	if d.Redelivered && n < 2 {
		n = 2
	}
	m := &inbound{s: s, d: d, topic: topicOf(d), deliveries: n}
	m.data, m.malformed = structuredData(d)
	return m
}

// topicOf returns the topic a delivery was published on: its routing key,
// or, for a copy handed back after a delay, the header that keeps it.
func topicOf(d amqp.Delivery) string {
	if topic, ok := d.Headers[headerTopic].(string); ok && topic != "" {
		return topic
	}
	return d.RoutingKey
}

// headerInt returns the integer header name of h, or 0.
func headerInt(h amqp.Table, name string) int {
	switch v := h[name].(type) {
	case int64:
		return int(max(v, 0))
	case int32:
		return int(max(v, 0))
	case int16:
		return int(max(v, 0))
	case int8:
		return int(max(v, 0))
	case int:
		return max(v, 0)
	case uint8:
		return int(v)
	case uint16:
		return int(v)
	case uint32:
		return int(v)
	}
	return 0
}

// Data implements eventbus.InboundMessage: the message's CloudEvent as a
// structured-mode document, its body or, for a binary-mode message, made of
// its headers, content type and body.
func (m *inbound) Data() []byte { return m.data }

// Malformed implements eventbus.MalformedMessage: why a binary-mode
// message does not make a valid CloudEvent, or nil.
func (m *inbound) Malformed() error { return m.malformed }

// Deliveries implements eventbus.InboundMessage: one more than the quorum
// queue's count of earlier deliveries (its x-delivery-count header), plus
// the deliveries before the message was handed back after a delay (see
// Nak).
func (m *inbound) Deliveries() int { return m.deliveries }

// Ack implements eventbus.InboundMessage with basic.ack on the channel that
// delivered the message. It does not wait for the server, which confirms
// no acknowledgement, and ignores ctx. If that channel is gone (the
// connection was lost), it fails with ErrUnavailable: the server has put
// the message back in the queue and delivers it again, so an Ack never
// reaches another delivery.
func (m *inbound) Ack(_ context.Context) error {
	if err := m.settle("ack"); err != nil {
		return err
	}
	defer m.s.settled()
	if err := m.s.ch.Ack(m.d.DeliveryTag, false); err != nil {
		return m.settleError("ack", err)
	}
	return nil
}

// Nak implements eventbus.InboundMessage. With a zero delay it is
// basic.nack with requeue: the queue delivers the message again at once
// and counts the delivery. With a delay, RabbitMQ having no delayed nack,
// it publishes a copy of the message, with its delivery count and topic in
// headers, to the group's delay queue for that delay (see the package
// documentation), waits for the server's confirm, bounded by ctx, and
// then acknowledges the delivery; the copy comes back to the group's
// queue once the delay is over. If the copy cannot be stored, Nak hands
// the message back at once instead and returns the error.
func (m *inbound) Nak(ctx context.Context, delay time.Duration) error {
	if delay < 0 {
		return fmt.Errorf("%w: negative nak delay %v", ErrInvalidOption, delay)
	}
	if err := m.settle("nak"); err != nil {
		return err
	}
	defer m.s.settled()
	if delay > 0 {
		err := m.s.c.t.adm.delay(ctx, m.s.c.queue, m, delay)
		if err == nil {
			if err := m.s.ch.Ack(m.d.DeliveryTag, false); err != nil {
				return m.settleError("nak: acknowledge the delivery whose copy waits in the delay queue", err)
			}
			return nil
		}
		if nackErr := m.s.ch.Nack(m.d.DeliveryTag, false, true); nackErr != nil {
			return errors.Join(err, m.settleError("nak", nackErr))
		}
		return fmt.Errorf("eventbus/rabbitmq: nak after %v: handed back at once: %w", delay, err)
	}
	if err := m.s.ch.Nack(m.d.DeliveryTag, false, true); err != nil {
		return m.settleError("nak", err)
	}
	return nil
}

// settle refuses to settle a message twice: a second basic.ack of a
// delivery tag would close the channel.
func (m *inbound) settle(what string) error {
	if !m.settled.CompareAndSwap(false, true) {
		return fmt.Errorf("eventbus/rabbitmq: %s: %w", what, ErrSettled)
	}
	return nil
}

func (m *inbound) settleError(what string, err error) error {
	if m.s.c.t.isClosed() {
		return fmt.Errorf("eventbus/rabbitmq: %s: %w: %w", what, eventbus.ErrBrokerClosed, err)
	}
	if errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("%w: %s: the channel that delivered the message was lost, and the server delivers it again: %w", ErrUnavailable, what, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}
