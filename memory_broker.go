package eventbus

import (
	"bytes"
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"
)

// memoryDefaultAckTimeout is the AckTimeout a MemoryBroker consumer gets when
// its ConsumerConfig leaves it zero.
const memoryDefaultAckTimeout = 30 * time.Second

// MemoryBroker is an in-process stand-in for a message broker with durable
// consumer groups. It implements [Transport] without any network or disk, so
// that tests and single-process programs can run a bus over a transport, and
// several buses sharing one MemoryBroker behave like several processes
// sharing one broker.
//
// It keeps everything in memory, and nothing survives the process. Each
// consumer group's backlog is unbounded: a group whose consumers are stopped
// or slow keeps every message published to its topic until they are acked,
// so a program that publishes faster than it consumes grows without limit.
//
// Semantics, chosen to match a real durable broker:
//
//   - A group (ConsumerConfig.Group on a topic) exists once a Subscribe for it
//     has returned, and outlives its consumers. Publish appends the message
//     to every group of the topic at that moment; a message published to a
//     topic without groups is discarded.
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
// A MemoryBroker is safe for concurrent use. It never calls deliver while
// holding its lock. Its zero value is not usable; call NewMemoryBroker, and
// Close it once every bus using it is closed.
type MemoryBroker struct {
	mu     sync.Mutex
	topics map[string]map[string]*memGroup // topic name -> group name -> group
	closed bool
	// lastToken numbers deliveries so that a settle can tell whether it
	// refers to a message's current delivery.
	lastToken uint64
	wg        sync.WaitGroup // consumer goroutines
}

var _ Transport = (*MemoryBroker)(nil)

// NewMemoryBroker returns an empty, running MemoryBroker.
func NewMemoryBroker() *MemoryBroker {
	return &MemoryBroker{topics: make(map[string]map[string]*memGroup)}
}

// MemoryGroupStats is a snapshot of one consumer group of a MemoryBroker.
type MemoryGroupStats struct {
	// Pending counts the messages waiting to be delivered, including those
	// held back by a Nak delay or by an unsettled message of their key.
	Pending int
	// InFlight counts the messages delivered and not yet settled.
	InFlight int
	// Consumers counts the group's running consumers.
	Consumers int
}

// Stats returns a snapshot of the group on the topic, and false if no
// Subscribe ever created that group. Messages whose AckTimeout has passed
// count as pending. It is safe to call concurrently with everything else.
func (b *MemoryBroker) Stats(topic, group string) (MemoryGroupStats, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := b.topics[topic][group]
	if g == nil {
		return MemoryGroupStats{}, false
	}
	g.advance(time.Now())
	return MemoryGroupStats{
		Pending:   len(g.ready) + len(g.delayed) + g.waiting,
		InFlight:  len(g.inflight),
		Consumers: len(g.consumers),
	}, true
}

// Publish appends a copy of m to every consumer group of m.Topic and wakes
// their consumers. It never blocks: the backlog is unbounded. It returns
// ctx's error if ctx is already done, an error matching [ErrInvalidTopic]
// for a bad topic name, and [ErrBrokerClosed] after Close.
func (b *MemoryBroker) Publish(ctx context.Context, m OutgoingMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateTopicName(m.Topic); err != nil {
		return err
	}
	// One private copy, shared read-only by every group, so the caller may
	// reuse its buffer.
	data := bytes.Clone(m.Data)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrBrokerClosed
	}
	for _, g := range b.topics[m.Topic] {
		g.nextSeq++
		g.add(&memMsg{seq: g.nextSeq, key: m.Key, data: data})
		g.notify()
	}
	return nil
}

