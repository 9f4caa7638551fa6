package eventbus

import (
	"context"
	"fmt"

	"github.com/busline/eventbus/internal/delivery"
)

// This file is the publishing side of a subscription: what an event goes
// through before it is queued, in process and over a transport.

// route decides where m goes in the subscription's queue: it runs the
// filter, counting m as filtered if the filter rejects it (lane is nil
// then), and chooses the lane by m's ordering key. An error reports a
// panic of the filter or of the ordering key function: the caller fails
// the event (see failUnqueued).
func (s *Subscription) route(m Message) (lane *subLane, err error) {
	if s.filter != nil {
		keep, err := s.callFilter(m)
		if err != nil {
			return nil, err
		}
		if !keep {
			s.queue.Lane(0).IfOpen(func() { s.counters.Filtered.Add(1) })
			return nil, nil
		}
	}
	if s.queue.Lanes() == 1 {
		return s.queue.Lane(0), nil
	}
	key := m.EventEnvelope().Key
	if s.keyOf != nil {
		if key, err = s.callKeyOf(m); err != nil {
			return nil, err
		}
	}
	return s.queue.LaneFor(key), nil
}

func (s *Subscription) callFilter(m Message) (keep bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("eventbus: filter: %w", newPanicError(r))
		}
	}()
	return s.filter(m), nil
}

func (s *Subscription) callKeyOf(m Message) (key string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("eventbus: ordering key: %w", newPanicError(r))
		}
	}()
	return s.keyOf(m), nil
}

// blockedOffer is a subscriber whose lane was full when an OverflowBlock
// publish tried it; the publish then waits for room.
type blockedOffer struct {
	sub  *Subscription
	lane *subLane
	ring bool // lane is a ring reader: the event is in the ring already
}

// offer tries to queue m without waiting. It returns a non-empty
// blockedOffer when m must wait for room, and an error for an OverflowFail
// rejection.
func (s *Subscription) offer(m Message, wait *syncWait) (blockedOffer, error) {
	lane, err := s.route(m)
	if err != nil {
		s.failUnqueued(m, wait, err)
		return blockedOffer{}, nil
	}
	if lane == nil {
		return blockedOffer{}, nil // filtered out
	}
	if wait != nil {
		wait.add()
	}
	adm, old, evicted := lane.Offer(newItem(m, wait))
	switch adm {
	case delivery.Admitted:
		if evicted {
			s.settleDropped(old)
		}
		return blockedOffer{}, nil
	case delivery.Full:
		return blockedOffer{sub: s, lane: lane}, nil // the publisher waits for room
	case delivery.Refused:
		s.settleUnqueued(wait, false)
		return blockedOffer{}, &SubscriberError{Topic: s.topic.name, Subscriber: s.name, Err: ErrQueueFull}
	}
	s.settleUnqueued(wait, true) // Dropped, Closed
	return blockedOffer{}, nil
}

// offerWait queues m on o's lane, waiting for room until ctx ends.
func (s *Subscription) offerWait(ctx context.Context, o blockedOffer, m Message, wait *syncWait) error {
	queued, err := o.lane.OfferWait(ctx, newItem(m, wait))
	if queued {
		return nil
	}
	if err != nil {
		// The publisher's ctx ended: Publish returns err itself.
		s.settleUnqueued(wait, false)
		return &SubscriberError{Topic: s.topic.name, Subscriber: s.name, Err: err}
	}
	// The subscription stopped while the publisher waited in line.
	s.settleUnqueued(wait, true)
	return s.closedError()
}

// closedError is the error of a publish whose event a subscription did not
// queue because it stopped meanwhile: a *SubscriberError matching
// [ErrClosed] when the bus's Close stopped it, so that the publisher does
// not take the event for accepted, and nil when the subscription alone
// stopped, as the event would have found it gone a moment later.
func (s *Subscription) closedError() error {
	if !s.topic.bus.stopped.Load() {
		return nil
	}
	return &SubscriberError{Topic: s.topic.name, Subscriber: s.name, Err: ErrClosed}
}

// giveUp accounts for a blocked offer that was never tried because the
// publisher's ctx ended on an earlier one.
func (s *Subscription) giveUp(o blockedOffer, wait *syncWait) {
	o.lane.CancelIfOpen()
	s.settleUnqueued(wait, true)
}

// settleUnqueued settles the PublishSync share of an event that was not
// queued; dropped says whether the caller must hear that this subscriber
// did not get the event (it hears of a rejection through Publish's error).
func (s *Subscription) settleUnqueued(wait *syncWait, dropped bool) {
	if wait != nil {
		var err error
		if dropped {
			err = s.dropError()
		}
		wait.finish(err)
	}
}

// failUnqueued accounts for an event whose filter or ordering key function
// panicked: it is counted as enqueued and failed, and reported, unless the
// subscription stopped meanwhile (then the event was never its own).
func (s *Subscription) failUnqueued(m Message, wait *syncWait, err error) {
	if !s.queue.Lane(0).IfOpen(func() {
		s.counters.Enqueued.Add(1)
		s.counters.Failed.Add(1)
	}) {
		return
	}
	derr := s.deliveryError(m, 0, err)
	if wait != nil {
		wait.add()
		wait.finish(derr)
		return
	}
	s.topic.bus.reportFailure(context.Background(), derr)
}
