package eventbus

import (
	"context"
	"errors"
	"fmt"

	"github.com/busline/eventbus/internal/delivery"
)

// This file is the worker side of a subscription: what a lane's worker
// does with each event it takes.

// deliver runs the handler chain for it on lane's worker and counts the
// outcome. The counters are final before the completion hears of the
// outcome, so that a PublishSync caller, or the broker's next delivery,
// finds them up to date.
//
// Events without a completion, the common case, are counted by the batch
// the worker took them in: the lane counts as one in flight from its first
// event to the end of the batch (batchDone), and the batch's successes are
// added to Delivered then, one atomic addition each instead of three per
// event. So Stats may show the events of a batch being handled as in
// flight until the batch ends, and never lags by more than the events the
// worker has taken; every other outcome is counted at once.
func (s *Subscription) deliver(lane int, it item) {
	d := &s.contexts[lane]
	if !d.inFlight {
		s.counters.InFlight.Add(1)
		d.inFlight = true
	}
	d.begin(it.done)
	err := s.invoke(d, it.msg)
	if err == nil && it.done == nil && d.deadLettered.Load() == nil {
		d.delivered++
		return
	}
	// Count the batch so far, so that the counters are final when the
	// outcome below is reported; the branches end the lane's InFlight.
	if d.delivered > 0 {
		s.counters.Delivered.Add(d.delivered)
		d.delivered = 0
	}
	d.inFlight = false
	switch {
	case err == nil && d.deadLettered.Load() != nil:
		s.counters.DeadLettered.Add(1)
		s.counters.InFlight.Add(-1)
		s.wasDeadLettered(it, d)
	case err == nil:
		s.counters.Delivered.Add(1)
		s.counters.InFlight.Add(-1)
		s.succeeded(it)
	default:
		if reason, ok := s.cancelledBy(d, err); ok {
			s.dropCancelled(it, reason)
			return
		}
		derr := s.deliveryError(it.msg, int(d.attempt.Load()), err)
		switch done := it.done.(type) {
		case *inboundDelivery:
			// The broker's delivery ends dead-lettered or failed, which
			// only settling it tells.
			done.settle(derr, func(deadLettered bool) {
				s.countFailure(deadLettered)
				s.counters.InFlight.Add(-1)
			})
		case nil:
			s.counters.Failed.Add(1)
			s.counters.InFlight.Add(-1)
			s.topic.bus.reportFailure(d, derr)
		default:
			s.counters.Failed.Add(1)
			s.counters.InFlight.Add(-1)
			done.finish(derr)
		}
	}
}

// batchDone counts the successes of the batch lane's worker has delivered
// and ends the lane's InFlight (see deliver).
func (s *Subscription) batchDone(lane int) {
	d := &s.contexts[lane]
	if !d.inFlight {
		return
	}
	if d.delivered > 0 {
		s.counters.Delivered.Add(d.delivered)
		d.delivered = 0
	}
	d.inFlight = false
	s.counters.InFlight.Add(-1)
}

// succeeded tells a delivery's completion, if any, that the handler chain
// succeeded.
func (s *Subscription) succeeded(it item) {
	if it.done != nil {
		it.done.finish(nil)
	}
}

// wasDeadLettered tells a delivery's completion, if any, that the handler
// chain failed and the event went to the dead-letter topic: a PublishSync
// caller gets a *DeliveryError matching ErrDeadLettered and the handler's
// error, and a broker's delivery is settled as handled, since the dead
// letter keeps the event.
func (s *Subscription) wasDeadLettered(it item, d *deliveryContext) {
	switch done := it.done.(type) {
	case nil:
	case *syncWait:
		cause := *d.deadLettered.Load()
		done.finish(s.deliveryError(it.msg, int(d.attempt.Load()), fmt.Errorf("%w: %w", ErrDeadLettered, cause)))
	default:
		done.finish(nil)
	}
}

// cancelledBy reports whether err, a handler chain's error, is the end of a
// delivery whose ctx the bus cancelled (a forced Close, Unsubscribe, a Drain
// whose ctx ended), and for which reason: the chain returned an error
// matching context.Canceled once the bus had cancelled d. Such a chain was
// stopped, not failing.
func (s *Subscription) cancelledBy(d *deliveryContext, err error) (delivery.Reason, bool) {
	reason, stopped := s.stopReason()
	if !stopped || d.Err() == nil || !errors.Is(err, context.Canceled) {
		return 0, false
	}
	return reason, true
}

// dropCancelled counts an event whose handler chain failed after the bus
// cancelled it as dropped for reason, and tells its completion so: a
// PublishSync caller gets ErrDropped, and a broker gets the message back.
func (s *Subscription) dropCancelled(it item, reason delivery.Reason) {
	if reason == delivery.Shutdown {
		s.counters.Shutdown.Add(1)
	} else {
		s.counters.Unsubscribed.Add(1)
	}
	s.counters.InFlight.Add(-1)
	s.settleDropped(it)
}

// countFailure counts a delivery whose handler chain failed: as
// dead-lettered when the event went to the dead-letter topic, and as failed
// otherwise.
func (s *Subscription) countFailure(deadLettered bool) {
	if deadLettered {
		s.counters.DeadLettered.Add(1)
	} else {
		s.counters.Failed.Add(1)
	}
}

// invoke runs the handler chain, turning a panic that escaped every
// middleware into an error so the worker lives on.
func (s *Subscription) invoke(ctx context.Context, m Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = newPanicError(r)
		}
	}()
	return s.handler(ctx, m)
}

func (s *Subscription) deliveryError(m Message, attempts int, err error) *DeliveryError {
	return &DeliveryError{
		Topic:      s.topic.name,
		Subscriber: s.name,
		EventID:    m.EventEnvelope().ID,
		Attempts:   attempts,
		Message:    m,
		Err:        err,
	}
}
