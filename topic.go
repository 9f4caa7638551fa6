package eventbus

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/busline/eventbus/internal/delivery"
	"github.com/google/uuid"
)

// Topic is a named stream of events whose payloads are all of type T. Get
// one with NewTopic; a Topic is safe for use by many goroutines at once.
type Topic[T any] struct {
	core *topicCore
}

// topicCore is the payload-independent part of a topic.
type topicCore struct {
	bus         *Bus
	name        string
	payloadType reflect.Type
	handle      any   // the *Topic[T] handed out for this topic
	codec       Codec // of payloads sent through the bus's transport

	sequence      atomic.Uint64 // of a topic without retention; see published
	noSubscribers atomic.Uint64

	mu     sync.Mutex               // serialises changes to subscribers and byName
	byName map[string]*Subscription // live subscribers, for the uniqueness check
	// subscribers is read by publishers without a lock. Adding appends in
	// place when the backing array has room (no published snapshot reaches
	// past its own length), so subscribing is amortised O(1); removing
	// copies.
	subscribers atomic.Pointer[[]*Subscription]

	// ring holds the delivery lists: see delivery.Ring.
	ring *topicRing
	// log keeps the topic's last events when it has a retention; nil
	// otherwise.
	log *topicLog
}

// attach adds s unless its name is taken or the bus is closing; asRing
// makes it a reader of the topic's ring. With a replay, s only takes its
// name: the replay connects it to the fan-out once it has caught up (see
// connect), and is started here, under the bus's lock, so that a Close
// that began after s was registered waits for it.
func (tc *topicCore) attach(s *Subscription, asRing bool, replay func()) error {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.attachLocked(s, asRing, replay)
}

// attachLocked is attach for a caller that holds tc.mu.
func (tc *topicCore) attachLocked(s *Subscription, asRing bool, replay func()) error {
	if _, taken := tc.byName[s.name]; taken {
		return fmt.Errorf("%w: %q on topic %q", ErrDuplicateSubscriber, s.name, tc.name)
	}
	if err := tc.bus.register(s, replay); err != nil {
		return err
	}
	tc.byName[s.name] = s
	if replay == nil {
		tc.connectLocked(s, asRing)
	}
	return nil
}

// connect adds s, which took its name with attach, to the fan-out, unless
// it was detached meanwhile; it reports whether it did.
func (tc *topicCore) connect(s *Subscription, asRing bool) bool {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.byName[s.name] != s {
		return false
	}
	tc.connectLocked(s, asRing)
	return true
}

func (tc *topicCore) connectLocked(s *Subscription, asRing bool) {
	next := append(*tc.subscribers.Load(), s)
	tc.subscribers.Store(&next)
	tc.ring.Attach(&s.queue, asRing)
}

// detach removes s, so publishes no longer reach it. It reports false if s
// was already detached.
func (tc *topicCore) detach(s *Subscription) bool {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.byName[s.name] != s {
		return false
	}
	delete(tc.byName, s.name)
	tc.ring.Detach(&s.queue)
	current := *tc.subscribers.Load()
	next := make([]*Subscription, 0, len(current))
	for _, other := range current {
		if other != s {
			next = append(next, other)
		}
	}
	tc.subscribers.Store(&next)
	return true
}

// detachAll removes every subscriber at once, for Close.
func (tc *topicCore) detachAll() {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	clear(tc.byName)
	tc.ring.DetachAll()
	tc.subscribers.Store(new([]*Subscription))
}

// NewTopic returns the topic of bus named name, carrying payloads of type T,
// creating it on first use. Asking again with the same name and type returns
// the same *Topic; asking with the same name and another type returns a
// *TopicTypeError matching [ErrTopicTypeMismatch]. The name must pass
// ValidateTopicName. The options configure the topic when this call creates
// it; asking for an existing topic with a codec of another type than its own
// returns an error matching [ErrInvalidOption]. A nil bus returns an error
// matching [ErrNilBus].
func NewTopic[T any](bus *Bus, name string, opts ...TopicOption) (*Topic[T], error) {
	return newTopic[T](bus, name, false, opts...)
}

