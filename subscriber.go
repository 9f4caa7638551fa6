package eventbus

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
)

// Handler handles the events of a topic carrying payloads of type T. It
// returns nil when the event was handled and an error otherwise; what
// happens to a failed event depends on the middleware (Retry, DeadLetter)
// and, at last, the bus's error handler.
//
// The event is shared with the topic's other subscribers and must not be
// modified. The ctx is cancelled when the subscription is stopped or the
// bus is closed forcibly; it carries the event's identity, so events
// published with it continue the event's correlation chain. It is valid only
// until the handler returns.
type Handler[T any] func(ctx context.Context, e *Event[T]) error

// Subscription is a subscriber's handle: its queue, its workers and its
// counters. It is safe for use by many goroutines at once, including from
// inside its own handler.
type Subscription struct {
	bus      *Bus
	topic    *topicCore
	name     string
	handler  HandlerFunc
	overflow Overflow
	keyOf    func(Message) string
	filter   func(Message) bool
	lanes    []*queue
	cancel   context.CancelFunc // cancels the handlers' ctx
	// With a transport, decode turns a delivered message into an event and
	// consumer is the broker's consumer feeding the lanes.
	decode   func(data []byte) (Message, error)
	consumer atomic.Pointer[consumerHandle]

	// detachOnce removes the subscription from its topic; detached is set
	// first, for the transport's consumer setup to see.
	detachOnce sync.Once
	detached   atomic.Bool
	liveLanes  atomic.Int32
	nextLane   atomic.Uint32
	done       chan struct{}
	counters   subscriberCounters
}

// Subscribe adds a subscriber named name to the topic. The name must pass ValidateSubscriberName and be unique among the
// topic's live subscribers, or Subscribe returns an error matching
// [ErrDuplicateSubscriber]; once a subscription has stopped (or started to
// drain) its name may be used again. The handler runs inside the bus-level
// middleware and the subscription's own (see Middleware).
//
// Each lane of the subscription's queue (see WithConcurrency) has at most
// one worker goroutine, started when an event arrives at a lane without one;
// it parks when the lane runs empty, is woken by the next event, and exits
// after some tens of milliseconds without events, so an idle subscription
// costs about 1.5 KB and no goroutine.
//
// The subscriber gets every event published after Subscribe returns.
// Subscribe is safe to call from inside a handler.
//
// On a bus with a Transport, the name is a durable consumer group on the
// broker: a group that already exists resumes where it stopped, including
// the events published while no process consumed it, and the subscriptions
// of one name in several processes share the events. Filters and ordering
// key functions then run on the transport's consumer goroutine, and only
// OverflowBlock is accepted (the broker holds the backlog).
func (t *Topic[T]) Subscribe(name string, handler Handler[T], opts ...SubscribeOption) (*Subscription, error) {
	tc := t.core
	if err := ValidateSubscriberName(name); err != nil {
		return nil, err
	}
	if handler == nil {
		return nil, fmt.Errorf("%w: subscriber %q of topic %q", ErrNilHandler, name, tc.name)
	}
	cfg := subscribeConfig{payloadType: tc.payloadType, capacity: DefaultQueueCapacity, concurrency: 1}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil SubscribeOption", ErrInvalidOption)
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}

	remote := tc.bus.transport != nil
	if remote && cfg.overflow != OverflowBlock {
		return nil, fmt.Errorf("%w: overflow policy %s on a bus with a transport: the broker holds the backlog, so only %s is allowed",
			ErrInvalidOption, cfg.overflow, OverflowBlock)
	}

	typed := func(ctx context.Context, m Message) error { return handler(ctx, m.(*Event[T])) }
	s := &Subscription{
		bus:      tc.bus,
		topic:    tc,
		name:     name,
		handler:  chain(typed, slices.Concat(tc.bus.middleware, cfg.middleware)),
		overflow: cfg.overflow,
		keyOf:    cfg.keyOf,
		filter:   cfg.filter,
		lanes:    make([]*queue, cfg.concurrency),
		done:     make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	perLane := (cfg.capacity + cfg.concurrency - 1) / cfg.concurrency
	for i := range s.lanes {
		s.lanes[i] = newQueue(perLane, s, &deliveryContext{Context: ctx, sub: s}, len(s.lanes) > 1)
	}
	s.liveLanes.Store(int32(len(s.lanes)))
	if err := tc.attach(s, ringEligible(cfg, remote)); err != nil {
		cancel()
		return nil, err
	}
	if remote {
		s.decode = func(data []byte) (Message, error) { return DecodeCloudEvent[T](data, tc.codec) }
		if err := s.startConsumer(cfg.capacity); err != nil {
			s.stop(dropUnsubscribed)
			return nil, err
		}
	}
	return s, nil
}

