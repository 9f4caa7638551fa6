package delivery

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
)

// Ring is how a topic's items reach its queues. It keeps the two delivery
// lists, and one ring of items shared by the "ring readers": the queues
// whose items need nothing of their own on the way in (Block, one lane, no
// filter), which the root makes the default.
//
// A publish writes the item once, into the next position of the ring, and
// then only looks at each reader (Lane.ReaderRoom): whether its worker
// needs waking, and whether it has room, two atomic loads that rarely miss
// the cache. Each reader's worker copies the positions it has not taken
// into its batch, a batch at a time, under its lane's mutex, which no
// producer takes but to wake it or to wait for room. So a reader that
// keeps up costs a publish next to nothing, and readers do not contend with
// the producer for their lanes' cache lines as fifos do.
//
// Every other queue gets its items offered to its lanes (subs). A reader
// that would hold the others back is demoted to that path: when a producer
// waiting for room in it gives up, or when it is so far behind that the
// ring has no slot left. Demotion moves the positions it has admitted and
// not taken into its own fifo, in order, and leaves out the item whose
// producer gave up, which is counted as Canceled, as a fifo would.
//
// Slots are reused only once every reader that the position belongs to has
// taken it; the ring grows, up to its maximum size, before it demotes
// anyone. A grown ring is a new slice: readers copying out of the old one
// are not disturbed. Lock order: mu, then a lane's mu.
type Ring[T comparable, O any] struct {
	mu sync.Mutex

	// slots holds the items of the positions not yet taken by every
	// reader; its length is a power of two. It is replaced, never resized,
	// under mu, and read by workers after tail.
	slots atomic.Pointer[[]T]
	// tail is the next position to write: every position below is written.
	tail atomic.Uint64

	// readers are the lanes reading the ring and subs the queues served by
	// offers. Both only ever grow in place, so that a producer may go on
	// using the slice it read under mu; removals copy.
	readers []*Lane[T, O]
	subs    []*Queue[T, O]
	// lanesOnly holds subs while the ring has no reader, for publishes to
	// read without mu; nil while it has readers.
	lanesOnly atomic.Pointer[[]*Queue[T, O]]
	// holders are the readers, attached or draining, that may still take a
	// position, and minTaken a lower bound of their taken positions. A slot
	// is free once its position is below minTaken.
	holders  []*Lane[T, O]
	minTaken uint64
	// swept is the position below which sweep cleared the slots;
	// sweepTail and sweepLaggard are the tail and the holder furthest
	// behind at its last look, so that it does not look again for nothing.
	swept        uint64
	sweepTail    uint64
	sweepLaggard *Lane[T, O]
	// maxSlots is the size past which the ring demotes instead of growing;
	// MaxRingSlots unless a test set it.
	maxSlots int
}

const (
	// RingInitialSlots is the ring size of a topic's first reader.
	RingInitialSlots = 16
	// MaxRingSlots is the size the ring grows to before it demotes a
	// reader; the root makes only queues of at most a quarter of it
	// readers.
	MaxRingSlots = 4096
)

// NewRing returns a topic's empty delivery lists.
func NewRing[T comparable, O any]() *Ring[T, O] {
	r := &Ring[T, O]{}
	r.lanesOnly.Store(new([]*Queue[T, O]))
	return r
}

// Attach adds q to the delivery lists: as a reader of the ring, starting at
// the next position, if asReader (q must have one lane), and to the queues
// served by offers otherwise.
func (r *Ring[T, O]) Attach(q *Queue[T, O], asReader bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.listsChanged()
	if q.topic != r { // a bound queue's workers may be reading it
		q.topic = r
	}
	if !asReader {
		r.subs = append(r.subs, q)
		return
	}
	l := q.lanes[0]
	t := r.tail.Load()
	l.mu.Lock()
	l.ring = r
	l.start = t
	l.taken.Store(t)
	l.end.Store(noEnd)
	l.roomLimit.Store(t + uint64(l.capacity))
	l.needsWake.Store(!l.running || l.parked)
	l.mu.Unlock()
	if len(r.holders) == 0 {
		r.minTaken = t
	}
	r.readers = append(r.readers, l)
	l.holder = len(r.holders)
	r.holders = append(r.holders, l)
}

// Bind ties q to the ring before Attach, so that its workers let the ring
// sweep: a queue that gets items before it is attached (the root's replay
// offers them) must be bound before its first item.
func (r *Ring[T, O]) Bind(q *Queue[T, O]) {
	q.topic = r
}

// Detach removes q from the delivery lists; a reader keeps the positions
// written so far, to deliver or discard.
func (r *Ring[T, O]) Detach(q *Queue[T, O]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.listsChanged()
	l := q.lanes[0]
	if i := slices.Index(r.readers, l); i >= 0 {
		r.readers = slices.Concat(r.readers[:i], r.readers[i+1:])
		l.cutEnd(r.tail.Load())
		r.dropIfDone(l)
		return
	}
	if i := slices.Index(r.subs, q); i >= 0 {
		r.subs = slices.Concat(r.subs[:i], r.subs[i+1:])
	}
}