// newTopic is NewTopic; the bus's own middleware may create topics while the
// bus drains (internal), which users may not.
func newTopic[T any](bus *Bus, name string, internal bool, opts ...TopicOption) (*Topic[T], error) {
	if bus == nil {
		return nil, fmt.Errorf("%w: NewTopic[%s] for topic %q", ErrNilBus, reflect.TypeFor[T](), name)
	}
	if err := ValidateTopicName(name); err != nil {
		return nil, err
	}
	var cfg topicConfig
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil TopicOption", ErrInvalidOption)
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	want := reflect.TypeFor[T]()
	// Pattern subscriptions get their member on a new topic before it is
	// handed out (see patternRegistry).
	bus.patterns.lockTopics()
	defer bus.patterns.unlockTopics()
	bus.mu.Lock()
	defer bus.mu.Unlock()
	if bus.refuses(internal) {
		return nil, ErrClosed
	}
	if tc, ok := bus.topics[name]; ok {
		if t, ok := tc.handle.(*Topic[T]); ok {
			if cfg.codec != nil && reflect.TypeOf(cfg.codec) != reflect.TypeOf(tc.codec) {
				return nil, fmt.Errorf("%w: topic %q already uses codec %T, not %T", ErrInvalidOption, name, tc.codec, cfg.codec)
			}
			if cfg.retention != nil && (tc.log == nil || *cfg.retention != tc.log.policy) {
				return nil, fmt.Errorf("%w: topic %q already exists with %s", ErrInvalidOption, name, tc.retentionText())
			}
			return t, nil
		}
		return nil, &TopicTypeError{Topic: name, Existing: tc.payloadType.String(), Wanted: want.String()}
	}
	if cfg.codec == nil {
		cfg.codec = JSONCodec{}
	}
	if cfg.retention != nil && bus.transport != nil {
		return nil, fmt.Errorf("%w: retention of topic %q on a bus with a transport: the broker keeps its events", ErrInvalidOption, name)
	}
	tc := &topicCore{bus: bus, name: name, payloadType: want, codec: cfg.codec, byName: make(map[string]*Subscription), ring: delivery.NewRing[item, *Subscription]()}
	if cfg.retention != nil {
		tc.log = newTopicLog(*cfg.retention)
	}
	tc.subscribers.Store(new([]*Subscription))
	t := &Topic[T]{core: tc}
	tc.handle = t
	bus.topics[name] = tc
	bus.patterns.topicCreated(tc)
	return t, nil
}

// Name returns the topic's name.
func (t *Topic[T]) Name() string { return t.core.name }

// Stats returns a snapshot of the topic's counters.
func (t *Topic[T]) Stats() TopicStats { return t.core.stats() }

func (tc *topicCore) stats() TopicStats {
	subs := *tc.subscribers.Load()
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	slices.Sort(names)
	st := TopicStats{
		Topic:         tc.name,
		PayloadType:   tc.payloadType.String(),
		Published:     tc.published(),
		NoSubscribers: tc.noSubscribers.Load(),
		Subscribers:   names,
	}
	if tc.log != nil {
		st.Retained = tc.log.length(tc.bus.ids.now())
		st.Retention = tc.log.policy
	}
	return st
}

// published returns the number of events published on the topic: the
// last sequence number given, which the log keeps for a retained topic and
// sequence otherwise.
func (tc *topicCore) published() uint64 {
	if l := tc.log; l != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.next - 1
	}
	return tc.sequence.Load()
}

// Publish stamps payload into a new event and offers it to every current
// subscriber of the topic, each according to its overflow policy, then
// returns without waiting for handlers.
//
// Publish returns ErrClosed once the bus is closing, unless ctx is the ctx of
// a handler of this bus (see Bus.Close). With ctx being a handler's ctx, the
// new event's causation ID is the handled event's ID and its correlation ID
// is inherited. A subscriber with OverflowBlock makes Publish wait for room;
// if ctx ends first, Publish returns an error matching ctx's error, and the
// event is counted as dropped (Dropped.Canceled) for the subscribers it
// could not reach. If the bus's Close discards the queues while Publish
// waits (its ctx ended), Publish returns a *SubscriberError matching
// [ErrClosed] for each subscriber the event did not reach, counted as
// Canceled too; if the subscription alone stops meanwhile (Unsubscribe,
// Drain), the event is counted as Canceled and not reported, as it would
// have found the subscriber gone a moment later.
// Subscribers with OverflowFail and a full queue make Publish return a
// *SubscriberError matching [ErrQueueFull] for each, joined; every other
// subscriber still gets the event. Publishing to a topic with no subscriber
// is not an error; it is counted.
//
// Events published by one goroutine reach each subscriber in publish order
// (per lane, see WithConcurrency). Publish is safe to call from many
// goroutines at once and from inside handlers.
func (t *Topic[T]) Publish(ctx context.Context, payload T, opts ...PublishOption) error {
	_, err := t.publish(ctx, payload, nil, opts)
	return err
}

