package eventbus

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// PatternTransport is a Transport whose broker can feed one consumer group
// with the events of every topic whose name matches a pattern, selecting
// them itself (NATS subject wildcards, for example). Bus.SubscribePattern
// needs one on a bus with a transport; with any other Transport it returns
// an error matching errors.ErrUnsupported.
//
// Over a PatternTransport, a pattern subscription is one consumer group of
// the broker, named like the subscription, distinct from the groups of
// plain subscribers of the same name; it gets the events of every matching
// topic, including topics other processes publish on. The bus hands each
// message to the member of its topic, decoding it with that topic's
// payload type and codec, so the topic must exist in this process
// (NewTopic); a message of a topic that does not is dead-lettered with its
// bytes in FailedDelivery.Data and logged, as a message that does not
// decode is. The consumer delivers one message at a time, so a member
// whose queue is full holds the other topics back too: the broker holds
// the backlog. Ordering across topics is the broker's order of delivery
// to the group, which the members' workers do not keep.
//
// A transport whose broker can select topics only in some of its
// configurations (the NATS transport, with all topics in one stream)
// implements PatternTransport and has SubscribePattern return, in the
// others, an error matching errors.ErrUnsupported that says what to
// configure; SubscribePattern of the bus then fails with it, wrapped.
type PatternTransport interface {
	Transport
	// SubscribePattern is Subscribe for a pattern (see ValidatePattern):
	// c.Topic holds the pattern, and deliver gets, with each message, the
	// name of the topic it was published on, which must match it.
	SubscribePattern(ctx context.Context, c ConsumerConfig, deliver func(ctx context.Context, topic string, m InboundMessage)) (Consumer, error)
}

// startConsumer subscribes ps to its pattern on the broker.
func (ps *PatternSubscription) startConsumer(pt PatternTransport) error {
	b := ps.bus
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	c, err := pt.SubscribePattern(ctx, ConsumerConfig{
		Topic:         ps.pattern.text,
		Group:         ps.name,
		MaxDeliveries: b.redelivery.MaxAttempts,
		MaxInFlight:   ps.cfg.capacity,
	}, ps.deliverInbound)
	if err != nil {
		return fmt.Errorf("%w: subscribe %q to pattern %q: %w", ErrTransport, ps.name, ps.pattern.text, err)
	}
	h := &consumerHandle{c: c}
	ps.mu.Lock()
	ps.consumer.Store(h)
	members := slices.Clone(ps.members)
	stopped := ps.stopped
	ps.mu.Unlock()
	for _, m := range members {
		m.consumer.Store(h)
	}
	if stopped {
		// Close came first and could not stop it.
		c.Stop()
		<-c.Done()
		return ErrClosed
	}
	return nil
}

// deliverInbound is the consumer's callback: it hands the message to the
// member of its topic.
func (ps *PatternSubscription) deliverInbound(ctx context.Context, topic string, im InboundMessage) {
	ps.mu.Lock()
	m := ps.byTopic[topic]
	ps.mu.Unlock()
	if m == nil || !ps.pattern.matches(topic) {
		ps.deadLetterUnknown(topic, im)
		return
	}
	m.deliverInbound(ctx, im, m.topic.decodeMessage)
}

// messageDecoder is implemented by every *Topic[T].
type messageDecoder interface {
	decodeMessage(data []byte) (Message, error)
}

// decodeMessage decodes a message that a transport delivered for tc, with
// tc's payload type and codec, as an event of tc (see decodeCloudEvent).
func (tc *topicCore) decodeMessage(data []byte) (Message, error) {
	return tc.handle.(messageDecoder).decodeMessage(data)
}

func (t *Topic[T]) decodeMessage(data []byte) (Message, error) {
	return decodeCloudEvent[T](data, t.core.codec, t.core.name, t.core.bus.source)
}

// deadLetterUnknown hands a message of a topic that has no member of ps
// (the topic does not exist in this process) to the dead-letter topic with
// its bytes, and acknowledges it; if the dead letter cannot be published
// (the bus is closing, say), the broker delivers the message again later.
func (ps *PatternSubscription) deadLetterUnknown(topic string, im InboundMessage) {
	b := ps.bus
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	cause := fmt.Errorf("eventbus: pattern subscription %q of %q: no topic %q in this process to decode the event with", ps.name, ps.pattern.text, topic)
	dl := FailedDelivery{
		Envelope:   Envelope{Topic: topic},
		Subscriber: ps.name,
		Error:      cause.Error(),
		Attempts:   im.Deliveries(),
		FailedAt:   time.Now(),
		Data:       im.Data(),
	}
	dlTopic, err := newTopic[FailedDelivery](b, DefaultDeadLetterTopic, true)
	if err == nil {
		err = dlTopic.Publish(ctx, dl)
	}
	attrs := []slog.Attr{slog.String("topic", topic), slog.String("pattern", ps.pattern.text), slog.String("subscriber", ps.name)}
	if err != nil {
		b.logger.LogAttrs(ctx, slog.LevelError, "eventbus: event of an unknown topic could not be dead-lettered; the broker will deliver it again",
			append(attrs, slog.String("error", err.Error()))...)
		ps.settleError(topic, im.Nak(ctx, b.redelivery.jittered(b.redelivery.backoff(max(im.Deliveries(), 1)))))
		return
	}
	b.logger.LogAttrs(ctx, slog.LevelWarn, "eventbus: event of a topic unknown to this process dead-lettered", attrs...)
	ps.settleError(topic, im.Ack(ctx))
}

// settleError logs the failure of an Ack or Nak.
func (ps *PatternSubscription) settleError(topic string, err error) {
	if err != nil {
		ps.bus.logger.LogAttrs(context.Background(), slog.LevelWarn, "eventbus: settling a delivery with the broker failed; it will be delivered again",
			slog.String("topic", topic),
			slog.String("pattern", ps.pattern.text),
			slog.String("subscriber", ps.name),
			slog.String("error", err.Error()))
	}
}