// Name returns the subscriber's name.
func (s *Subscription) Name() string { return s.name }

// Topic returns the name of the topic subscribed to.
func (s *Subscription) Topic() string { return s.topic.name }

// Done returns a channel that is closed once the subscription has stopped
// and all its workers have exited.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Stats returns a snapshot of the subscription's counters.
func (s *Subscription) Stats() SubscriptionStats { return s.stats() }

func (s *Subscription) stats() SubscriptionStats {
	st := s.counters.snapshot()
	st.Topic = s.topic.name
	st.Subscriber = s.name
	for _, q := range s.lanes {
		queued, enqueued := q.counts()
		st.QueueLength += queued
		st.Enqueued += enqueued
	}
	return st
}

// Unsubscribe stops the subscription now: it takes no new events, the
// handlers' ctx is cancelled, and the events still queued are dropped and
// counted (DropStats.Unsubscribed). It does not wait for running handlers;
// Done is closed when they have returned. Calling it again, or from the
// subscription's own handler, is safe.
func (s *Subscription) Unsubscribe() {
	s.stop(dropUnsubscribed)
}

// Drain stops the subscription gracefully: it takes no new events, and its
// workers handle every event already queued, then exit. Drain waits for that
// and returns nil, or, if ctx ends first, stops the subscription as
// Unsubscribe does and returns a *CloseError counting the dropped events.
//
// Called from the subscription's own handler with the handler's ctx, Drain
// returns at once and the queue is finished after the handler returns.
func (s *Subscription) Drain(ctx context.Context) error {
	s.finish()
	if d := deliveryFrom(ctx); d != nil && d.sub == s {
		return nil
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		n := s.stop(dropUnsubscribed)
		return &CloseError{Undelivered: map[string]int{s.topic.name + "/" + s.name: n}, Err: ctx.Err()}
	}
}

// detach removes the subscription from its topic, so publishes no longer
// reach it. Every caller returns only once the removal is complete, so that
// Unsubscribe and Drain racing each other close the lanes only after the
// lanes' positions in the topic's ring are final.
func (s *Subscription) detach() {
	s.detachOnce.Do(func() {
		s.detached.Store(true)
		s.topic.detach(s)
	})
}

// finish detaches the subscription and lets its workers exit once their
// lanes are empty.
func (s *Subscription) finish() {
	s.detach()
	s.stopConsumer()
	for _, q := range s.lanes {
		if _, done := q.close(false, dropUnsubscribed); done {
			s.laneFinished()
		}
	}
	s.topic.ring.sweep(s.lanes[0]) // lets go of the lane if it holds no position
}

type dropReason uint8

const (
	dropUnsubscribed dropReason = iota
	dropShutdown
)

// stop detaches the subscription, cancels its handlers and discards its
// queued events, returning how many were discarded.
func (s *Subscription) stop(reason dropReason) int {
	s.detach()
	s.stopConsumer()
	// Discard the queue before cancelling, so that a worker whose handler
	// returns on the cancellation cannot start a queued event with a dead ctx.
	defer s.cancel()
	n := 0
	for _, q := range s.lanes {
		dropped, done := q.close(true, reason)
		for _, it := range dropped {
			s.settleDropped(it)
		}
		n += len(dropped)
		if done {
			s.laneFinished()
		}
	}
	s.topic.ring.sweep(s.lanes[0]) // lets go of the lane: it holds no position now
	return n
}

