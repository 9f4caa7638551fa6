package eventbus

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// topicRing is how a topic's publishes reach its subscribers. It keeps the
// two delivery lists, and one ring of events shared by the "ring readers":
// the subscriptions whose events need nothing of their own on the way in
// (OverflowBlock, one lane, no filter, no transport), which is the default.
//
// A publish writes the event once, into the next position of the ring, and
// then only looks at each reader: whether its worker needs waking, and
// whether it has room, two atomic loads that rarely miss the cache. Each
// reader's worker copies the positions it has not taken into its batch, a
// batch at a time, under its lane's mutex, which no publisher takes but to
// wake it or to wait for room. So a reader that keeps up costs a publish
// next to nothing, and readers do not contend with the publisher for their
// lanes' cache lines as lane queues do.
//
// Every other subscription gets its events offered to its lane queues as
// before (subs). A reader that would hold the others back is demoted to
// that path: when a publish waiting for room in it gives up, or when it is
// so far behind that the ring has no slot left. Demotion copies the
// positions it has not taken into its own lane, in order, and leaves out the
// event whose publish gave up, which is counted as Canceled, as a lane
// would.
//
// Slots are reused only once every reader that the position belongs to has
// taken it; the ring grows, up to ringMaxSlots, before it demotes anyone. A
// grown ring is a new slice: readers copying out of the old one are not
// disturbed. Lock order: mu, then a lane's mu.
type topicRing struct {
	mu sync.Mutex

	// slots holds the events of the positions not yet taken by every
	// reader; its length is a power of two. It is replaced, never resized,
	// under mu, and read by workers after tail.
	slots atomic.Pointer[[]item]
	// tail is the next position to write: every position below is written.
	tail atomic.Uint64

	// readers are the lanes reading the ring and subs the subscriptions
	// served by offers. Both only ever grow in place, so that a publisher
	// may go on using the slice it read under mu; removals copy.
	readers []*queue
	subs    []*Subscription
	// lanesOnly holds subs while the ring has no reader, for publishes to
	// read without mu; nil while it has readers.
	lanesOnly atomic.Pointer[[]*Subscription]
	// holders are the readers, attached or draining, that may still take a
	// position, and minTaken a lower bound of their taken positions. A slot
	// is free once its position is below minTaken.
	holders  []*queue
	minTaken uint64
	// swept is the position below which sweep cleared the slots;
	// sweepTail and sweepLaggard are the tail and the holder furthest
	// behind at its last look, so that it does not look again for nothing.
	swept        uint64
	sweepTail    uint64
	sweepLaggard *queue
	// maxSlots is the size past which the ring demotes instead of growing;
	// ringMaxSlots unless a test set it.
	maxSlots int
}

// noEnd is the end position of a lane still attached.
const noEnd = math.MaxUint64

const (
	// ringInitialSlots is the ring size of a topic's first reader.
	ringInitialSlots = 16
	// ringMaxSlots is the size the ring grows to before it demotes a
	// reader; four times the largest capacity of a reader.
	ringMaxSlots = 4 * DefaultQueueCapacity
)

// ringEligible reports whether a subscription with cfg can be a ring reader.
func ringEligible(cfg subscribeConfig, remote bool) bool {
	return !remote && cfg.overflow == OverflowBlock && cfg.concurrency == 1 &&
		cfg.filter == nil && cfg.capacity <= DefaultQueueCapacity
}

// attach adds s to the delivery lists: as a reader of the ring, starting at
// the next position, if asRing, and to subs otherwise.
func (r *topicRing) attach(s *Subscription, asRing bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.listsChanged()
	if !asRing {
		r.subs = append(r.subs, s)
		return
	}
	q := s.lanes[0]
	t := r.tail.Load()
	q.mu.Lock()
	q.ring = r
	q.start = t
	q.taken.Store(t)
	q.end.Store(noEnd)
	q.roomLimit.Store(t + uint64(q.capacity))
	q.needsWake.Store(!q.running || q.parked)
	q.mu.Unlock()
	if len(r.holders) == 0 {
		r.minTaken = t
	}
	r.readers = append(r.readers, q)
	q.holder = len(r.holders)
	r.holders = append(r.holders, q)
}

// dropHolder removes q from the holders, if it is one; O(1).
func (r *topicRing) dropHolder(q *queue) {
	i := q.holder
	if i < 0 || i >= len(r.holders) || r.holders[i] != q {
		return
	}
	last := r.holders[len(r.holders)-1]
	r.holders[i], last.holder = last, i
	r.holders[len(r.holders)-1] = nil
	r.holders = r.holders[:len(r.holders)-1]
	q.holder = -1
}

