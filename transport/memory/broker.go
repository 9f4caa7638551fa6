// Package memory provides Broker, an [eventbus.ReplayTransport] that runs
// inside one process, for tests and for programs that may move to a real
// broker later.
package memory

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/busline/eventbus"
)

// defaultAckTimeout is the AckTimeout a consumer gets when its
// ConsumerConfig leaves it zero.
const defaultAckTimeout = 30 * time.Second

// Broker is an in-process stand-in for a message broker with durable
// consumer groups. It implements [eventbus.ReplayTransport] without any
// network or disk, so that tests and single-process programs can run a bus
// over a transport, and several buses sharing one Broker behave like
// several processes sharing one broker.
//
// It keeps everything in memory, and nothing survives the process. Each
// consumer group's backlog is unbounded: a group whose consumers are stopped
// or slow keeps every message published to its topic until they are acked,
// so a program that publishes faster than it consumes grows without limit.
// Besides, each topic keeps a history of its last DefaultRetention messages
// (SetRetention), acknowledged or not, for new groups that start in the
// past.
//
// Semantics, chosen to match a real durable broker:
//
//   - A group (ConsumerConfig.Group on a topic) exists once a Subscribe for it
//     has returned, and outlives its consumers. Publish appends the message
//     to every group of the topic at that moment, and to the topic's
//     history.
//   - The broker numbers the messages of each topic 1, 2, 3... in publish
//     order, across every bus that publishes to it: that position is what
//     [eventbus.FromSequence] means here, and the deliveries implement
//     [eventbus.Positioned]. Each message also gets its publish time, for
//     [eventbus.FromTime].
//   - A group that Subscribe creates begins where ConsumerConfig.Start says:
//     with the messages published after Subscribe returns (the zero
//     Start), or with the messages of the history from the oldest one
//     (FromOldest), from a position (FromSequence) or from the first
//     published at or after a time (FromTime), followed by every later
//     message, none missing and none twice. A position or time beyond the
//     newest message starts with the first message published at or past
//     it. A start whose messages are no longer all in the history fails
//     with a *eventbus.NotRetainedError (matching [eventbus.ErrNotRetained]):
//     FromSequence before the oldest kept position, FromTime when a
//     discarded message was published at or after the time. FromOldest
//     never fails. The Start of a group that exists is ignored: it resumes
//     where it stopped. The history only serves new groups: discarding a
//     message from it (SetRetention, DiscardBefore) leaves it in the
//     backlog of every group that has not acked it.
//   - Every group gets every message. The consumers of one group compete:
//     each message is delivered to one of them at a time.
//   - Within a group, a message with a non-empty Key is not delivered while
//     another message with that key is unsettled, and a Nak'd message stays
//     ahead of the later messages of its key. So, per key, messages are
//     handled in publish order, across competing consumers and redeliveries
//     (but see Restart).
//     Messages without a key are delivered in publish order but may be
//     handled concurrently.
//   - A consumer holds at most MaxInFlight (at least 1) unsettled messages.
//     Nak makes the message deliverable again after its delay; a message not
//     settled within AckTimeout (default 30s) is delivered again. The
//     broker never drops a message on its own: MaxDeliveries is ignored.
//   - Settling a delivery that is no longer current (a second Ack or Nak,
//     or one after its AckTimeout expired or after Restart) does nothing and
//     returns nil, like a broker ignoring a late acknowledgement; it never
//     settles the newer delivery of the same message.
//   - Publish IDs are not deduplicated.
//
// A Broker is safe for concurrent use. It never calls deliver while holding
// its lock. Its zero value is not usable; call NewBroker, and Close it once
// every bus using it is closed.
type Broker struct {
	mu        sync.Mutex
	topics    map[string]*topicState
	retention int // messages kept in each topic's history
	closed    bool
	// lastToken numbers deliveries so that a settle can tell whether it
	// refers to a message's current delivery.
	lastToken uint64
	wg        sync.WaitGroup // consumer goroutines
}

var _ eventbus.ReplayTransport = (*Broker)(nil)