// PublishSync is Publish that also waits until every subscriber's handler
// chain has finished with the event, and returns their errors joined with
// errors.Join (each a *DeliveryError), together with any publish error and a
// *SubscriberError matching [ErrDropped] for each subscriber that dropped
// the event. A subscriber whose handler chain failed and whose DeadLetter
// middleware sent the event to the dead-letter topic is reported too, by a
// *DeliveryError matching both [ErrDeadLettered] and the handler's error. Failures returned to the caller are not also sent to the bus's
// error handler. If ctx ends first, PublishSync returns ctx's error; the
// event is still delivered.
//
// A handler that calls PublishSync on a topic it is itself subscribed to
// waits for itself: use Publish there.
func (t *Topic[T]) PublishSync(ctx context.Context, payload T, opts ...PublishOption) error {
	if t.core.bus.transport != nil {
		return fmt.Errorf("eventbus: PublishSync on a bus with a transport: %w", errors.ErrUnsupported)
	}
	wait := newSyncWait()
	published, err := t.publish(ctx, payload, wait, opts)
	if !published {
		return err
	}
	select {
	case <-wait.done:
		return errors.Join(append([]error{err}, wait.errs...)...)
	case <-ctx.Done():
		return errors.Join(err, ctx.Err())
	}
}

// publish reports whether the event was stamped and offered; a false result
// comes with an error and no event.
func (t *Topic[T]) publish(ctx context.Context, payload T, wait *syncWait, opts []PublishOption) (bool, error) {
	tc := t.core
	b := tc.bus
	parent, err := b.admit(ctx)
	defer b.publishEnd()
	if err != nil {
		return false, err
	}

	var cfg publishConfig
	if err := cfg.apply(opts); err != nil {
		return false, err
	}
	e := &Event[T]{Payload: payload}
	cfg.fillEnvelope(ctx, &e.Envelope, tc.name, parent)
	if len(b.publishHooks) > 0 {
		var buf [4]func(Message, error)
		dones := b.beginPublish(ctx, &e.Envelope, buf[:0])
		err := t.send(ctx, e, wait)
		b.endPublish(ctx, dones, e, err)
		return true, err
	}
	return true, t.send(ctx, e, wait)
}

// send stamps e, a new event with the rest of its envelope set, and hands
// it to the topic's subscribers or to the transport.
func (t *Topic[T]) send(ctx context.Context, e *Event[T], wait *syncWait) error {
	tc := t.core
	b := tc.bus
	if tc.log != nil {
		return publishRetained(ctx, tc, e, wait)
	}
	now := b.ids.now()
	e.stamp(b.ids, now)
	e.Sequence = tc.sequence.Add(1)

	if b.transport != nil {
		return sendThroughTransport(ctx, tc, e)
	}
	if wait != nil {
		defer wait.finish(nil) // the publisher's own share
	}
	return tc.fanout(ctx, e, wait)
}

// publisher returns the delivery whose handler publishes with ctx, nil
// when ctx is not a handler's of b: a handler of another bus has no causal
// link with b's events and no privilege to publish while b drains.
func (b *Bus) publisher(ctx context.Context) *deliveryContext {
	parent := deliveryFrom(ctx)
	if parent != nil && parent.sub.topic.bus != b {
		return nil
	}
	return parent
}

// fillEnvelope sets env, the envelope of a new event of topic published
// with cfg by the handler of parent (nil: not by a handler), as far as it
// is known before the event is stamped: the options' fields, the
// correlation ID from the options, else ctx (WithCorrelation), else the
// parent event's, and the causation ID from the options, else the parent
// event's ID. It writes in place: the publish path does not copy an
// envelope.
func (cfg *publishConfig) fillEnvelope(ctx context.Context, env *Envelope, topic string, parent *deliveryContext) {
	env.ID, env.Topic, env.Key, env.Metadata = cfg.id, topic, cfg.key, cfg.metadata
	env.CorrelationID, env.CloudEvent = cfg.correlationID, cfg.cloudEvent
	if env.CorrelationID == "" {
		env.CorrelationID, _ = ctx.Value(correlationKey{}).(string)
	}
	if parent != nil {
		if h := parent.envelope(); h != nil {
			env.CausationID = h.ID
			if env.CorrelationID == "" {
				env.CorrelationID = h.CorrelationID
			}
		}
	}
	if cfg.causationID != uuid.Nil {
		env.CausationID = cfg.causationID
	}
}

// stamp sets the event's ID and time, and its correlation ID to the text of
// its ID when it has none yet. An event published WithEventID keeps its
// ID; the others get the next one of ids.
func (e *Event[T]) stamp(ids *idGenerator, now time.Time) {
	if e.ID == uuid.Nil {
		e.ID = ids.next(now)
	}
	e.Time = now
	if e.CorrelationID == "" {
		e.CorrelationID = idString(e.ID, &e.idText)
	}
}