// dropIfDone removes q from the holders once it has taken all its
// positions.
func (r *topicRing) dropIfDone(q *queue) {
	if q.taken.Load() >= q.end.Load() {
		r.dropHolder(q)
	}
}

// detach removes s from the delivery lists; a reader keeps the positions
// written so far, to drain or discard.
func (r *topicRing) detach(s *Subscription) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.listsChanged()
	q := s.lanes[0]
	if i := slices.Index(r.readers, q); i >= 0 {
		r.readers = slices.Concat(r.readers[:i], r.readers[i+1:])
		q.cutEnd(r.tail.Load())
		r.dropIfDone(q)
		return
	}
	if i := slices.Index(r.subs, s); i >= 0 {
		r.subs = slices.Concat(r.subs[:i], r.subs[i+1:])
	}
}

// detachAll removes every subscriber at once, for Close.
func (r *topicRing) detachAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.listsChanged()
	t := r.tail.Load()
	for _, q := range r.readers {
		q.cutEnd(t)
		r.dropIfDone(q)
	}
	r.readers, r.subs = nil, nil
}

// listsChanged refreshes lanesOnly after a change of readers or subs,
// under mu.
func (r *topicRing) listsChanged() {
	if len(r.readers) > 0 {
		r.lanesOnly.Store(nil)
		return
	}
	subs := r.subs
	r.lanesOnly.Store(&subs)
}

// publish writes it to the ring when the ring has readers, and returns the
// readers it is for, with its position, and the subscriptions to offer it
// to. With a completion, each reader gets a share of it.
func (r *topicRing) publish(m Message, wait *syncWait) (readers []*queue, pos uint64, subs []*Subscription) {
	if lanes := r.lanesOnly.Load(); lanes != nil {
		// No reader: publishers of a topic whose subscribers all have lane
		// queues do not contend for mu, as before the ring. A reader
		// attaching meanwhile starts at a later position anyway.
		return nil, 0, *lanes
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.readers) > 0 {
		pos = r.tail.Load()
		sp := r.slots.Load()
		if sp == nil { // made at the first publish, so idle topics cost no ring
			sp = new(make([]item, ringInitialSlots))
			r.slots.Store(sp)
		}
		slots := *sp
		if pos-r.minTaken >= uint64(len(slots)) {
			slots = r.makeRoom(pos)
		}
		if len(r.readers) > 0 { // unless making room demoted the last one
			if wait != nil {
				wait.addN(len(r.readers))
			}
			slots[pos&uint64(len(slots)-1)] = newItem(m, wait)
			r.tail.Store(pos + 1)
		}
	}
	return r.readers, pos, r.subs
}

// makeRoom frees the slot of position t: it finds the holders' lowest taken
// position, grows the ring, or, at ringMaxSlots, demotes the reader furthest
// behind.
func (r *topicRing) makeRoom(t uint64) []item {
	for {
		slots := *r.slots.Load()
		low := r.lowestTaken(t)
		r.minTaken = low.taken
		if t-r.minTaken < uint64(len(slots)) {
			return slots
		}
		if limit := cmp.Or(r.maxSlots, ringMaxSlots); len(slots) < limit {
			r.grow(t)
			continue
		}
		r.demote(low.lane, 0, false)
	}
}

type lowest struct {
	lane  *queue
	taken uint64
}

// lowestTaken drops the holders that have taken all their positions and
// returns the one furthest behind; t if none holds any.
func (r *topicRing) lowestTaken(t uint64) lowest {
	low := lowest{taken: t}
	for i := 0; i < len(r.holders); {
		q := r.holders[i]
		taken := q.taken.Load()
		if taken >= q.end.Load() {
			r.dropHolder(q) // moves the last holder to i
			continue
		}
		if taken < low.taken {
			low = lowest{lane: q, taken: taken}
		}
		i++
	}
	return low
}

// grow doubles the ring, copying the positions some holder may still take.
func (r *topicRing) grow(t uint64) {
	old := *r.slots.Load()
	grown := make([]item, 2*len(old))
	oldMask, mask := uint64(len(old)-1), uint64(len(grown)-1)
	for p := r.minTaken; p < t; p++ {
		grown[p&mask] = old[p&oldMask]
	}
	r.slots.Store(&grown)
}

// skipResult is what became of the position a demotion was to leave out.
type skipResult uint8

const (
	skipQueued  skipResult = iota // the lane has it: taken, or moved by an earlier demotion
	skipRemoved                   // left out, and counted as Canceled
	skipCut                       // past the end a close gave the lane: not the lane's
)