// NewBroker returns an empty, running Broker that keeps the last
// DefaultRetention messages of each topic.
func NewBroker() *Broker {
	return &Broker{topics: make(map[string]*topicState), retention: DefaultRetention}
}

// SupportsReplay implements [eventbus.ReplayTransport]: Subscribe honours
// ConsumerConfig.Start.
func (b *Broker) SupportsReplay() {}

// topic returns the state of the topic, creating it on first use.
func (b *Broker) topic(name string) *topicState {
	ts := b.topics[name]
	if ts == nil {
		ts = newTopicState()
		b.topics[name] = ts
	}
	return ts
}

// Publish gives a copy of m the topic's next position, appends it to the
// topic's history and to every consumer group of m.Topic, and wakes their
// consumers. It never blocks: the backlog is unbounded. It returns
// ctx's error if ctx is already done, an error matching
// [eventbus.ErrInvalidTopic] for a bad topic name, and
// [eventbus.ErrBrokerClosed] after Close.
func (b *Broker) Publish(ctx context.Context, m eventbus.OutgoingMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := eventbus.ValidateTopicName(m.Topic); err != nil {
		return err
	}
	// One private copy, shared read-only by every group, so the caller may
	// reuse its buffer.
	data := bytes.Clone(m.Data)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return eventbus.ErrBrokerClosed
	}
	ts := b.topic(m.Topic)
	e := ts.append(m.Key, data, time.Now(), b.retention)
	for _, g := range ts.groups {
		if g.wants(e) {
			g.add(&message{seq: e.pos, key: e.key, data: e.data})
			g.notify()
		}
	}
	return nil
}

// Subscribe starts a consumer of the group c.Group on c.Topic, creating the
// group if needed, beginning at c.Start (see Broker); messages published
// after it returns reach the group. The consumer calls deliver from a
// goroutine of its own, one message at a time in group order; deliver's
// ctx is cancelled by Stop and Close, which wait for the call in progress
// to return, so deliver must not block past that.
//
// It returns ctx's error if ctx is already done, an error matching
// [eventbus.ErrInvalidTopic] or [eventbus.ErrInvalidSubscriber] for bad
// names, [eventbus.ErrNilHandler] for a nil deliver,
// [eventbus.ErrInvalidOption] for a negative AckTimeout or a start at
// position 0 or at the zero time, a *eventbus.NotRetainedError for a new
// group whose start is no longer in the history, and
// [eventbus.ErrBrokerClosed] after Close. A Subscribe that fails creates
// no group.
func (b *Broker) Subscribe(ctx context.Context, c eventbus.ConsumerConfig, deliver func(ctx context.Context, m eventbus.InboundMessage)) (eventbus.Consumer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := eventbus.ValidateTopicName(c.Topic); err != nil {
		return nil, err
	}
	if err := eventbus.ValidateSubscriberName(c.Group); err != nil {
		return nil, err
	}
	if deliver == nil {
		return nil, fmt.Errorf("memory: %w: nil deliver function for group %q", eventbus.ErrNilHandler, c.Group)
	}
	if c.AckTimeout < 0 {
		return nil, fmt.Errorf("memory: %w: negative ack timeout %v", eventbus.ErrInvalidOption, c.AckTimeout)
	}
	cons := &consumer{
		b:           b,
		maxInFlight: max(c.MaxInFlight, 1),
		ackTimeout:  c.AckTimeout,
		wake:        make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	if cons.ackTimeout == 0 {
		cons.ackTimeout = defaultAckTimeout
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, eventbus.ErrBrokerClosed
	}
	ts := b.topic(c.Topic)
	g := ts.groups[c.Group]
	if g == nil {
		idx, minPos, minAt, err := ts.from(c.Topic, c.Start)
		if err != nil {
			return nil, err
		}
		g = newGroup(minPos, minAt)
		for _, e := range ts.history[idx:] {
			if g.wants(e) {
				g.add(&message{seq: e.pos, key: e.key, data: e.data})
			}
		}
		ts.groups[c.Group] = g
	}
	cons.g = g
	g.consumers[cons] = struct{}{}
	// The consumer's ctx lives only in its goroutine; Stop reaches it
	// through cancel.
	cctx, cancel := context.WithCancel(context.Background())
	cons.cancel = cancel
	// Added under the lock that Close takes before it waits, so no Add
	// can race with the Wait.
	b.wg.Add(1)
	go cons.run(cctx, deliver)
	return cons, nil
}

// Restart is for tests of transports and of code running over one; it
// simulates a crash and restart of the broker: stored messages and groups
// survive, and every delivered but unsettled message goes back to its
// group's pending messages in its original order, to be delivered again
// with a higher Deliveries count. Settling a delivery made before Restart
// afterwards does nothing. Consumers keep running. After Close it does
// nothing.
//
// Restart suspends the per-key order promise for the deliveries it
// orphans, as a real broker's restart does: the broker forgets that a
// consumer still holds the earlier delivery of a key, so it hands the
// key's messages out again, and the copy delivered before the restart may
// still be handled after later messages of its key (or after its own
// redelivery). Messages delivered after the restart keep the promise among
// themselves.
func (b *Broker) Restart() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	for _, ts := range b.topics {
		for _, g := range ts.groups {
			for len(g.inflight) > 0 {
				g.orphan(heap.Pop(&g.inflight).(*message))
			}
			g.notify()
		}
	}
}

