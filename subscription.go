package eventbus

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/busline/eventbus/internal/delivery"
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
	topic   *topicCore
	name    string
	handler MessageHandler
	keyOf   func(Message) string
	filter  func(Message) bool
	// contexts are the ctxs the handlers get, one per lane, reused by the
	// lane's every delivery; cancel cancels them.
	contexts []deliveryContext
	cancel   context.CancelFunc
	// consumer is the broker's consumer feeding the lanes, with a
	// transport.
	consumer atomic.Pointer[consumerHandle]
	// replay is set for a subscription started in the past (WithStart).
	replay *replayState

	// detachOnce removes the subscription from its topic. state says, in
	// one word to keep the struct in its size class, that the subscription
	// is detached (set first, for the transport's consumer setup to see)
	// and why it was first stopped, which cancels the handlers' ctx.
	detachOnce sync.Once
	state      atomic.Uint32
	done       chan struct{}
	// queue is last but for the counters, whose padding keeps the cache
	// line of its lane-choice counter, which producers write, away from
	// the fields above, which workers read.
	queue    subQueue
	counters delivery.Counters
}

// Subscribe adds a subscriber named name to the topic. The name must pass
// ValidateSubscriberName and be unique among the topic's live subscribers,
// or Subscribe returns an error matching [ErrDuplicateSubscriber]; once a
// subscription has stopped (or started to drain) its name may be used
// again. The handler runs inside the bus-level middleware and the
// subscription's own (see Middleware).
//
// Each lane of the subscription's queue (see WithConcurrency) has at most
// one worker goroutine, started when an event arrives at a lane without one;
// it parks when the lane runs empty, is woken by the next event, and exits
// after some tens of milliseconds without events, so an idle subscription
// holds no goroutine.
//
// The subscriber gets every event published after Subscribe returns, or,
// with WithStart, the topic's retained events from a point in the past and
// then every later one. Subscribe is safe to call from inside a handler.
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
	if remote {
		if err := tc.bus.beginConsumerStart(); err != nil {
			return nil, err
		}
		defer tc.bus.endConsumerStart()
	}
	s := newSubscription(tc, name, chain(typed, slices.Concat(tc.bus.middleware, cfg.middleware)), cfg)
	asRing := ringEligible(cfg, remote)
	var replay, release func()
	if !cfg.start.IsZero() && !remote {
		var err error
		if replay, release, err = s.startReplay(cfg.start, asRing); err != nil {
			s.cancel()
			return nil, err
		}
	}
	if err := tc.attach(s, asRing, replay); err != nil {
		if release != nil {
			release()
		}
		s.cancel()
		return nil, err
	}
	if remote {
		decode := func(data []byte) (Message, error) { return decodeCloudEvent[T](data, tc.codec, tc.name, tc.bus.source) }
		if err := s.startConsumer(cfg.capacity, cfg.start, decode); err != nil {
			s.stop(delivery.Unsubscribed)
			return nil, err
		}
	}
	return s, nil
}

// newSubscription returns a subscription of tc named name, running
// handler (the whole chain), with cfg's queue, filter and ordering key, not
// yet attached to tc.
func newSubscription(tc *topicCore, name string, handler MessageHandler, cfg subscribeConfig) *Subscription {
	s := &Subscription{
		topic:    tc,
		name:     name,
		handler:  handler,
		keyOf:    cfg.keyOf,
		filter:   cfg.filter,
		contexts: make([]deliveryContext, cfg.concurrency),
		done:     make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for i := range s.contexts {
		s.contexts[i].Context, s.contexts[i].sub = ctx, s
		s.contexts[i].onLane, s.contexts[i].lane = true, int32(i)
	}
	s.queue.Init(delivery.QueueConfig[item, *Subscription]{
		Owner:     s,
		Lanes:     cfg.concurrency,
		Capacity:  cfg.capacity,
		Policy:    delivery.Policy(cfg.overflow),
		Counters:  &s.counters,
		Workers:   tc.bus.workers,
		Deliver:   (*Subscription).deliver,
		BatchDone: (*Subscription).batchDone,
		Finished:  (*Subscription).retire,
	})
	return s
}

// ringEligible reports whether a subscription with cfg can read its
// topic's shared ring instead of a queue of its own: it needs nothing of
// its own on the way in.
func ringEligible(cfg subscribeConfig, remote bool) bool {
	return !remote && cfg.overflow == OverflowBlock && cfg.concurrency == 1 &&
		cfg.filter == nil && cfg.capacity <= DefaultQueueCapacity
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
	st := snapshot(&s.counters)
	st.Topic = s.topic.name
	st.Subscriber = s.name
	st.Pattern = s.topic.bus.patterns.patternOf(s)
	queued, enqueued := s.queue.Counts()
	st.QueueLength = queued
	st.Enqueued += enqueued
	st.Capacity = s.queue.Capacity()
	st.OldestQueuedAge = s.oldestQueuedAge()
	return st
}

// oldestQueuedAge returns the time since the publish of the oldest event at
// the head of one of the queue's lanes, or zero when nothing is queued.
func (s *Subscription) oldestQueuedAge() time.Duration {
	var buf [4]item
	var oldest time.Time
	for _, it := range s.queue.Oldest(buf[:0]) {
		if it.msg == nil {
			continue
		}
		if t := it.msg.EventEnvelope().Time; oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return max(s.topic.bus.ids.now().Sub(oldest), 0)
}

// Unsubscribe stops the subscription now: it takes no new events, the
// handlers' ctx is cancelled, and the events still queued are dropped and
// counted (DropStats.Unsubscribed). It does not wait for running handlers;
// Done is closed when they have returned. A handler that returns an error
// matching context.Canceled once its ctx is cancelled had its event
// dropped, counted as Unsubscribed too, not as a failure. Calling it again,
// or from the subscription's own handler, is safe.
func (s *Subscription) Unsubscribe() {
	s.stop(delivery.Unsubscribed)
}

// Drain stops the subscription gracefully: it takes no new events, and its
// workers handle every event already queued, then exit. Drain waits for that
// and returns nil, or, if ctx ends first, stops the subscription as
// Unsubscribe does and returns at once a *CloseError counting the dropped
// events and naming the handlers still running; Done is closed once they
// have returned.
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
		n := s.stop(delivery.Unsubscribed)
		return &CloseError{Undelivered: map[string]int{s.topic.name + "/" + s.name: n}, Running: s.runningHandlers(), Err: ctx.Err()}
	}
}