// demote moves q off the ring, under mu. The positions it has admitted and
// not taken go into its own lane queue, in order, but for skip when
// hasSkip; the positions past its room belong to publishers still waiting
// for it, who queue their events on the lane themselves once it has room
// (see waitRingRoom), as they would had q never read the ring. An attached
// q then gets its events by offers. taken is left at the end of the
// positions moved, so that a waiting publisher can tell whether its
// position was one of them.
func (r *topicRing) demote(q *queue, skip uint64, hasSkip bool) skipResult {
	q.mu.Lock()
	if q.ring != r {
		// Demoted already: skip may be a position left to its publisher,
		// who gives up on it.
		res := skipQueued
		if hasSkip && skip >= q.taken.Load() {
			res = skipCut
			if skip < q.end.Load() && !q.closed {
				q.owner.counters.canceled.Add(1)
				res = skipRemoved
			}
		}
		q.mu.Unlock()
		return res
	}
	end := min(r.tail.Load(), q.end.Load())
	if hasSkip && skip >= end {
		q.mu.Unlock()
		return skipCut
	}
	taken := q.taken.Load()
	admitted := max(min(end, q.ringRoomLimit()), taken)
	res := skipQueued
	slots := *r.slots.Load()
	mask := uint64(len(slots) - 1)
	var sig wakeup
	for p := taken; p < admitted; p++ {
		if hasSkip && p == skip {
			continue
		}
		if w := q.appendLocked(slots[p&mask]); w != wakeNone {
			sig = w
		}
	}
	q.enqueued += admitted - q.start
	if hasSkip && skip >= taken {
		// Given up by its publisher: counted as Canceled, and not as
		// queued if it was admitted.
		if skip < admitted {
			q.enqueued--
		}
		q.owner.counters.canceled.Add(1)
		res = skipRemoved
	}
	q.taken.Store(admitted)
	q.ring = nil
	q.wakeWaitersLocked() // the publishers left waiting now wait for the lane's room
	attached := q.end.Load() == noEnd
	q.mu.Unlock()
	q.signal(sig)

	if i := slices.Index(r.readers, q); i >= 0 {
		r.readers = slices.Concat(r.readers[:i], r.readers[i+1:])
	}
	r.dropHolder(q)
	if attached {
		r.subs = append(r.subs, q.owner)
	}
	r.listsChanged()
	return res
}