// laneFinished is called once per lane, when it is done for good; the last
// one retires the subscription.
func (s *Subscription) laneFinished() {
	if s.liveLanes.Add(-1) == 0 {
		s.detach()
		s.cancel()
		s.bus.retire(s)
		if h := s.consumer.Load(); h != nil {
			// Done also waits for the consumer's goroutines; Close waits
			// for Done.
			h.c.Stop()
			go func() {
				<-h.c.Done()
				close(s.done)
			}()
			return
		}
		close(s.done)
	}
}

// settleDropped ends the bookkeeping of a queued event that will not be
// handled.
func (s *Subscription) settleDropped(it item) {
	if it.done != nil {
		it.done.finish(s.dropError())
	}
}

func (s *Subscription) dropError() error {
	return &SubscriberError{Topic: s.topic.name, Subscriber: s.name, Err: ErrDropped}
}

// blockedOffer is a subscriber whose lane was full when an OverflowBlock
// publish tried it; the publish then waits for room.
type blockedOffer struct {
	sub  *Subscription
	lane *queue
	ring bool // lane is a ring reader: the event is in the ring already
}

// offer tries to queue m without waiting. It returns a non-empty
// blockedOffer when m must wait for room, and an error for an OverflowFail
// rejection.
func (s *Subscription) offer(m Message, wait *syncWait) (blockedOffer, error) {
	if s.filter != nil {
		keep, err := s.callFilter(m)
		if err != nil {
			s.failUnqueued(m, wait, err)
			return blockedOffer{}, nil
		}
		if !keep {
			s.lanes[0].ifOpen(func() { s.counters.filtered.Add(1) })
			return blockedOffer{}, nil
		}
	}
	lane, err := s.laneFor(m)
	if err != nil {
		s.failUnqueued(m, wait, err)
		return blockedOffer{}, nil
	}

	if wait != nil {
		wait.add()
	}
	adm, old, evicted := lane.offer(newItem(m, wait), s.overflow)
	switch adm {
	case admitted:
		if evicted {
			s.settleDropped(old)
		}
		return blockedOffer{}, nil
	case admitFull:
		return blockedOffer{sub: s, lane: lane}, nil // the publisher waits for room
	case admitFailed:
		s.settleUnqueued(wait, false)
		return blockedOffer{}, &SubscriberError{Topic: s.topic.name, Subscriber: s.name, Err: ErrQueueFull}
	}
	s.settleUnqueued(wait, true) // admitDropped, admitClosed
	return blockedOffer{}, nil
}

// offerWait queues m on o's lane, waiting for room until ctx ends.
func (s *Subscription) offerWait(ctx context.Context, o blockedOffer, m Message, wait *syncWait) error {
	queued, err := o.lane.offerWait(ctx, newItem(m, wait))
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
	if !s.bus.stopped.Load() {
		return nil
	}
	return &SubscriberError{Topic: s.topic.name, Subscriber: s.name, Err: ErrClosed}
}

// giveUp accounts for a blocked offer that was never tried because the
// publisher's ctx ended on an earlier one.
func (s *Subscription) giveUp(o blockedOffer, wait *syncWait) {
	o.lane.cancelIfOpen()
	s.settleUnqueued(wait, true)
}

// settleUnqueued settles the PublishSync share of an event that was not queued;
// dropped says whether the caller must hear that this subscriber did not
// get the event (it hears of a rejection through Publish's error).
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
	if !s.lanes[0].ifOpen(func() {
		s.counters.enqueued.Add(1)
		s.counters.failed.Add(1)
	}) {
		return
	}
	derr := s.deliveryError(m, 0, err)
	if wait != nil {
		wait.add()
		wait.finish(derr)
		return
	}
	s.bus.reportFailure(context.Background(), derr)
}

func (s *Subscription) callFilter(m Message) (keep bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("eventbus: filter: %w", &PanicError{Value: r, Stack: debug.Stack()})
		}
	}()
	return s.filter(m), nil
}

func (s *Subscription) laneFor(m Message) (*queue, error) {
	if len(s.lanes) == 1 {
		return s.lanes[0], nil
	}
	key := m.Header().Key
	if s.keyOf != nil {
		var err error
		if key, err = s.callKeyOf(m); err != nil {
			return nil, err
		}
	}
	if key == "" {
		return s.shortestLane(), nil
	}
	return s.lanes[fnv1a(key)%uint32(len(s.lanes))], nil
}

