package eventbus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/busline/eventbus/internal/delivery"
)

// PatternSubscription is the handle of a subscription to every topic whose
// name matches a pattern (see Bus.SubscribePattern). It is safe for use by
// many goroutines at once, including from inside its own handler.
//
// It is made of one member per matching topic: an ordinary subscriber of
// the topic, named like the pattern subscription, with a queue and workers
// of its own, running the pattern subscription's handler chain. Members
// show in Bus.SubscriptionStats and TopicStats.Subscribers like every
// subscriber, so the stats of the bus still add up.
type PatternSubscription struct {
	bus     *Bus
	pattern topicPattern
	name    string
	handler MessageHandler // the whole chain, shared by every member
	cfg     subscribeConfig
	// consumer is the broker's consumer feeding every member, with a
	// transport; the members hold it too.
	consumer atomic.Pointer[consumerHandle]

	mu      sync.Mutex
	members []*Subscription          // every member it ever had, in the order made
	byTopic map[string]*Subscription // the same, by topic name
	live    int                      // members whose Done is not closed yet
	stopped bool                     // it takes no new topic
	closed  bool                     // done is closed, or about to be
	done    chan struct{}
}

// SubscribePattern subscribes handler, under the subscriber name name, to
// every topic of the bus whose name matches pattern (see ValidatePattern):
// the topics that exist now and those created later, from the moment
// NewTopic returns them. An invalid pattern gives an error matching
// [ErrInvalidPattern], an invalid name one matching [ErrInvalidSubscriber].
//
// The handler gets each event as a Message: its envelope (EventEnvelope;
// Topic says which topic it came from) and its payload as the topic's
// payload type boxed in an any (AnyPayload), so one pattern can match
// topics of different payload types; a type switch on the payload takes
// them apart. DeliveryFromContext names the topic too. The handler runs
// inside the bus-level middleware and WithSubscriptionMiddleware's, the
// chain being built once, here, and serving every matching topic.
//
// Options apply to each topic on its own: each gets a queue of
// WithQueueCapacity's size, WithConcurrency's workers and WithOverflow's
// policy. The typed WithFilter and WithKeyFunc are rejected with an error
// matching [ErrInvalidOption]: use WithMessageFilter and WithMessageKeyFunc,
// which see the Message. WithStart is not supported (the error matches
// errors.ErrUnsupported).
//
// Ordering: the events of one topic reach the handler in the order a
// subscription of that topic alone would give them (one worker: publish
// order; several: per ordering key, see WithConcurrency). Events of
// different topics are handled independently, possibly at the same time
// on different workers, in no defined order relative to each other, even
// when one goroutine published them in turn; a handler that needs an order
// across topics must restore it itself (Envelope.Time, CausationID).
//
// The name is that of a subscriber on each matching topic: SubscribePattern
// fails with an error matching [ErrDuplicateSubscriber], subscribing
// nothing, if a matching topic has a live subscriber of that name, or if a
// live pattern subscription of that name has a pattern that overlaps this
// one (some topic name could match both); and Subscribe with the name on a
// matching topic fails the same way while the pattern subscription lives.
//
// On a bus with a Transport, the bus's transport must implement
// PatternTransport, or SubscribePattern returns an error matching
// errors.ErrUnsupported: a transport that cannot have its broker select
// the topics does not get one consumer per topic behind the caller's back.
// See PatternTransport for what then holds.
func (b *Bus) SubscribePattern(pattern, name string, handler MessageHandler, opts ...SubscribeOption) (*PatternSubscription, error) {
	p, err := parsePattern(pattern)
	if err != nil {
		return nil, err
	}
	if err := ValidateSubscriberName(name); err != nil {
		return nil, err
	}
	if handler == nil {
		return nil, fmt.Errorf("%w: pattern subscriber %q of %q", ErrNilHandler, name, pattern)
	}
	// payloadType stays nil: the typed options refuse to apply.
	cfg := subscribeConfig{capacity: DefaultQueueCapacity, concurrency: 1}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil SubscribeOption", ErrInvalidOption)
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if !cfg.start.IsZero() {
		return nil, fmt.Errorf("eventbus: pattern subscription %q of %q: WithStart: %w", name, pattern, errors.ErrUnsupported)
	}
	var pt PatternTransport
	if b.transport != nil {
		var ok bool
		if pt, ok = b.transport.(PatternTransport); !ok {
			return nil, fmt.Errorf("eventbus: pattern subscription %q of %q: transport %T cannot consume a pattern: %w",
				name, pattern, b.transport, errors.ErrUnsupported)
		}
		if cfg.overflow != OverflowBlock {
			return nil, fmt.Errorf("%w: overflow policy %s on a bus with a transport: the broker holds the backlog, so only %s is allowed",
				ErrInvalidOption, cfg.overflow, OverflowBlock)
		}
	}

	ps := &PatternSubscription{
		bus:     b,
		pattern: p,
		name:    name,
		// Built here, with no lock held: middleware constructors are the
		// user's code.
		handler: chain(handler, slices.Concat(b.middleware, cfg.middleware)),
		cfg:     cfg,
		byTopic: make(map[string]*Subscription),
		done:    make(chan struct{}),
	}
	if pt != nil {
		if err := b.beginConsumerStart(); err != nil {
			return nil, err
		}
		defer b.endConsumerStart()
	}
	if err := b.patterns.add(ps); err != nil {
		return nil, err
	}
	if pt != nil {
		if err := ps.startConsumer(pt); err != nil {
			ps.Unsubscribe()
			return nil, err
		}
	}
	return ps, nil
}

