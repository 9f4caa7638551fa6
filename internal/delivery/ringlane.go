package delivery

import (
	"context"
	"math"
	"sync/atomic"
)

// ringLane is the state of a lane that reads its topic's ring (see Ring).
// While ring is set, under the lane's mu, the lane takes its items from the
// ring instead of its fifo. The lane's positions are [start, end); end is
// noEnd until the queue is detached, and never grows. taken is the next
// position to take: all below are copied out of the ring, or, once the
// lane has left the ring, moved into its fifo. roomLimit caches, for
// producers, the first position the lane has no room for. needsWake
// mirrors "no worker, or a parked one" for producers, who look without mu.
// taken and needsWake change under mu.
type ringLane[T comparable, O any] struct {
	ring      *Ring[T, O]
	holder    int // index in ring.holders, or -1; under ring.mu
	start     uint64
	end       atomic.Uint64
	taken     atomic.Uint64
	roomLimit atomic.Uint64
	needsWake atomic.Bool
}

// noEnd is the end position of a lane still attached.
const noEnd = math.MaxUint64

// setNeedsWake updates the mirror that producers of a ring reader read;
// other lanes spare the atomic write.
func (l *Lane[T, O]) setNeedsWake(v bool) {
	if l.ring != nil {
		l.needsWake.Store(v)
	}
}

// cutEnd lowers the end of the lane's positions to p, unless it is lower
// already: an end never grows, so a lane that closed can never get back a
// position it gave up.
func (l *Lane[T, O]) cutEnd(p uint64) {
	for {
		end := l.end.Load()
		if p >= end || l.end.CompareAndSwap(end, p) {
			return
		}
	}
}

// ringWaiting returns the number of the lane's positions it has not taken;
// zero for a lane not reading the ring. Under mu.
func (l *Lane[T, O]) ringWaiting() int {
	if l.ring == nil {
		return 0
	}
	return int(min(l.ring.tail.Load(), l.end.Load()) - l.taken.Load())
}

// ringAdmitted returns the end of the lane's positions that count as
// queued: those of producers still waiting for its room do not, as they
// would not be in a fifo yet. Under mu.
func (l *Lane[T, O]) ringAdmitted() uint64 {
	return min(l.ring.tail.Load(), l.end.Load(), l.ringRoomLimit())
}

// ringQueued returns the number of the lane's admitted positions it has
// not taken, for its queue length. Under mu.
func (l *Lane[T, O]) ringQueued() int {
	if l.ring == nil {
		return 0
	}
	return int(max(l.ringAdmitted(), l.taken.Load()) - l.taken.Load())
}

// ringEnqueued returns the number of positions admitted while the lane read
// the ring; once it has left the ring they are in enqueued. Under mu.
func (l *Lane[T, O]) ringEnqueued() uint64 {
	if l.ring == nil {
		return 0
	}
	return max(l.ringAdmitted(), l.taken.Load()) - l.start
}

// takeRingLocked copies the next positions of the lane into batch and
// returns how many.
func (l *Lane[T, O]) takeRingLocked(batch []T) int {
	end := min(l.ring.tail.Load(), l.end.Load()) // tail before slots: see Ring
	slots := *l.ring.slots.Load()
	mask := uint64(len(slots) - 1)
	taken := l.taken.Load()
	k := int(min(end-taken, uint64(len(batch))))
	for i := range k {
		batch[i] = slots[(taken+uint64(i))&mask]
	}
	l.taken.Store(taken + uint64(k))
	return k
}

// takeAllRingLocked appends every position the lane has not taken to out,
// for a discarding close.
func (l *Lane[T, O]) takeAllRingLocked(out []T) []T {
	if l.ring == nil {
		return out
	}
	end := min(l.ring.tail.Load(), l.end.Load())
	if l.taken.Load() >= end {
		return out
	}
	slots := *l.ring.slots.Load()
	mask := uint64(len(slots) - 1)
	for p := l.taken.Load(); p < end; p++ {
		out = append(out, slots[p&mask])
	}
	l.taken.Store(end)
	return out
}