// appendLocked queues it, for demotion: the positions moved were admitted
// already, so they fit in the capacity. It counts nothing.
func (q *queue) appendLocked(it item) wakeup {
	if q.n == len(q.buf) {
		buf := make([]item, max(2*len(q.buf), 1))
		for i := range q.n {
			buf[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = buf, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = it
	q.n++
	return q.wakeLocked()
}

// sweep clears the slots whose positions every holder has taken, so that a
// quiet topic does not keep its last events alive. The workers of q call it
// when they retire or exit, and its subscription when it stops. It looks at
// the holders only when there is something to clear and something changed
// since its last look: a new position, or q being the holder that was
// furthest behind; so the many lanes of a topic retiring together do not
// each scan all the others.
func (r *topicRing) sweep(q *queue) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropIfDone(q)
	sp := r.slots.Load()
	t := r.tail.Load()
	if sp == nil || r.swept >= t || (t == r.sweepTail && q != r.sweepLaggard) {
		return
	}
	low := r.lowestTaken(t)
	r.sweepTail, r.sweepLaggard = t, low.lane
	slots := *sp
	mask := uint64(len(slots) - 1)
	for p := max(r.swept, t-min(t, uint64(len(slots)))); p < low.taken; p++ {
		slots[p&mask] = item{}
	}
	r.swept = max(r.swept, low.taken)
}

// cutEnd lowers the end of the lane's positions to p, unless it is lower
// already: an end never grows, so a lane that closed can never get back a
// position it gave up.
func (q *queue) cutEnd(p uint64) {
	for {
		end := q.end.Load()
		if p >= end || q.end.CompareAndSwap(end, p) {
			return
		}
	}
}

// ringWaiting returns the number of the lane's positions it has not taken;
// zero for a lane not in ring mode. Under mu.
func (q *queue) ringWaiting() int {
	if q.ring == nil {
		return 0
	}
	return int(min(q.ring.tail.Load(), q.end.Load()) - q.taken.Load())
}

// ringAdmitted returns the end of the lane's positions that count as
// queued: those of publishers still waiting for its room do not, as they
// would not be in a lane queue yet. Under mu.
func (q *queue) ringAdmitted() uint64 {
	return min(q.ring.tail.Load(), q.end.Load(), q.ringRoomLimit())
}

// ringQueued returns the number of the lane's admitted positions it has not
// taken, for its queue length. Under mu.
func (q *queue) ringQueued() int {
	if q.ring == nil {
		return 0
	}
	return int(max(q.ringAdmitted(), q.taken.Load()) - q.taken.Load())
}

// ringEnqueued returns the number of positions admitted while the lane read
// the ring; after a demotion they are in enqueued. Under mu.
func (q *queue) ringEnqueued() uint64 {
	if q.ring == nil {
		return 0
	}
	return max(q.ringAdmitted(), q.taken.Load()) - q.start
}

// takeRingLocked copies the next positions of the lane into batch and
// returns how many.
func (q *queue) takeRingLocked(batch []item) int {
	end := min(q.ring.tail.Load(), q.end.Load()) // tail before slots: see topicRing
	slots := *q.ring.slots.Load()
	mask := uint64(len(slots) - 1)
	taken := q.taken.Load()
	k := int(min(end-taken, uint64(len(batch))))
	for i := range k {
		batch[i] = slots[(taken+uint64(i))&mask]
	}
	q.taken.Store(taken + uint64(k))
	return k
}

// takeAllRingLocked appends every position the lane has not taken to out,
// for a discarding close.
func (q *queue) takeAllRingLocked(out []item) []item {
	if q.ring == nil {
		return out
	}
	end := min(q.ring.tail.Load(), q.end.Load())
	if q.taken.Load() >= end {
		return out
	}
	slots := *q.ring.slots.Load()
	mask := uint64(len(slots) - 1)
	for p := q.taken.Load(); p < end; p++ {
		out = append(out, slots[p&mask])
	}
	q.taken.Store(end)
	return out
}

// ringRoomLimit returns the first position the lane has no room for: its
// capacity past the positions it has delivered (taken, less its batch's
// unclaimed items). Under mu, while the lane reads the ring: the limit then
// never decreases.
func (q *queue) ringRoomLimit() uint64 {
	taken := q.taken.Load()
	return taken - uint64(q.unclaimed()) + uint64(q.capacity)
}

// ringRoom reports whether ring reader q has room for position pos, and the
// room limit that publishers may cache; false once q has left the ring,
// whose publishers then settle pos with waitRingRoom.
func (q *queue) ringRoom(pos uint64) (limit uint64, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ring == nil {
		return 0, false
	}
	limit = q.ringRoomLimit()
	return limit, pos < limit
}

// ringWait is what became of a publisher's wait for room in a ring reader.
type ringWait uint8

const (
	ringWaitQueued   ringWait = iota // the lane has the event
	ringWaitCut                      // a close ended the lane first: see waitRingRoom
	ringWaitExpired                  // ctx ended with the position in the ring, for the caller to take away
	ringWaitCanceled                 // ctx ended while waiting for room in the lane: counted as Canceled
)

// waitRingRoom waits until ring reader q has room for position pos, has
// taken it, has moved it to its own lane or has closed. If q leaves the ring
// with pos left to its publisher (see demote), it queues it, the item of
// pos, on the lane, waiting for room as a lane's publisher does.
//
// ringWaitCut says that a close ended the lane before pos: the event is not
// the lane's, and was counted as Canceled, as a lane counts an event whose
// publisher waited in vain. A lane closed before the wait began has retired
// its counters or may have: the event is not counted then, as offerWait
// does not count it.
func (q *queue) waitRingRoom(ctx context.Context, pos uint64, it item) (ringWait, error) {
	q.mu.Lock()
	open := !q.closed
	err := q.waitRoomLocked(ctx, func() bool {
		return q.ring == nil || pos < q.taken.Load() || pos < q.ringRoomLimit()
	})
	switch {
	case pos >= q.end.Load():
		if open {
			q.owner.counters.canceled.Add(1)
		}
		q.unlockFinishing()
		return ringWaitCut, nil
	case q.ring != nil:
		q.unlockFinishing() // the wait may have been all that kept a closed lane
		if err != nil {
			return ringWaitExpired, err
		}
		return ringWaitQueued, nil
	case pos < q.taken.Load():
		q.unlockFinishing()
		return ringWaitQueued, nil // moved to the lane
	}
	if err == nil {
		err = q.waitRoomLocked(ctx, func() bool { return q.queuedLocked() < q.capacity })
		if err == nil && !q.closed {
			sig := q.pushLocked(it)
			q.mu.Unlock()
			q.signal(sig)
			return ringWaitQueued, nil
		}
	}
	if open {
		q.owner.counters.canceled.Add(1)
	}
	q.unlockFinishing()
	if err != nil {
		return ringWaitCanceled, err
	}
	return ringWaitCut, nil
}
