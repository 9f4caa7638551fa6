package memory

import (
	"container/heap"
	"time"
)

// GroupStats is a snapshot of one consumer group of a Broker.
type GroupStats struct {
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
func (b *Broker) Stats(topic, group string) (GroupStats, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ts := b.topics[topic]
	if ts == nil || ts.groups[group] == nil {
		return GroupStats{}, false
	}
	g := ts.groups[group]
	g.advance(time.Now())
	return GroupStats{
		Pending:   len(g.ready) + len(g.delayed) + g.waiting,
		InFlight:  len(g.inflight),
		Consumers: len(g.consumers),
	}, true
}

// keyQueue holds the later messages of a key that has a message ready,
// delayed or in flight; a key without one has no queue.
type keyQueue struct {
	queue []*message // in publish order
}

// group is a durable consumer group. Its fields are guarded by the broker's
// mutex.
type group struct {
	// minPos and minAt hold back the messages published before the
	// position or time a group that starts in the future begins at.
	minPos    uint64
	minAt     time.Time
	ready     dueHeap // by publish order: ready messages have no due time
	delayed   dueHeap // by end of delay
	inflight  dueHeap // by ack deadline
	keys      map[string]*keyQueue
	waiting   int // messages in key queues
	consumers map[*consumer]struct{}
}

func newGroup(minPos uint64, minAt time.Time) *group {
	return &group{minPos: minPos, minAt: minAt, keys: make(map[string]*keyQueue), consumers: make(map[*consumer]struct{})}
}

// wants reports whether a message of the group's topic is for the group:
// whether it lies at or past the group's start.
func (g *group) wants(e *entry) bool {
	return e.pos >= g.minPos && !e.at.Before(g.minAt)
}

// add takes in a newly published message.
func (g *group) add(m *message) {
	if m.key != "" {
		if k, busy := g.keys[m.key]; busy {
			m.state = stateWaiting
			k.queue = append(k.queue, m)
			g.waiting++
			return
		}
		g.keys[m.key] = &keyQueue{}
	}
	g.pushReady(m)
}

// release lets the next message of an acked message's key go.
func (g *group) release(m *message) {
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

func (g *group) pushReady(m *message) {
	m.state = stateReady
	m.due = time.Time{} // so that the ready heap orders by publish order alone
	heap.Push(&g.ready, m)
}

// orphan makes ready again a message taken out of the in-flight heap whose
// delivery will not be settled, freeing a place of its consumer.
func (g *group) orphan(m *message) {
	m.owner.inflight--
	m.owner = nil
	g.pushReady(m)
}

// advance makes ready the delayed messages whose delay has ended and the
// in-flight ones whose ack deadline has passed.
func (g *group) advance(now time.Time) {
	moved := false
	for len(g.inflight) > 0 && !g.inflight[0].due.After(now) {
		g.orphan(heap.Pop(&g.inflight).(*message))
		moved = true
	}
	for len(g.delayed) > 0 && !g.delayed[0].due.After(now) {
		g.pushReady(heap.Pop(&g.delayed).(*message))
		moved = true
	}
	if moved {
		// The timed-out messages' consumers may have room again.
		g.notify()
	}
}

// nextDue returns the earliest time at which advance will have work.
func (g *group) nextDue() (time.Time, bool) {
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
func (g *group) notify() {
	for c := range g.consumers {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}