// ringRoomLimit returns the first position the lane has no room for: its
// capacity past the positions it has delivered (taken, less its batch's
// unclaimed items). Under mu, while the lane reads the ring: the limit then
// never decreases.
func (l *Lane[T, O]) ringRoomLimit() uint64 {
	taken := l.taken.Load()
	return taken - uint64(l.unclaimed()) + uint64(l.capacity)
}

// ReaderRoomCached reports true when ring reader l surely has room for
// position pos and its worker needs no waking, from two atomic loads, and
// false when the producer must ask ReaderRoom. It is small enough to be
// inlined in the producer's loop over the readers.
func (l *Lane[T, O]) ReaderRoomCached(pos uint64) bool {
	return !l.needsWake.Load() && pos < l.roomLimit.Load()
}

// ReaderRoom is what a producer that wrote position pos to the ring does
// for this reader without waiting: it wakes the reader's worker if that
// needs it, and reports whether the reader has room for pos. Without room,
// the producer must call WaitRing.
func (l *Lane[T, O]) ReaderRoom(pos uint64) bool {
	if l.needsWake.Load() {
		l.mu.Lock()
		var sig wakeup
		if l.ringWaiting() > 0 {
			sig = l.wakeLocked()
		}
		l.mu.Unlock()
		l.signal(sig)
	}
	if pos < l.roomLimit.Load() {
		return true
	}
	l.mu.Lock()
	if l.ring == nil {
		l.mu.Unlock()
		return false // left the ring: WaitRing settles pos
	}
	limit := l.ringRoomLimit()
	l.mu.Unlock()
	if pos >= limit {
		return false
	}
	l.roomLimit.Store(limit)
	return true
}

// RingWait is what became of a producer's wait for room in a ring reader.
type RingWait uint8

const (
	RingQueued   RingWait = iota // the lane has the item
	RingCut                      // a close ended the lane first: see WaitRing
	RingExpired                  // ctx ended with the position in the ring, for the caller to take away (Ring.Cancel)
	RingCanceled                 // ctx ended while waiting for room in the lane's fifo: counted as Canceled
)

// WaitRing waits until ring reader l has room for position pos, has taken
// it, has moved it to its fifo or has closed. If l leaves the ring with pos
// left to its producer (see Ring.demote), WaitRing queues it, the item of
// pos, in the fifo, waiting for room as OfferWait does.
//
// RingCut says that a close ended the lane before pos: the item is not the
// lane's, and was counted as Canceled, as a lane counts an item whose
// producer waited in vain. A lane closed before the wait began has retired
// its counters or may have: the item is not counted then, as OfferWait
// does not count it.
func (l *Lane[T, O]) WaitRing(ctx context.Context, pos uint64, it T) (RingWait, error) {
	l.mu.Lock()
	open := !l.closed
	err := l.waitRoomLocked(ctx, func() bool {
		return l.ring == nil || pos < l.taken.Load() || pos < l.ringRoomLimit()
	})
	switch {
	case pos >= l.end.Load():
		if open {
			l.q.counters.Canceled.Add(1)
		}
		l.unlockFinishing()
		return RingCut, nil
	case l.ring != nil:
		l.unlockFinishing() // the wait may have been all that kept a closed lane
		if err != nil {
			return RingExpired, err
		}
		return RingQueued, nil
	case pos < l.taken.Load():
		l.unlockFinishing()
		return RingQueued, nil // moved to the fifo
	}
	if err == nil {
		var queued bool
		if queued, err = l.pushWhenRoomLocked(ctx, it); queued {
			return RingQueued, nil
		}
	}
	if open {
		l.q.counters.Canceled.Add(1)
	}
	l.unlockFinishing()
	if err != nil {
		return RingCanceled, err
	}
	return RingCut, nil
}