// DetachAll removes every queue at once, for a bus's Close.
func (r *Ring[T, O]) DetachAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.listsChanged()
	t := r.tail.Load()
	for _, l := range r.readers {
		l.cutEnd(t)
		r.dropIfDone(l)
	}
	r.readers, r.subs = nil, nil
}

// Len returns the number of queues attached.
func (r *Ring[T, O]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.readers) + len(r.subs)
}

// listsChanged refreshes lanesOnly after a change of readers or subs,
// under mu.
func (r *Ring[T, O]) listsChanged() {
	if len(r.readers) > 0 {
		r.lanesOnly.Store(nil)
		return
	}
	subs := r.subs
	r.lanesOnly.Store(&subs)
}

// Publish writes it to the ring when the ring has readers, and returns the
// readers it is for, with its position, and the queues to offer it to.
// shares, if not nil, is called under the ring's lock with the number of
// readers the item was written for, before any of them can deliver it.
func (r *Ring[T, O]) Publish(it T, shares func(readers int)) (readers []*Lane[T, O], pos uint64, subs []*Queue[T, O]) {
	if lanes := r.lanesOnly.Load(); lanes != nil {
		// No reader: producers of a topic whose queues all have fifos do
		// not contend for mu. A reader attaching meanwhile starts at a
		// later position anyway.
		return nil, 0, *lanes
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.readers) > 0 {
		pos = r.tail.Load()
		slots := r.slotsLocked()
		if pos-r.minTaken >= uint64(len(slots)) {
			slots = r.makeRoom(pos)
		}
		if len(r.readers) > 0 { // unless making room demoted the last one
			if shares != nil {
				shares(len(r.readers))
			}
			slots[pos&uint64(len(slots)-1)] = it
			r.tail.Store(pos + 1)
		}
	}
	return r.readers, pos, r.subs
}

// PublishBatch is Publish for several items, which it writes to
// consecutive positions under one acquisition of the lock, from first on.
// The readers it returns are the readers of every one of them, and subs
// the queues to offer every one to. its must not be longer than
// MaxBatchItems.
func (r *Ring[T, O]) PublishBatch(its []T) (readers []*Lane[T, O], first uint64, subs []*Queue[T, O]) {
	if lanes := r.lanesOnly.Load(); lanes != nil {
		return nil, 0, *lanes
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.readers) == 0 || len(its) == 0 {
		return r.readers, r.tail.Load(), r.subs
	}
	first = r.tail.Load()
	slots := r.slotsLocked()
	// Room for the last position is room for all: a reader demoted to make
	// it is demoted before any of them is written, so that each queue gets
	// every item of the batch one way.
	last := first + uint64(len(its)) - 1
	if last-r.minTaken >= uint64(len(slots)) {
		slots = r.makeRoom(last)
	}
	if len(r.readers) > 0 {
		mask := uint64(len(slots) - 1)
		for i, it := range its {
			slots[(first+uint64(i))&mask] = it
		}
		r.tail.Store(last + 1)
	}
	return r.readers, first, r.subs
}

// slotsLocked returns the ring's slots, making them at the first publish,
// so that idle topics cost no ring. Under mu.
func (r *Ring[T, O]) slotsLocked() []T {
	sp := r.slots.Load()
	if sp == nil {
		sp = new(make([]T, RingInitialSlots))
		r.slots.Store(sp)
	}
	return *sp
}

// MaxBatchItems is the most items PublishBatch takes at once: a quarter of
// the largest ring, so that a batch never needs more room than a ring can
// make without demoting a reader that keeps up.
const MaxBatchItems = MaxRingSlots / 4

// makeRoom frees the slot of position t: it finds the holders' lowest taken
// position, grows the ring, or, at its maximum size, demotes the reader
// furthest behind.
func (r *Ring[T, O]) makeRoom(t uint64) []T {
	for {
		slots := *r.slots.Load()
		low := r.lowestTaken(t)
		r.minTaken = low.taken
		if t-r.minTaken < uint64(len(slots)) {
			return slots
		}
		if len(slots) < cmp.Or(r.maxSlots, MaxRingSlots) {
			r.grow(t)
			continue
		}
		r.demote(low.lane, 0, false)
	}
}

type lowest[T comparable, O any] struct {
	lane  *Lane[T, O]
	taken uint64
}

// lowestTaken drops the holders that have taken all their positions and
// returns the one furthest behind; t if none holds any.
func (r *Ring[T, O]) lowestTaken(t uint64) lowest[T, O] {
	low := lowest[T, O]{taken: t}
	for i := 0; i < len(r.holders); {
		l := r.holders[i]
		taken := l.taken.Load()
		if taken >= l.end.Load() {
			r.dropHolder(l) // moves the last holder to i
			continue
		}
		if taken < low.taken {
			low = lowest[T, O]{lane: l, taken: taken}
		}
		i++
	}
	return low
}