// Subscribe starts a consumer of the group c.Group on c.Topic, creating the
// group if needed; messages published after it returns reach the group. The
// consumer calls deliver from a goroutine of its own, one message at a time
// in group order; deliver's ctx is cancelled by Stop and Close, which wait
// for the call in progress to return, so deliver must not block past that.
//
// It returns ctx's error if ctx is already done, an error matching
// [ErrInvalidTopic] or [ErrInvalidSubscriber] for bad names, [ErrNilHandler]
// for a nil deliver, [ErrInvalidOption] for a negative AckTimeout, and
// [ErrBrokerClosed] after Close.
func (b *MemoryBroker) Subscribe(ctx context.Context, c ConsumerConfig, deliver func(ctx context.Context, m InboundMessage)) (Consumer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateTopicName(c.Topic); err != nil {
		return nil, err
	}
	if err := ValidateSubscriberName(c.Group); err != nil {
		return nil, err
	}
	if deliver == nil {
		return nil, fmt.Errorf("%w: nil deliver function for group %q", ErrNilHandler, c.Group)
	}
	if c.AckTimeout < 0 {
		return nil, fmt.Errorf("%w: negative ack timeout %v", ErrInvalidOption, c.AckTimeout)
	}
	cons := &memConsumer{
		b:           b,
		maxInFlight: max(c.MaxInFlight, 1),
		ackTimeout:  c.AckTimeout,
		wake:        make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	if cons.ackTimeout == 0 {
		cons.ackTimeout = memoryDefaultAckTimeout
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrBrokerClosed
	}
	groups := b.topics[c.Topic]
	if groups == nil {
		groups = make(map[string]*memGroup)
		b.topics[c.Topic] = groups
	}
	g := groups[c.Group]
	if g == nil {
		g = &memGroup{keys: make(map[string]*memKey), consumers: make(map[*memConsumer]struct{})}
		groups[c.Group] = g
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

// Restart simulates a crash and restart of the broker: stored messages and
// groups survive, and every delivered but unsettled message goes back to
// its group's pending messages in its original order, to be delivered again
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
func (b *MemoryBroker) Restart() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	for _, groups := range b.topics {
		for _, g := range groups {
			for len(g.inflight) > 0 {
				m := heap.Pop(&g.inflight).(*memMsg)
				m.owner.inflight--
				m.owner = nil
				g.pushReady(m)
			}
			g.notify()
		}
	}
}

// Close stops every consumer, cancelling the ctx of deliver calls in
// progress, and returns once their goroutines have exited, so it must not be
// called from inside deliver. Afterwards Publish, Subscribe, Ack and Nak
// return [ErrBrokerClosed] and the stored messages are unreachable. Close is
// idempotent and always returns nil.
func (b *MemoryBroker) Close() error {
	b.mu.Lock()
	b.closed = true
	var stopping []*memConsumer
	for _, groups := range b.topics {
		for _, g := range groups {
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
func (b *MemoryBroker) next(c *memConsumer) (d *memDelivery, wait time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.stopped {
		return nil, 0, false
	}
	now := time.Now()
	g := c.g
	g.advance(now)
	if c.inflight < c.maxInFlight && len(g.ready) > 0 {
		m := heap.Pop(&g.ready).(*memMsg)
		b.lastToken++
		m.state = memInFlight
		m.token = b.lastToken
		m.owner = c
		m.deliveries++
		m.due = now.Add(c.ackTimeout)
		heap.Push(&g.inflight, m)
		c.inflight++
		return &memDelivery{b: b, g: g, m: m, token: m.token, deliveries: m.deliveries}, 0, true
	}
	if due, has := g.nextDue(); has {
		return nil, due.Sub(now), true
	}
	return nil, 0, true
}

// settle applies an Ack (nak false) or a Nak of the delivery d.
func (b *MemoryBroker) settle(ctx context.Context, d *memDelivery, nak bool, delay time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrBrokerClosed
	}
	g, m := d.g, d.m
	now := time.Now()
	// Expire first, so that a settle arriving after the ack timeout is
	// stale even if no consumer has noticed the timeout yet.
	g.advance(now)
	if m.state != memInFlight || m.token != d.token {
		return nil
	}
	heap.Remove(&g.inflight, m.idx)
	m.owner.inflight--
	m.owner = nil
	switch {
	case !nak:
		m.state = memAcked
		g.release(m)
	case delay > 0:
		m.state = memDelayed
		m.due = now.Add(delay)
		heap.Push(&g.delayed, m)
	default:
		g.pushReady(m)
	}
	g.notify()
	return nil
}

// memState is where a message stands in its group.
type memState uint8

const (
	memWaiting  memState = iota // behind an unsettled message of its key
	memReady                    // deliverable now
	memDelayed                  // Nak'd with a delay that has not ended
	memInFlight                 // delivered, not settled
	memAcked                    // done
)

// memMsg is one message in one group. Of the messages of one key, only the
// oldest unacked one is ever ready, delayed or in flight; the others wait
// in the key's queue, which is what keeps per-key order.
type memMsg struct {
	seq        uint64 // publish order within the group
	key        string
	data       []byte // shared read-only between groups
	state      memState
	idx        int       // index in the heap holding it
	due        time.Time // end of the Nak delay, or the ack deadline
	deliveries int
	token      uint64       // current delivery, while in flight
	owner      *memConsumer // consumer of the current delivery, while in flight
}

// memKey is the queue of a key that has a message ready, delayed or in
// flight; a key without one has no entry.
type memKey struct {
	queue []*memMsg // later messages of the key, in publish order
}

// memGroup is a durable consumer group. Its fields are guarded by the
// broker's mutex.
type memGroup struct {
	nextSeq   uint64
	ready     dueHeap // by publish order: ready messages have no due time
	delayed   dueHeap // by end of delay
	inflight  dueHeap // by ack deadline
	keys      map[string]*memKey
	waiting   int // messages in key queues
	consumers map[*memConsumer]struct{}
}

// add takes in a newly published message.
func (g *memGroup) add(m *memMsg) {
	if m.key != "" {
		if k, busy := g.keys[m.key]; busy {
			m.state = memWaiting
			k.queue = append(k.queue, m)
			g.waiting++
			return
		}
		g.keys[m.key] = &memKey{}
	}
	g.pushReady(m)
}

// release lets the next message of an acked message's key go.
func (g *memGroup) release(m *memMsg) {
	if m.key == "" {
		return
	}
	k := g.keys[m.key]
	if len(k.queue) == 0 {
		delete(g.keys, m.key)
		return
	}
	next := k.queue[0]
	k.queue[0] = nil
	k.queue = k.queue[1:]
	g.waiting--
	g.pushReady(next)
}

func (g *memGroup) pushReady(m *memMsg) {
	m.state = memReady
	m.due = time.Time{} // so that the ready heap orders by publish order alone
	heap.Push(&g.ready, m)
}

// advance makes ready the delayed messages whose delay has ended and the
// in-flight ones whose ack deadline has passed.
func (g *memGroup) advance(now time.Time) {
	moved := false
	for len(g.inflight) > 0 && !g.inflight[0].due.After(now) {
		m := heap.Pop(&g.inflight).(*memMsg)
		m.owner.inflight--
		m.owner = nil
		g.pushReady(m)
		moved = true
	}
	for len(g.delayed) > 0 && !g.delayed[0].due.After(now) {
		g.pushReady(heap.Pop(&g.delayed).(*memMsg))
		moved = true
	}
	if moved {
		// The timed-out messages' consumers may have room again.
		g.notify()
	}
}

// nextDue returns the earliest time at which advance will have work.
func (g *memGroup) nextDue() (time.Time, bool) {
	var t time.Time
	has := false
	if len(g.inflight) > 0 {
		t, has = g.inflight[0].due, true
	}
	if len(g.delayed) > 0 && (!has || g.delayed[0].due.Before(t)) {
		t, has = g.delayed[0].due, true
	}
	return t, has
}

// notify wakes every consumer of the group to look for work.
func (g *memGroup) notify() {
	for c := range g.consumers {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// memConsumer is one consumer started by MemoryBroker.Subscribe.
type memConsumer struct {
	b           *MemoryBroker
	g           *memGroup
	maxInFlight int
	ackTimeout  time.Duration
	wake        chan struct{} // capacity 1: a pending wake-up is enough
	cancel      context.CancelFunc
	done        chan struct{}

	// Guarded by the broker's mutex.
	inflight int
	stopped  bool
}

// Stop makes the consumer take no more messages and cancels the ctx of its
// deliver call in progress. Its unsettled messages can still be settled.
// Stop is idempotent and does not wait; see Done.
func (c *memConsumer) Stop() {
	c.b.mu.Lock()
	if !c.stopped {
		c.stopped = true
		delete(c.g.consumers, c)
	}
	c.b.mu.Unlock()
	c.cancel()
}

// Done is closed once the consumer's goroutine has exited after Stop or
// Close.
func (c *memConsumer) Done() <-chan struct{} { return c.done }

func (c *memConsumer) run(ctx context.Context, deliver func(context.Context, InboundMessage)) {
	defer c.b.wg.Done()
	defer close(c.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		d, wait, ok := c.b.next(c)
		if !ok {
			return
		}
		if d != nil {
			deliver(ctx, d)
			continue
		}
		var fire <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-c.wake:
		case <-fire:
		}
		timer.Stop()
	}
}

// memDelivery is one delivery of a message to a consumer.
type memDelivery struct {
	b          *MemoryBroker
	g          *memGroup
	m          *memMsg
	token      uint64
	deliveries int
}

// Data returns the published bytes; they are shared and must not be
// modified.
func (d *memDelivery) Data() []byte { return d.m.data }

// Deliveries returns how many times the message had been delivered to the
// group when this delivery was made.
func (d *memDelivery) Deliveries() int { return d.deliveries }

// Ack removes the message from the group, unless this delivery is no longer
// current (then it does nothing and returns nil).
func (d *memDelivery) Ack(ctx context.Context) error { return d.b.settle(ctx, d, false, 0) }

// Nak makes the message deliverable again after delay, ahead of the later
// messages of its key, unless this delivery is no longer current (then it
// does nothing and returns nil).
func (d *memDelivery) Nak(ctx context.Context, delay time.Duration) error {
	return d.b.settle(ctx, d, true, delay)
}

// dueHeap orders messages by due time, then publish order.
type dueHeap []*memMsg

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *dueHeap) Push(x any) {
	m := x.(*memMsg)
	m.idx = len(*h)
	*h = append(*h, m)
}
func (h *dueHeap) Pop() any {
	old := *h
	n := len(old) - 1
	m := old[n]
	old[n] = nil
	*h = old[:n]
	return m
}