// detach removes the subscription from its topic, so publishes no longer
// reach it. Every caller returns only once the removal is complete, so that
// Unsubscribe and Drain racing each other close the queue only after the
// lane's positions in the topic's ring are final.
func (s *Subscription) detach() {
	s.detachOnce.Do(func() {
		s.state.Or(stateDetached)
		s.topic.detach(s)
	})
}

// finish detaches the subscription and lets its workers exit once their
// lanes are empty.
func (s *Subscription) finish() {
	s.detach()
	s.stopConsumer()
	s.queue.Close(false, delivery.Unsubscribed, nil)
}

// stop detaches the subscription, cancels its handlers and discards its
// queued events, counted as dropped for reason, returning how many were
// discarded.
func (s *Subscription) stop(reason delivery.Reason) int {
	s.noteStopReason(reason)
	s.detach()
	s.stopConsumer()
	// Discard the queue before cancelling, so that a worker whose handler
	// returns on the cancellation cannot start a queued event with a dead ctx.
	defer s.cancel()
	return s.queue.Close(true, reason, s.settleDropped)
}

// The bits of Subscription.state: stateDetached, and above it 1 + the
// delivery.Reason of the first stop, or 0.
const (
	stateDetached    = 1
	stateReasonShift = 1
)

// noteStopReason records reason as why the subscription stopped, unless it
// stopped before.
func (s *Subscription) noteStopReason(reason delivery.Reason) {
	for {
		old := s.state.Load()
		if old>>stateReasonShift != 0 || s.state.CompareAndSwap(old, old|(uint32(reason)+1)<<stateReasonShift) {
			return
		}
	}
}

// stopReason returns why the subscription first stopped, and false if it
// has not stopped.
func (s *Subscription) stopReason() (delivery.Reason, bool) {
	r := s.state.Load() >> stateReasonShift
	if r == 0 {
		return 0, false
	}
	return delivery.Reason(r - 1), true
}

// isDetached reports whether the subscription was removed from its topic.
func (s *Subscription) isDetached() bool { return s.state.Load()&stateDetached != 0 }

// runningHandlers returns the subscription's handler calls in progress, as
// far as its lanes and its InFlight count tell: a lane's worker that is at
// work, but for no more lanes than deliveries are in flight.
func (s *Subscription) runningHandlers() []RunningHandler {
	inFlight := int(s.counters.InFlight.Load())
	var out []RunningHandler
	for i := 0; i < s.queue.Lanes() && len(out) < inFlight; i++ {
		working, since := s.queue.Working(i)
		env := s.contexts[i].envelope()
		if !working || env == nil {
			continue
		}
		out = append(out, RunningHandler{Topic: s.topic.name, Subscriber: s.name, EventID: env.ID,
			Attempt: max(int(s.contexts[i].attempt.Load()), 1), For: since})
	}
	return out
}

// retire is called once the queue has finished: it moves the
// subscription's counters into the bus's totals and closes Done, once the
// broker's consumer, if any, has ended too.
func (s *Subscription) retire() {
	s.detach()
	s.cancel()
	s.topic.bus.retire(s)
	if h := s.consumer.Load(); h != nil {
		// Close waits for Done, and so for this goroutine, which ends with
		// the consumer's.
		h.c.Stop()
		go func() {
			<-h.c.Done()
			s.closeDone()
		}()
		return
	}
	s.closeDone()
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