func (s *Subscription) callKeyOf(m Message) (key string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("eventbus: ordering key: %w", &PanicError{Value: r, Stack: debug.Stack()})
		}
	}()
	return s.keyOf(m), nil
}

// shortestLane picks the lane with the fewest queued events, starting the
// scan at a rotating lane so that ties spread out.
func (s *Subscription) shortestLane() *queue {
	n := len(s.lanes)
	start := int(s.nextLane.Add(1) % uint32(n))
	best := s.lanes[start]
	bestLen := best.queued()
	for i := 1; i < n && bestLen > 0; i++ {
		q := s.lanes[(start+i)%n]
		if l := q.queued(); l < bestLen {
			best, bestLen = q, l
		}
	}
	return best
}

func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// run is a lane's worker: it handles the lane's events in order, parks
// when the lane is empty, and exits once the lane is closed and empty or has
// stayed empty too long (the next push then starts a new one).
func (s *Subscription) run(lane *queue) {
	defer s.bus.workers.Done()
	for {
		if it, ok := lane.claimNext(); ok {
			s.deliver(lane.delivery, it)
			continue
		}
		st, finished := lane.next()
		switch st {
		case stepDeliver:
		case stepPark:
			s.bus.nudgeClose() // a parked worker counts as idle
			lane.park()
		case stepExit:
			s.topic.ring.sweep(lane)
			if finished {
				s.laneFinished()
			}
			s.bus.nudgeClose()
			return
		case stepRetire:
			s.topic.ring.sweep(lane)
			s.bus.nudgeClose()
			return
		}
	}
}

func (s *Subscription) deliver(d *deliveryContext, it item) {
	s.counters.inFlight.Add(1)
	d.begin(it.msg, it.done)
	err := s.invoke(d, it.msg)
	// The counters are final before the completion hears of the outcome, so
	// that a PublishSync caller, or the broker's next delivery, finds them
	// up to date.
	switch {
	case err == nil && d.deadLettered.Load():
		s.counters.deadLettered.Add(1)
		s.counters.inFlight.Add(-1)
		s.succeeded(it)
	case err == nil:
		s.counters.delivered.Add(1)
		s.counters.inFlight.Add(-1)
		s.succeeded(it)
	default:
		derr := s.deliveryError(it.msg, int(d.attempt.Load()), err)
		switch done := it.done.(type) {
		case *inboundDelivery:
			// The broker's delivery ends dead-lettered or failed, which
			// only settling it tells.
			done.settle(derr, func(deadLettered bool) {
				s.countFailure(deadLettered)
				s.counters.inFlight.Add(-1)
			})
		case nil:
			s.counters.failed.Add(1)
			s.counters.inFlight.Add(-1)
			s.bus.reportFailure(d, derr)
		default:
			s.counters.failed.Add(1)
			s.counters.inFlight.Add(-1)
			done.finish(derr)
		}
	}
}

// succeeded tells a delivery's completion, if any, that the handler chain
// succeeded.
func (s *Subscription) succeeded(it item) {
	if it.done != nil {
		it.done.finish(nil)
	}
}

// countFailure counts a delivery whose handler chain failed: as
// dead-lettered when the event went to the dead-letter topic, and as failed
// otherwise.
func (s *Subscription) countFailure(deadLettered bool) {
	if deadLettered {
		s.counters.deadLettered.Add(1)
	} else {
		s.counters.failed.Add(1)
	}
}

// invoke runs the handler chain, turning a panic that escaped every
// middleware into an error so the worker lives on.
func (s *Subscription) invoke(ctx context.Context, m Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return s.handler(ctx, m)
}

func (s *Subscription) deliveryError(m Message, attempts int, err error) *DeliveryError {
	return &DeliveryError{
		Topic:      s.topic.name,
		Subscriber: s.name,
		EventID:    m.Header().ID,
		Attempts:   attempts,
		Message:    m,
		Err:        err,
	}
}