// Close stops every consumer, cancelling the ctx of deliver calls in
// progress, and returns once their goroutines have exited, so it must not be
// called from inside deliver. Afterwards Publish, Subscribe, Ack and Nak
// return [eventbus.ErrBrokerClosed] and the stored messages are unreachable.
// Close is idempotent and always returns nil.
func (b *Broker) Close() error {
	b.mu.Lock()
	b.closed = true
	var stopping []*consumer
	for _, ts := range b.topics {
		for _, g := range ts.groups {
			for c := range g.consumers {
				c.stopped = true
				delete(g.consumers, c)
				stopping = append(stopping, c)
			}
		}
	}
	b.mu.Unlock()
	for _, c := range stopping {
		c.cancel()
	}
	b.wg.Wait()
	return nil
}

// next hands the consumer its next message, or tells it how long it may
// sleep before a Nak delay or an ack timeout of its group ends (0: until
// woken). ok is false once the consumer is stopped.
func (b *Broker) next(c *consumer) (d *delivery, wait time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.stopped {
		return nil, 0, false
	}
	now := time.Now()
	g := c.g
	g.advance(now)
	if c.inflight < c.maxInFlight && len(g.ready) > 0 {
		m := heap.Pop(&g.ready).(*message)
		b.lastToken++
		m.state = stateInFlight
		m.token = b.lastToken
		m.owner = c
		m.deliveries++
		m.due = now.Add(c.ackTimeout)
		heap.Push(&g.inflight, m)
		c.inflight++
		return &delivery{b: b, g: g, m: m, token: m.token, deliveries: m.deliveries}, 0, true
	}
	if due, has := g.nextDue(); has {
		return nil, due.Sub(now), true
	}
	return nil, 0, true
}

// settle applies an Ack (nak false) or a Nak of the delivery d.
func (b *Broker) settle(ctx context.Context, d *delivery, nak bool, delay time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return eventbus.ErrBrokerClosed
	}
	g, m := d.g, d.m
	now := time.Now()
	// Expire first, so that a settle arriving after the ack timeout is
	// stale even if no consumer has noticed the timeout yet.
	g.advance(now)
	if m.state != stateInFlight || m.token != d.token {
		return nil
	}
	heap.Remove(&g.inflight, m.idx)
	m.owner.inflight--
	m.owner = nil
	switch {
	case !nak:
		m.state = stateAcked
		g.release(m)
	case delay > 0:
		m.state = stateDelayed
		m.due = now.Add(delay)
		heap.Push(&g.delayed, m)
	default:
		g.pushReady(m)
	}
	g.notify()
	return nil
}