// newMember returns a member of ps on tc, not yet attached, recorded as
// one of ps's members until it is done.
func (ps *PatternSubscription) newMember(tc *topicCore) *Subscription {
	m := newSubscription(tc, ps.name, ps.handler, ps.cfg)
	ps.bus.patterns.track(m, ps)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.members = append(ps.members, m)
	ps.byTopic[tc.name] = m
	ps.live++
	if h := ps.consumer.Load(); h != nil {
		m.consumer.Store(h)
	}
	return m
}

// memberRing reports whether ps's members read their topic's ring.
func (ps *PatternSubscription) memberRing() bool {
	return ringEligible(ps.cfg, ps.bus.transport != nil)
}

// attachExisting attaches a member of ps to each of topics, existing
// topics in name order, or to none if the name is taken on one of them.
// It holds every topic's lock meanwhile, so that no subscriber takes the
// name between the check and the attachment. On error it returns the
// members made so far, for the caller to stop.
func (ps *PatternSubscription) attachExisting(topics []*topicCore) ([]*Subscription, error) {
	for _, tc := range topics {
		tc.mu.Lock()
		defer tc.mu.Unlock()
	}
	for _, tc := range topics {
		if _, taken := tc.byName[ps.name]; taken {
			return nil, fmt.Errorf("%w: %q on topic %q, which pattern %q matches", ErrDuplicateSubscriber, ps.name, tc.name, ps.pattern.text)
		}
	}
	members := make([]*Subscription, 0, len(topics))
	for _, tc := range topics {
		m := ps.newMember(tc)
		members = append(members, m)
		if err := tc.attachLocked(m, ps.memberRing(), nil); err != nil {
			return members, err
		}
	}
	return members, nil
}

// attachNew attaches a member of ps to tc, a topic just created and not
// yet handed out. The bus may be closing, and then the member stops at
// once.
func (ps *PatternSubscription) attachNew(tc *topicCore) {
	m := ps.newMember(tc)
	if err := tc.attach(m, ps.memberRing(), nil); err != nil {
		m.stop(delivery.Unsubscribed)
	}
}

// markStopped makes ps take no new topic and returns its members; Done is
// closed once they are done.
func (ps *PatternSubscription) markStopped() []*Subscription {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.stopped = true
	ps.closeIfDone()
	return slices.Clone(ps.members)
}

// memberDone counts a member whose Done is closed.
func (ps *PatternSubscription) memberDone() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.live--
	ps.closeIfDone()
}

// closeIfDone closes done once ps is stopped and its members are done,
// after its broker consumer, if any, has ended. ps.mu is held.
func (ps *PatternSubscription) closeIfDone() {
	if ps.closed || !ps.stopped || ps.live > 0 {
		return
	}
	ps.closed = true
	h := ps.consumer.Load()
	if h == nil {
		close(ps.done)
		return
	}
	h.c.Stop()
	go func() {
		<-h.c.Done()
		close(ps.done)
	}()
}

