package eventbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// settleTimeout bounds each call the bus makes to settle a delivery with
// the broker (Ack, Nak) or to set up a consumer; a broker that does not
// answer in time redelivers the message after its ack timeout.
const settleTimeout = 10 * time.Second

// sendThroughTransport encodes e and stores it on the broker.
func sendThroughTransport[T any](ctx context.Context, tc *topicCore, e *Event[T]) error {
	b := tc.bus
	data, err := EncodeCloudEvent(e, b.source, tc.codec)
	if err != nil {
		return fmt.Errorf("eventbus: topic %q: encode: %w", tc.name, err)
	}
	m := OutgoingMessage{Topic: tc.name, ID: e.ID, Key: e.Key, Data: data}
	if err := b.transport.Publish(ctx, m); err != nil {
		return fmt.Errorf("%w: publish to topic %q: %w", ErrTransport, tc.name, err)
	}
	return nil
}

// consumerHandle holds a subscription's broker consumer.
type consumerHandle struct{ c Consumer }

// startConsumer subscribes s, a subscription of a bus with a transport, to
// its topic on the broker, as a group that begins at start if the broker
// creates it now. capacity bounds the messages the broker hands over before
// the bus settles them. A non-zero start needs a ReplayTransport: with
// another Transport it fails with an error matching errors.ErrUnsupported.
// The transport's error, such as a *NotRetainedError, stays matchable
// through the ErrTransport that wraps it.
func (s *Subscription) startConsumer(capacity int, start Start, decode func(data []byte) (Message, error)) error {
	b := s.topic.bus
	if err := checkReplay(b.transport, start); err != nil {
		return fmt.Errorf("eventbus: subscribe %q to topic %q: %w", s.name, s.topic.name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	c, err := b.transport.Subscribe(ctx, ConsumerConfig{
		Topic:         s.topic.name,
		Group:         s.name,
		MaxDeliveries: b.redelivery.MaxAttempts,
		MaxInFlight:   capacity,
		Start:         start,
	}, func(ctx context.Context, im InboundMessage) { s.deliverInbound(ctx, im, decode) })
	if err != nil {
		return fmt.Errorf("%w: subscribe %q to topic %q: %w", ErrTransport, s.name, s.topic.name, err)
	}
	s.consumer.Store(&consumerHandle{c: c})
	if s.isDetached() {
		// Close or Unsubscribe came first and could not stop it, nor wait
		// for it: Subscribe does, and Close waits for Subscribe.
		c.Stop()
		<-c.Done()
	}
	return nil
}

// checkReplay reports, with an error matching errors.ErrUnsupported, a
// start in the past asked of a transport that cannot replay.
func checkReplay(tr Transport, start Start) error {
	if start.IsZero() {
		return nil
	}
	if _, ok := tr.(ReplayTransport); ok {
		return nil
	}
	return fmt.Errorf("start at %s: transport %T does not implement ReplayTransport: %w", start, tr, errors.ErrUnsupported)
}

// stopConsumer makes the broker hand s no more messages.
func (s *Subscription) stopConsumer() {
	if h := s.consumer.Load(); h != nil {
		h.c.Stop()
	}
}

// deliverInbound is the consumer's callback: it decodes a message with
// decode and queues it on its lane, waiting for room, with the broker's
// acknowledgement as the delivery's completion.
func (s *Subscription) deliverInbound(ctx context.Context, im InboundMessage, decode func(data []byte) (Message, error)) {
	if mm, ok := im.(MalformedMessage); ok {
		if err := mm.Malformed(); err != nil {
			s.deadLetterUndecodable(im, err)
			return
		}
	}
	m, err := decode(im.Data())
	if err != nil {
		s.deadLetterUndecodable(im, err)
		return
	}
	d := &inboundDelivery{sub: s, msg: im, event: m}
	lane, err := s.route(m)
	switch {
	case err != nil:
		d.failUnqueued(err)
		return
	case lane == nil: // filtered out
		d.finish(nil)
		return
	}
	if queued, _ := lane.OfferWait(ctx, item{msg: m, done: d}); !queued {
		d.finish(s.dropError()) // the subscription is stopping: give it back
	}
}

// brokerDeliveries returns how many times the broker delivered the event
// of a queued item whose completion is done: 1 for an in-process event.
func brokerDeliveries(done completion) int {
	if in, ok := done.(*inboundDelivery); ok {
		return max(in.msg.Deliveries(), 1)
	}
	return 1
}

// inboundDelivery settles one broker delivery once the bus is done with
// it. It is the item's completion.
type inboundDelivery struct {
	sub   *Subscription
	msg   InboundMessage
	event Message
}

// failUnqueued settles a message whose filter or ordering key function
// panicked as a delivery whose handler chain failed: it is counted as
// enqueued, and as failed or dead-lettered by its outcome. A subscription
// that is stopping gives the message back instead.
func (d *inboundDelivery) failUnqueued(err error) {
	s := d.sub
	lane := s.queue.Lane(0)
	if !lane.Pin() {
		d.finish(s.dropError())
		return
	}
	d.settle(s.deliveryError(d.event, 0, err), func(deadLettered bool) {
		s.countPinnedFailure(lane, deadLettered)
	})
}

// countPinnedFailure counts a delivery that failed before reaching a lane
// as enqueued and failed or dead-lettered, and releases lane's pin, which
// kept the subscription from retiring its counters meanwhile.
func (s *Subscription) countPinnedFailure(lane *subLane, deadLettered bool) {
	lane.Unpin(func() {
		s.counters.Enqueued.Add(1)
		s.countFailure(deadLettered)
	})
}

// finish settles the delivery: it is the item's completion.
func (d *inboundDelivery) finish(err error) { d.settle(err, nil) }

// settle acknowledges a handled message, gives a dropped one back to the
// broker at once, and has a failed one delivered again after a backoff or,
// once it has been delivered as often as the redelivery policy allows (or
// its error is not worth another delivery), dead-lettered and acknowledged.
// For a failure it calls counted, unless nil, with whether the event was
// dead-lettered, before the broker hears of the outcome: the subscription's
// counters then never lag behind the broker's next delivery.
func (d *inboundDelivery) settle(err error, counted func(deadLettered bool)) {
	s := d.sub
	if err == nil {
		ctx := newLazyTimeout(settleTimeout)
		settleErr := d.msg.Ack(ctx)
		ctx.stop()
		s.settleError(settleErr)
		return
	}
	b := s.topic.bus
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	count := func(deadLettered bool) {
		if counted != nil {
			counted(deadLettered)
		}
	}
	var settleErr error
	switch {
	case isDrop(err):
		settleErr = d.msg.Nak(ctx, 0)
	default:
		n := d.msg.Deliveries()
		p := b.redelivery
		if n < p.MaxAttempts && !IsPermanent(err) && (p.Retryable == nil || p.Retryable(err)) {
			count(false)
			settleErr = d.msg.Nak(ctx, p.jittered(p.backoff(n)))
			b.logger.LogAttrs(ctx, slog.LevelDebug, "eventbus: delivery failed; the broker will deliver it again",
				slog.String("topic", s.topic.name),
				slog.String("subscriber", s.name),
				slog.String("event_id", d.event.EventEnvelope().ID.String()),
				slog.Int("deliveries", n),
				slog.String("error", err.Error()))
			break
		}
		if s.topic.payloadType == failedDeliveryType {
			// A dead letter is not dead-lettered again, which could loop: it
			// is reported, then acknowledged.
			count(false)
			s.topic.bus.reportFailure(ctx, s.deliveryError(d.event, n, err))
			settleErr = d.msg.Ack(ctx)
			break
		}
		cause := err
		if derr, ok := errors.AsType[*DeliveryError](err); ok {
			cause = derr.Err
		}
		if dlErr := publishRemoteDeadLetter(ctx, s, d.event, n, cause); dlErr != nil {
			count(false)
			b.logger.LogAttrs(ctx, slog.LevelError, "eventbus: dead letter could not be published; the broker will deliver the event again",
				slog.String("topic", s.topic.name),
				slog.String("subscriber", s.name),
				slog.String("event_id", d.event.EventEnvelope().ID.String()),
				slog.String("error", dlErr.Error()))
			settleErr = d.msg.Nak(ctx, p.jittered(p.backoff(n)))
			break
		}
		count(true)
		settleErr = d.msg.Ack(ctx)
	}
	s.settleError(settleErr)
}

// isDrop reports whether err is the bus's own report of a dropped event
// (Subscription.dropError), rather than a failure whose handler returned an
// error matching ErrDropped.
func isDrop(err error) bool {
	se, ok := err.(*SubscriberError)
	return ok && se.Err == ErrDropped
}

// publishRemoteDeadLetter publishes a FailedDelivery for m, which failed
// for s after n deliveries, as if from m's handler: it continues m's
// correlation chain and is accepted while the bus drains.
func publishRemoteDeadLetter(ctx context.Context, s *Subscription, m Message, n int, cause error) error {
	return publishFailedDelivery(s.handlerContext(ctx, m), s, DefaultDeadLetterTopic, s.failedDelivery(m, n, cause))
}

// handlerContext returns a ctx that makes what is published with it look
// published by the handler of m (nil: of no event in particular), outside
// the subscription's workers.
func (s *Subscription) handlerContext(ctx context.Context, m Message) context.Context {
	d := &deliveryContext{Context: ctx, sub: s}
	if m != nil {
		d.current.Store(m.EventEnvelope())
	}
	return d
}

// deadLetterUndecodable hands a message that does not decode to the
// dead-letter topic, with the decode error and the message's bytes, and
// acknowledges it, so that it does not block the consumer; it is counted as
// enqueued and dead-lettered (or failed, when the dead letter could not be
// published and the broker will deliver the message again). A subscription
// that is stopping gives the message back instead.
func (s *Subscription) deadLetterUndecodable(im InboundMessage, cause error) {
	b := s.topic.bus
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	lane := s.queue.Lane(0)
	if !lane.Pin() {
		s.settleError(im.Nak(ctx, 0))
		return
	}
	dl := s.failedDelivery(nil, im.Deliveries(), cause)
	dl.Data = im.Data()
	err := publishFailedDelivery(s.handlerContext(ctx, nil), s, DefaultDeadLetterTopic, dl)
	s.countPinnedFailure(lane, err == nil)
	if err != nil {
		b.logger.LogAttrs(ctx, slog.LevelError, "eventbus: dead letter of an undecodable event could not be published; the broker will deliver it again",
			slog.String("topic", s.topic.name),
			slog.String("subscriber", s.name),
			slog.String("error", err.Error()))
		s.settleError(im.Nak(ctx, b.redelivery.jittered(b.redelivery.backoff(max(im.Deliveries(), 1)))))
		return
	}
	b.logger.LogAttrs(ctx, slog.LevelWarn, "eventbus: undecodable event dead-lettered",
		slog.String("topic", s.topic.name),
		slog.String("subscriber", s.name),
		slog.String("error", cause.Error()))
	s.settleError(im.Ack(ctx))
}

// settleError logs the failure of an Ack or Nak.
func (s *Subscription) settleError(err error) {
	if err != nil {
		s.topic.bus.logger.LogAttrs(context.Background(), slog.LevelWarn, "eventbus: settling a delivery with the broker failed; it will be delivered again",
			slog.String("topic", s.topic.name),
			slog.String("subscriber", s.name),
			slog.String("error", err.Error()))
	}
}
