package delivery

import (
	"sync/atomic"
	"time"
)

// Policy says what a full lane does with an offered item.
type Policy uint8

const (
	Block      Policy = iota // the producer may wait for room (OfferWait)
	DropNewest               // the item is dropped, counted as QueueFull
	DropOldest               // the oldest queued item is evicted to make room
	Fail                     // the item is refused, counted as Rejected
)

// Reason says why a discarding Close drops the queued items.
type Reason uint8

const (
	Unsubscribed Reason = iota // counted as Unsubscribed
	Shutdown                   // counted as Shutdown
)

// QueueConfig describes a Queue.
type QueueConfig[T comparable, O any] struct {
	// Owner is the root's subscription, returned by Owner.
	Owner O
	// Lanes is the number of lanes, each with at most one worker, and
	// Capacity the number of items the queue holds, split evenly over the
	// lanes, rounding up.
	Lanes, Capacity int
	Policy          Policy
	// Counters receives the queue's counts.
	Counters *Counters
	// Workers owns the lanes' workers.
	Workers *Workers
	// Deliver is called by the worker of lane lane for each of its items,
	// one at a time and in order, with Owner. (A method expression, such
	// as (*Sub).deliver, spares the call a closure.)
	Deliver func(owner O, lane int, it T)
	// BatchDone, if not nil, is called by the worker of lane lane, with
	// Owner, once it has delivered the items it took out of the lane at
	// once (at most a batch of them), before it takes more, parks or
	// exits: the root may count the batch's outcomes then rather than one
	// by one.
	BatchDone func(owner O, lane int)
	// Finished is called once, with Owner, when the queue has closed and
	// every lane has finished: nothing is queued, no worker runs, no
	// producer waits.
	Finished func(owner O)
}

// Queue is one subscription's queue: its lanes and their workers.
type Queue[T comparable, O any] struct {
	lanes    []*Lane[T, O]
	policy   Policy
	counters *Counters
	workers  *Workers
	finished func(owner O)
	// topic is the ring of the topic the queue is attached to.
	topic *Ring[T, O]

	liveLanes atomic.Int32
	nextLane  atomic.Uint32
}

// NewQueue returns a queue configured by cfg, whose lanes are empty and
// without workers.
func NewQueue[T comparable, O any](cfg QueueConfig[T, O]) *Queue[T, O] {
	q := new(Queue[T, O])
	q.Init(cfg)
	return q
}

// Init makes q, a zero Queue that its owner holds, a queue configured by
// cfg, as NewQueue does, sparing an allocation.
func (q *Queue[T, O]) Init(cfg QueueConfig[T, O]) {
	q.lanes = make([]*Lane[T, O], cfg.Lanes)
	q.policy = cfg.Policy
	q.counters = cfg.Counters
	q.workers = cfg.Workers
	q.finished = cfg.Finished
	perLane := (cfg.Capacity + cfg.Lanes - 1) / cfg.Lanes
	for i := range q.lanes {
		q.lanes[i] = newLane(q, cfg, i, perLane)
	}
	q.liveLanes.Store(int32(cfg.Lanes))
}

// Owner returns the queue's owner.
func (q *Queue[T, O]) Owner() O { return q.lanes[0].owner }

// Lanes returns the number of lanes.
func (q *Queue[T, O]) Lanes() int { return len(q.lanes) }

// Lane returns lane i.
func (q *Queue[T, O]) Lane(i int) *Lane[T, O] { return q.lanes[i] }

// LaneFor returns the lane for an item with ordering key key: the same lane
// for the same key, and the shortest lane for an empty key.
func (q *Queue[T, O]) LaneFor(key string) *Lane[T, O] {
	if len(q.lanes) == 1 {
		return q.lanes[0]
	}
	if key == "" {
		return q.shortestLane()
	}
	return q.lanes[fnv1a(key)%uint32(len(q.lanes))]
}

// shortestLane picks the lane with the fewest queued items, starting the
// scan at a rotating lane so that ties spread out.
func (q *Queue[T, O]) shortestLane() *Lane[T, O] {
	n := len(q.lanes)
	start := int(q.nextLane.Add(1) % uint32(n))
	best := q.lanes[start]
	bestLen := best.queued()
	for i := 1; i < n && bestLen > 0; i++ {
		l := q.lanes[(start+i)%n]
		if length := l.queued(); length < bestLen {
			best, bestLen = l, length
		}
	}
	return best
}

// fnv1a is the 32-bit FNV-1a hash of s.
func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// Working reports whether lane i's worker is at work rather than parked or
// gone, and if so an upper bound of how long it has been at its current
// item, at most an IdleTick and a millisecond above the time since it took
// the item out of the lane.
func (q *Queue[T, O]) Working(i int) (bool, time.Duration) {
	return q.lanes[i].working()
}

// Close closes every lane: no more items get in. With discard, the queued
// items are removed, counted as dropped for reason, and passed to settle
// (before the queue can finish), and Close returns how many; otherwise the
// workers deliver them, and Close returns 0. Closing again is harmless.
func (q *Queue[T, O]) Close(discard bool, reason Reason, settle func(T)) int {
	n := 0
	var dropped []T
	for _, l := range q.lanes {
		var done bool
		dropped, done = l.close(discard, reason, dropped[:0])
		for _, it := range dropped {
			settle(it)
		}
		n += len(dropped)
		if done {
			q.laneFinished()
		}
	}
	q.sweep(q.lanes[0]) // lets go of the lane if it holds no position
	return n
}

// laneFinished is called once per lane, when it is done for good; the last
// one finishes the queue.
func (q *Queue[T, O]) laneFinished() {
	if q.liveLanes.Add(-1) == 0 {
		q.finished(q.Owner())
	}
}

// sweep lets the topic's ring clear what l no longer holds.
func (q *Queue[T, O]) sweep(l *Lane[T, O]) {
	if q.topic != nil {
		q.topic.sweep(l)
	}
}

// Counts returns the number of items queued and the number admitted so far
// (Enqueued, but for what the root counts itself).
func (q *Queue[T, O]) Counts() (queued int, enqueued uint64) {
	for _, l := range q.lanes {
		n, e := l.counts()
		queued += n
		enqueued += e
	}
	return queued, enqueued
}

// Busy reports whether some lane has queued items or a worker that is not
// parked.
func (q *Queue[T, O]) Busy() bool {
	for _, l := range q.lanes {
		if l.busy() {
			return true
		}
	}
	return false
}