// publishRetained stamps e and appends it to the topic's log, and writes
// it to the ring and reads the delivery lists, all under the log's lock, so
// that the sequence, the log and the delivery lists agree: a subscription
// connected after the log's sequence s (see Subscription.replay) is in the
// lists of exactly the events after s. The offers follow without the lock.
func publishRetained[T any](ctx context.Context, tc *topicCore, e *Event[T], wait *syncWait) error {
	b, l := tc.bus, tc.log
	if wait != nil {
		defer wait.finish(nil) // the publisher's own share
	}
	l.mu.Lock()
	now := l.stampTime(b.ids.now())
	e.stamp(b.ids, now)
	e.Sequence = l.next // the log numbers a retained topic's events: see published
	l.appendLocked(e, now)
	readers, pos, queues := tc.ring.Publish(newItem(e, wait), wait.sharesFunc())
	l.mu.Unlock()
	return tc.offerAll(ctx, e, wait, readers, pos, queues)
}

// fanout gives m to every current subscriber: it writes m to the ring for
// the ring's readers, wakes those that need it and offers m to the others
// without waiting; then, for the OverflowBlock subscribers that had no room,
// it waits for room in turn, so that one slow subscriber does not hold the
// event back from the others.
func (tc *topicCore) fanout(ctx context.Context, m Message, wait *syncWait) error {
	readers, pos, queues := tc.ring.Publish(newItem(m, wait), wait.sharesFunc())
	return tc.offerAll(ctx, m, wait, readers, pos, queues)
}

// offerAll is fanout once m is in the ring at pos for readers: it wakes
// the readers that need it, offers m to queues, and waits for room where
// OverflowBlock says so.
func (tc *topicCore) offerAll(ctx context.Context, m Message, wait *syncWait, readers []*subLane, pos uint64, queues []*subQueue) error {
	if len(readers) == 0 && len(queues) == 0 {
		tc.noSubscribers.Add(1)
		return nil
	}
	var blockedBuf [8]blockedOffer
	blocked := blockedBuf[:0]
	var errs []error
	for _, l := range readers {
		if !l.ReaderRoomCached(pos) && !l.ReaderRoom(pos) {
			blocked = append(blocked, blockedOffer{lane: l, ring: true})
		}
	}
	for _, q := range queues {
		o, err := q.Owner().offer(m, wait)
		if err != nil {
			errs = append(errs, err)
		}
		if o.lane != nil {
			blocked = append(blocked, o)
		}
	}
	for i, o := range blocked {
		var err error
		if o.ring {
			err = tc.waitRing(ctx, o.lane, pos, m, wait)
		} else {
			err = o.sub.offerWait(ctx, o, m, wait)
		}
		if err != nil {
			for _, rest := range blocked[i+1:] {
				if rest.ring {
					tc.cancelRing(rest.lane, pos, wait, nil)
				} else {
					rest.sub.giveUp(rest, wait)
				}
			}
			errs = append(errs, err)
			break
		}
	}
	return errors.Join(errs...)
}

// waitRing waits until ring reader l has room for position pos, holding
// m; if ctx ends first, pos is taken away from l, as a lane drops an event
// whose publisher gave up waiting.
func (tc *topicCore) waitRing(ctx context.Context, l *subLane, pos uint64, m Message, wait *syncWait) error {
	res, err := l.WaitRing(ctx, pos, newItem(m, wait))
	s := l.Owner()
	switch res {
	case delivery.RingCut:
		s.settleUnqueued(wait, true)
		return s.closedError()
	case delivery.RingExpired:
		return tc.cancelRing(l, pos, wait, err)
	case delivery.RingCanceled:
		s.settleUnqueued(wait, false)
		return &SubscriberError{Topic: s.topic.name, Subscriber: s.name, Err: err}
	}
	return nil
}

// cancelRing takes position pos away from ring reader l, counted as
// Canceled, because the publisher's ctx ended: err while waiting for l, nil
// before it came to l. Position pos may be l's already (taken meanwhile, or
// moved to its lane), and then stays.
func (tc *topicCore) cancelRing(l *subLane, pos uint64, wait *syncWait, err error) error {
	s := l.Owner()
	switch tc.ring.Cancel(l, pos) {
	case delivery.SkipCut:
		s.settleUnqueued(wait, true)
		return s.closedError()
	case delivery.SkipRemoved:
		s.settleUnqueued(wait, err == nil)
		if err != nil {
			return &SubscriberError{Topic: s.topic.name, Subscriber: s.name, Err: err}
		}
	}
	return nil
}