// Name returns the subscriber name.
func (ps *PatternSubscription) Name() string { return ps.name }

// Pattern returns the pattern subscribed to.
func (ps *PatternSubscription) Pattern() string { return ps.pattern.text }

// Topics returns the names of the topics the subscription has had a member
// on, in name order: those the pattern matched when SubscribePattern was
// called and those created since, until it stopped.
func (ps *PatternSubscription) Topics() []string {
	members := ps.snapshot()
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.topic.name
	}
	slices.Sort(out)
	return out
}

// Done returns a channel that is closed once the subscription has stopped
// (Unsubscribe, Drain, or the bus's Close) and every member has stopped
// and its workers have exited (and, with a transport, the broker's
// consumer has ended).
func (ps *PatternSubscription) Done() <-chan struct{} { return ps.done }

// Stats returns the sum of the counters of every member, past and present,
// with Topic set to the pattern and Subscriber to the name. It equals the
// sum of the members' entries in Bus.SubscriptionStats while they live
// (see StatsByTopic).
func (ps *PatternSubscription) Stats() SubscriptionStats {
	st := SubscriptionStats{Topic: ps.pattern.text, Subscriber: ps.name}
	for _, m := range ps.snapshot() {
		st.add(m.stats())
	}
	return st
}

// StatsByTopic returns a snapshot of each member's counters, one per topic
// (see Topics), ordered by topic.
func (ps *PatternSubscription) StatsByTopic() []SubscriptionStats {
	members := ps.snapshot()
	out := make([]SubscriptionStats, len(members))
	for i, m := range members {
		out[i] = m.stats()
	}
	slices.SortFunc(out, func(a, b SubscriptionStats) int { return strings.Compare(a.Topic, b.Topic) })
	return out
}

func (ps *PatternSubscription) snapshot() []*Subscription {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return slices.Clone(ps.members)
}

// Unsubscribe stops the subscription now, on every topic, as
// Subscription.Unsubscribe does for one: no topic created from now on gets
// a member, the members take no new events, the handlers' ctx is
// cancelled, and the events still queued are dropped and counted
// (DropStats.Unsubscribed). It does not wait for running handlers; Done is
// closed when they have returned. Calling it again, or from the handler, is
// safe.
func (ps *PatternSubscription) Unsubscribe() {
	for _, m := range ps.bus.patterns.remove(ps) {
		m.stop(delivery.Unsubscribed)
	}
}

// Drain stops the subscription gracefully, on every topic: no topic
// created from now on gets a member, the members take no new events, and
// their workers handle every event already queued, then exit. Drain waits
// for that and returns nil, or, if ctx ends first, stops the subscription
// as Unsubscribe does and returns at once a *CloseError counting the
// dropped events per "topic/name" and naming the handlers still running;
// Done is closed once they have returned.
//
// Called from the subscription's own handler with the handler's ctx, Drain
// returns at once, and the queues are finished after the handler returns.
func (ps *PatternSubscription) Drain(ctx context.Context) error {
	members := ps.bus.patterns.remove(ps)
	for _, m := range members {
		m.finish()
	}
	if d := deliveryFrom(ctx); d != nil && slices.Contains(members, d.sub) {
		return nil
	}
	select {
	case <-ps.done:
		return nil
	case <-ctx.Done():
	}
	var undelivered map[string]int
	var running []RunningHandler
	for _, m := range members {
		if n := m.stop(delivery.Unsubscribed); n > 0 {
			if undelivered == nil {
				undelivered = make(map[string]int)
			}
			undelivered[m.topic.name+"/"+m.name] += n
		}
		running = append(running, m.runningHandlers()...)
	}
	slices.SortFunc(running, func(a, b RunningHandler) int { return cmp.Compare(a.Topic, b.Topic) })
	return &CloseError{Undelivered: undelivered, Running: running, Err: ctx.Err()}
}

// stopConsumer makes the broker hand ps no more messages.
func (ps *PatternSubscription) stopConsumer() {
	if h := ps.consumer.Load(); h != nil {
		h.c.Stop()
	}
}