// dropHolder removes l from the holders, if it is one; O(1).
func (r *Ring[T, O]) dropHolder(l *Lane[T, O]) {
	i := l.holder
	if i < 0 || i >= len(r.holders) || r.holders[i] != l {
		return
	}
	last := r.holders[len(r.holders)-1]
	r.holders[i], last.holder = last, i
	r.holders[len(r.holders)-1] = nil
	r.holders = r.holders[:len(r.holders)-1]
	l.holder = -1
}

// dropIfDone removes l from the holders once it has taken all its
// positions.
func (r *Ring[T, O]) dropIfDone(l *Lane[T, O]) {
	if l.taken.Load() >= l.end.Load() {
		r.dropHolder(l)
	}
}

// grow doubles the ring, copying the positions some holder may still take.
func (r *Ring[T, O]) grow(t uint64) {
	old := *r.slots.Load()
	grown := make([]T, 2*len(old))
	oldMask, mask := uint64(len(old)-1), uint64(len(grown)-1)
	for p := r.minTaken; p < t; p++ {
		grown[p&mask] = old[p&oldMask]
	}
	r.slots.Store(&grown)
}

// Skip is what became of the position that a producer gave up on
// (Ring.Cancel).
type Skip uint8

const (
	SkipQueued  Skip = iota // the lane has it: taken, or moved to its fifo
	SkipRemoved             // left out, and counted as Canceled
	SkipCut                 // past the end a close gave the lane: not the lane's
)

// Cancel takes position pos away from ring reader l, counted as Canceled,
// because its producer's ctx ended. Position pos may be l's already (taken
// meanwhile, or moved to its fifo), and then stays.
func (r *Ring[T, O]) Cancel(l *Lane[T, O], pos uint64) Skip {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.demote(l, pos, true)
}

// demote moves l off the ring, under mu. The positions it has admitted and
// not taken go into its own fifo, in order, but for skip when hasSkip; the
// positions past its room belong to producers still waiting for it, who
// queue their items in the fifo themselves once it has room (see
// Lane.WaitRing), as they would had l never read the ring. An attached l
// then gets its items by offers. taken is left at the end of the positions
// moved, so that a waiting producer can tell whether its position was one
// of them.
func (r *Ring[T, O]) demote(l *Lane[T, O], skip uint64, hasSkip bool) Skip {
	l.mu.Lock()
	if l.ring != r {
		// Demoted already: skip may be a position left to its producer,
		// who gives up on it.
		res := SkipQueued
		if hasSkip && skip >= l.taken.Load() {
			res = SkipCut
			if skip < l.end.Load() && !l.closed {
				l.q.counters.Canceled.Add(1)
				res = SkipRemoved
			}
		}
		l.mu.Unlock()
		return res
	}
	end := min(r.tail.Load(), l.end.Load())
	if hasSkip && skip >= end {
		l.mu.Unlock()
		return SkipCut
	}
	taken := l.taken.Load()
	admitted := max(min(end, l.ringRoomLimit()), taken)
	res := SkipQueued
	slots := *r.slots.Load()
	mask := uint64(len(slots) - 1)
	var sig wakeup
	for p := taken; p < admitted; p++ {
		if hasSkip && p == skip {
			continue
		}
		if w := l.appendLocked(slots[p&mask]); w != wakeNone {
			sig = w
		}
	}
	l.enqueued += admitted - l.start
	if hasSkip && skip >= taken {
		// Given up by its producer: counted as Canceled, and not as queued
		// if it was admitted.
		if skip < admitted {
			l.enqueued--
		}
		l.q.counters.Canceled.Add(1)
		res = SkipRemoved
	}
	l.taken.Store(admitted)
	l.ring = nil
	l.wakeWaitersLocked() // the producers left waiting now wait for the fifo's room
	attached := l.end.Load() == noEnd
	l.mu.Unlock()
	l.signal(sig)

	if i := slices.Index(r.readers, l); i >= 0 {
		r.readers = slices.Concat(r.readers[:i], r.readers[i+1:])
	}
	r.dropHolder(l)
	if attached {
		r.subs = append(r.subs, l.q)
	}
	r.listsChanged()
	return res
}

// sweep clears the slots whose positions every holder has taken, so that a
// quiet topic does not keep its last items alive. A lane's worker calls it
// when it retires or exits, and its queue when it closes. It looks at the
// holders only when there is something to clear and something changed
// since its last look: a new position, or l being the holder that was
// furthest behind; so the many lanes of a topic retiring together do not
// each scan all the others.
func (r *Ring[T, O]) sweep(l *Lane[T, O]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropIfDone(l)
	sp := r.slots.Load()
	t := r.tail.Load()
	if sp == nil || r.swept >= t || (t == r.sweepTail && l != r.sweepLaggard) {
		return
	}
	low := r.lowestTaken(t)
	r.sweepTail, r.sweepLaggard = t, low.lane
	slots := *sp
	mask := uint64(len(slots) - 1)
	var none T
	for p := max(r.swept, t-min(t, uint64(len(slots)))); p < low.taken; p++ {
		slots[p&mask] = none
	}
	r.swept = max(r.swept, low.taken)
}
