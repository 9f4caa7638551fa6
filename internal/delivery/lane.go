package delivery

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Lane is a bounded FIFO of items with many producers and one consumer,
// its worker: one lane of a subscription's queue. The worker goroutine
// exists only while the lane is in use: an item for a lane without one
// starts it; when the lane runs empty the worker parks, and the next item
// wakes it through a one-slot channel, which costs far less than starting a
// goroutine per item and keeps the delivery latency of a steady stream low.
// A worker idle for about IdleTick exits, so a subscription that has gone
// quiet, like one that never got an item, costs no goroutine. Producers
// never wake a worker that is not parked.
//
// The worker takes up to len(batch) items out of the lane under one lock
// acquisition, so that it does not contend with the producers for mu on
// every item. Taken items stay queued until the worker claims each one,
// just before delivering it, with an atomic increment of claim: they still
// count against the capacity, DropOldest can still evict the oldest of
// them, and a discarding close still drops them, each of those claiming
// under mu in the same way, so every item is claimed exactly once. The
// worker only reads the batch's slots as it claims them; slots are written
// under mu alone (the worker's refill, an eviction, a discarding close), so
// Oldest may read the first unclaimed slot under mu, and Current the
// worker's own. A claimed item stays in its slot until the next refill, or
// until the worker parks or exits; evictions and a discarding close clear
// the slots they claim.
// All other state is guarded by mu, which is never held while the root's
// code runs.
//
// Once the worker has claimed every item of a batch it calls the queue's
// BatchDone, if any, before it takes more, parks or exits, so that the
// root may count the batch's outcomes together.
//
// The lane also keeps its queue's admission counts (enqueued, and the
// Counters of items dropped or refused) under mu, so that no count can land
// after the lane has finished: only then may the root retire its counters.
//
// A lane reading its topic's ring (see Ring) keeps its items there instead
// of in fifo: the worker's batches come from the ring, and producers do not
// push but only wake the worker. The lifecycle, the batch, the claims and
// the counts are the same.
type Lane[T comparable, O any] struct {
	// The fields are in the order of their cache lines: first what
	// producers use under mu, then what the worker uses per item, then the
	// rest, so that the two sides share as few lines as they can.
	mu       sync.Mutex
	fifo     fifo[T]
	capacity int
	closed   bool  // no more items
	running  bool  // a worker goroutine is handling this lane (perhaps parked)
	parked   bool  // the worker waits on wake for the lane to get work
	finished bool  // closed, empty, no worker, no waiting producer, no pin: done for good
	pins     int32 // outcomes being counted outside the lane (see Pin)

	// wake carries one token to a parked worker; made with the first worker.
	wake chan struct{}
	// idle runs idleCheck every IdleTick while the lane has a worker; made
	// at the worker's first park. recent says that the worker took items
	// since the last check; retire tells a parked worker to exit.
	idle   *time.Timer
	recent bool
	retire bool
	// refills counts the batches the worker took, and tickRefills is its
	// value at the last idle check; with tickAt, the time of that check
	// (or of the worker's start), and batchAfter, a time the current batch
	// was taken after, they bound how long the worker has been at its
	// current item (see working) without reading the clock per batch.
	refills, tickRefills uint16

	// batch holds the items the worker took out of the lane; batch[:held]
	// is refilled only by the worker under mu, when claim >= held, and a
	// slot is otherwise written only under mu, by whoever claimed it (an
	// eviction, a discarding close). Made with the first worker.
	batch []T
	held  atomic.Int32
	// claim counts the batch items claimed; it may run past held.
	claim atomic.Int32

	// space is closed (and replaced) when a claim or pop makes room while
	// producers wait for it, or when the lane closes or leaves the ring.
	// waiters changes under mu; the worker reads it without, after
	// claiming (see waitRoomLocked).
	space   chan struct{}
	waiters atomic.Int32
	// drops is the state of the lock-free drops of a dropsWhenFull lane:
	// dropFull says that an offer found the lane full and dropped or
	// refused its item, and that no claim or close has made room since;
	// offers then drop without taking mu, so that a flood of them does not
	// keep the worker from the lock it needs to refill its batch. dropShut
	// mirrors closed, and the bits above count the offers counting their
	// drop (see offerFull).
	drops atomic.Uint32

	// length mirrors fifo.n for lock-free reads, kept only when the queue
	// has several lanes to choose from (mirrored), to spare every push of
	// the common single-lane case an atomic write.
	length   atomic.Int64
	mirrored bool
	// dropsWhenFull says that the policy drops or refuses an item that
	// finds the lane full (DropNewest, Fail).
	dropsWhenFull bool
	batchAfter    int32 // see refills
	// enqueued counts the items admitted; it is the lane's share of the
	// queue's Enqueued, read under mu.
	enqueued uint64

	q      *Queue[T, O]
	index  int32
	tickAt int32 // see refills
	// owner and deliver are the queue's, copied here so that the worker
	// reads nothing per item from the queue, whose lane-choice counter
	// producers write.
	owner     O
	deliver   func(owner O, lane int, it T)
	batchDone func(owner O, lane int)
	// work is the worker's body, made once so that starting a worker
	// allocates nothing.
	work func()

	ringLane[T, O]
}

// batchSlots is the most items a worker takes out of its lane at once.
const batchSlots = 16

func newLane[T comparable, O any](q *Queue[T, O], cfg QueueConfig[T, O], index, capacity int) *Lane[T, O] {
	l := &Lane[T, O]{
		q: q, index: int32(index), capacity: capacity, owner: cfg.Owner, deliver: cfg.Deliver, batchDone: cfg.BatchDone,
		fifo: newFIFO[T](capacity), mirrored: cfg.Lanes > 1,
		dropsWhenFull: cfg.Policy == DropNewest || cfg.Policy == Fail,
	}
	l.holder = -1
	l.work = l.run
	return l
}

// Owner returns the owner of the lane's queue.
func (l *Lane[T, O]) Owner() O { return l.owner }

// Admission is what became of an offered item.
type Admission uint8

const (
	Admitted Admission = iota // queued
	Full                      // full under Block: the producer may wait (OfferWait)
	Dropped                   // full under DropNewest: counted as QueueFull
	Refused                   // full under Fail: counted as Rejected
	Closed                    // the lane is closed: not counted, not for this queue
)

// Offer adds it if there is room, or applies the queue's policy. Under
// DropOldest a full lane drops its oldest item to make room and returns it,
// counted as Evicted, for the caller to settle. Under DropNewest and Fail,
// offers to a lane that is still full since an offer found it so drop
// without taking the lock (see offerFull).
func (l *Lane[T, O]) Offer(it T) (adm Admission, evicted T, wasEvicted bool) {
	if l.dropsWhenFull && l.drops.Load()&dropFull != 0 {
		if adm, ok := l.offerFull(); ok {
			return adm, evicted, false
		}
	}
	l.mu.Lock()
	if l.fifo.n+int(l.held.Load()) >= l.capacity || l.closed {
		adm, evicted, wasEvicted, sig := l.offerFullLocked(it)
		l.mu.Unlock()
		l.signal(sig)
		return adm, evicted, wasEvicted
	}
	// The common case, kept free of defer: with the many returns of the
	// full case, a deferred unlock would not be open-coded.
	sig := l.pushLocked(it)
	l.mu.Unlock()
	l.signal(sig)
	return Admitted, evicted, false
}

// offerFullLocked is Offer when the lane is closed or may be full.
func (l *Lane[T, O]) offerFullLocked(it T) (Admission, T, bool, wakeup) {
	var none T
	if l.closed {
		return Closed, none, false, wakeNone
	}
	if l.queuedLocked() < l.capacity {
		return Admitted, none, false, l.pushLocked(it)
	}
	c := l.q.counters
	switch l.q.policy {
	case DropOldest:
		old, evicted := l.evictLocked()
		return Admitted, old, evicted, l.pushLocked(it)
	case DropNewest:
		c.QueueFull.Add(1)
		l.drops.Or(dropFull)
		return Dropped, none, false, wakeNone
	case Fail:
		c.Rejected.Add(1)
		l.drops.Or(dropFull)
		return Refused, none, false, wakeNone
	}
	return Full, none, false, wakeNone
}

// The bits of Lane.drops.
const (
	dropFull    = 1 << 0
	dropShut    = 1 << 1
	oneDropper  = 1 << 2
	lessDropper = ^uint32(oneDropper - 1) // adding it subtracts oneDropper
)

// offerFull drops or refuses an item, without taking mu, if the lane is
// still full, and reports false if it is not. The count must land before
// the lane finishes. The flags and the count of droppers share one word, so
// its changes happen in one order: close clears dropFull before it can
// finish, and finishLocked waits for no dropper. So a dropper that saw
// dropFull set when it joined counts before the lane can finish, and the
// last one to leave a closed lane finishes it if nothing else keeps it.
func (l *Lane[T, O]) offerFull() (Admission, bool) {
	if l.drops.Add(oneDropper)&dropFull == 0 {
		l.leaveDropping()
		return Closed, false
	}
	if h := l.q.workers.dropHook; h != nil {
		h()
	}
	adm := Dropped
	if l.q.policy == Fail {
		l.q.counters.Rejected.Add(1)
		adm = Refused
	} else {
		l.q.counters.QueueFull.Add(1)
	}
	l.leaveDropping()
	return adm, true
}

// leaveDropping ends offerFull's count, finishing a closed lane that only
// the count kept.
func (l *Lane[T, O]) leaveDropping() {
	if st := l.drops.Add(lessDropper); st < oneDropper && st&dropShut != 0 {
		l.mu.Lock()
		l.unlockFinishing()
	}
}

// droppers returns the number of offers counting a lock-free drop.
func (l *Lane[T, O]) droppers() uint32 { return l.drops.Load() / oneDropper }

// OfferWait adds it, waiting for room until ctx is done or the lane
// closes. It reports whether it was queued; if not, err is ctx's error when
// ctx ended the wait, and the item was counted as Canceled unless the lane
// had already closed before the wait began (the subscription was gone, so
// the item was not its own; it may have retired its counters).
func (l *Lane[T, O]) OfferWait(ctx context.Context, it T) (queued bool, err error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false, nil
	}
	if queued, err = l.pushWhenRoomLocked(ctx, it); queued {
		return true, nil
	}
	l.q.counters.Canceled.Add(1)
	l.unlockFinishing()
	return false, err
}

// pushWhenRoomLocked waits, under mu, for room in the fifo and queues it,
// reporting true with mu released; or, if ctx ends first (err) or the lane
// closes, it reports false with mu still held.
func (l *Lane[T, O]) pushWhenRoomLocked(ctx context.Context, it T) (bool, error) {
	err := l.waitRoomLocked(ctx, func() bool { return l.queuedLocked() < l.capacity })
	if err == nil && !l.closed {
		sig := l.pushLocked(it)
		l.mu.Unlock()
		l.signal(sig)
		return true, nil
	}
	return false, err
}

// unlockFinishing releases mu after a producer's wait or a pin, marking the
// lane finished if that was all that kept it, and then tells its queue.
func (l *Lane[T, O]) unlockFinishing() {
	done := l.finishLocked()
	l.mu.Unlock()
	if done {
		l.q.laneFinished()
	}
}

// waitRoomLocked waits, under mu but releasing it while asleep, until room
// reports true or the lane closes; it returns ctx's error if ctx ends
// first. The worker claims without mu, then reads waiters: announcing the
// wait before asking room once more means that either this look sees the
// claim's room or the worker sees the waiter and closes space.
func (l *Lane[T, O]) waitRoomLocked(ctx context.Context, room func() bool) error {
	for !room() && !l.closed {
		space := l.space
		if space == nil {
			space = make(chan struct{})
			l.space = space
		}
		l.waiters.Add(1)
		if room() {
			l.waiters.Add(-1)
			return nil
		}
		l.mu.Unlock()
		var err error
		select {
		case <-space:
		case <-ctx.Done():
			err = ctx.Err()
		}
		l.mu.Lock()
		l.waiters.Add(-1)
		if err != nil {
			return err
		}
	}
	return nil
}

// Pin keeps the lane from finishing, for a count that must wait for an
// outcome outside the lane (see Unpin); it reports false, pinning nothing,
// if the lane is closed.
func (l *Lane[T, O]) Pin() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.pins++
	return true
}

// Unpin runs count, which must only update counters, and releases a pin:
// the count lands before the lane can finish and its queue's counters be
// retired.
func (l *Lane[T, O]) Unpin(count func()) {
	l.mu.Lock()
	count()
	l.pins--
	l.unlockFinishing()
}

// IfOpen runs count, which must only update counters, if the lane is still
// open, and reports whether it did.
func (l *Lane[T, O]) IfOpen(count func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	count()
	return true
}

// CancelIfOpen counts an item whose producer gave up before offering it
// as Canceled; it reports false when the lane had closed meanwhile.
func (l *Lane[T, O]) CancelIfOpen() bool {
	return l.IfOpen(func() { l.q.counters.Canceled.Add(1) })
}

// queuedLocked returns the number of queued items: those in the fifo or
// the ring, and those taken out by the worker but not yet claimed.
func (l *Lane[T, O]) queuedLocked() int {
	return l.fifo.n + l.unclaimed() + l.ringQueued()
}

// unclaimed returns the number of batch items not yet claimed; without mu,
// a snapshot.
func (l *Lane[T, O]) unclaimed() int {
	return max(int(l.held.Load()-l.claim.Load()), 0)
}

// queued returns a lock-free snapshot of the number of queued items of a
// mirrored lane, for lane choice.
func (l *Lane[T, O]) queued() int64 {
	return l.length.Load() + int64(l.unclaimed())
}

// counts returns the number of queued items and the lane's Enqueued count.
func (l *Lane[T, O]) counts() (queued int, enqueued uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queuedLocked(), l.enqueued + l.ringEnqueued()
}

// evictLocked removes the oldest queued item, counted as Evicted, for
// DropOldest: the oldest unclaimed batch item if there is one, else the
// fifo's oldest. It reports false if the worker claimed the last batch item
// meanwhile and the fifo is empty: then there is room without evicting.
func (l *Lane[T, O]) evictLocked() (T, bool) {
	var none T
	if l.unclaimed() > 0 {
		if i := l.claim.Add(1) - 1; i < l.held.Load() {
			old := l.batch[i]
			l.batch[i] = none
			l.q.counters.Evicted.Add(1)
			return old, true
		}
	}
	if l.fifo.n == 0 {
		return none, false
	}
	l.q.counters.Evicted.Add(1)
	return l.popLocked(), true
}

// wakeup is what a push asks of the lane's worker, done by signal once mu
// is released, so that the worker does not wake only to wait for mu.
type wakeup uint8

const (
	wakeNone   wakeup = iota // the worker is busy, or another push woke it
	wakeStart                // start a worker
	wakeUnpark               // wake the parked worker
)

// pushLocked queues it, counted as enqueued, and says what the lane's
// worker needs: the caller must pass that to signal after unlocking mu.
func (l *Lane[T, O]) pushLocked(it T) wakeup {
	l.enqueued++
	return l.appendLocked(it)
}

// appendLocked queues it without counting it, and says what the worker
// needs, as pushLocked does.
func (l *Lane[T, O]) appendLocked(it T) wakeup {
	l.fifo.push(it, l.capacity)
	if l.mirrored {
		l.length.Store(int64(l.fifo.n))
	}
	return l.wakeLocked()
}

func (l *Lane[T, O]) popLocked() T {
	it := l.fifo.pop()
	if l.mirrored {
		l.length.Store(int64(l.fifo.n))
	}
	return it
}

// wakeLocked says what a lane that just got work needs of its worker, and
// marks the worker running and not parked accordingly.
func (l *Lane[T, O]) wakeLocked() wakeup {
	switch {
	case !l.running:
		l.running = true
		if l.wake == nil {
			l.wake = make(chan struct{}, 1)
			l.batch = make([]T, min(l.capacity, batchSlots))
		}
		l.q.workers.running.Add(1) // under mu: Wait must see it
		l.retire = false
		// The idle check runs while the worker does, and notes the time
		// for working, as the worker's start does.
		if l.idle == nil {
			l.idle = l.q.workers.idleTimer(l.idleCheck)
		} else {
			l.idle.Reset(IdleTick)
		}
		l.tickLocked()
		l.batchAfter = l.tickAt
		l.setNeedsWake(false)
		return wakeStart
	case l.parked:
		l.parked = false
		l.setNeedsWake(false)
		return wakeUnpark
	}
	return wakeNone
}

// signal does what pushLocked asked for. Between the two, the worker counts
// as running and not parked, so no other push, close or idle check signals
// it too, and a parked worker waits for the token. A token that finds the
// worker already awake (a close or idle check raced with the push) stays in
// the channel and only makes the worker look at the lane once more.
func (l *Lane[T, O]) signal(w wakeup) {
	switch w {
	case wakeStart:
		go l.work()
	case wakeUnpark:
		l.unpark()
	}
}

// unpark hands the parked worker a token; a token already there will do.
func (l *Lane[T, O]) unpark() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// idleCheck runs every IdleTick while the lane has a worker: it retires a
// worker that has been parked since the last check, and otherwise checks
// again a tick later.
func (l *Lane[T, O]) idleCheck() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.running || l.retire {
		return // no worker, or one that is leaving: a new one re-arms the timer
	}
	l.tickLocked()
	if l.parked && !l.recent {
		l.parked = false
		l.setNeedsWake(false)
		l.retire = true
		l.unpark()
		return
	}
	l.recent = false
	l.idle.Reset(IdleTick)
}

// step is what a lane's worker does next.
type step uint8

const (
	stepDeliver step = iota // claim and deliver the batch
	stepPark                // the lane is empty: park until woken
	stepExit                // the lane is closed and empty: exit
	stepRetire              // the lane stayed empty too long: exit
)

// run is the lane's worker: it delivers the lane's items in order, parks
// when the lane is empty, and exits once the lane is closed and empty or
// has stayed empty too long (the next item then starts a new one).
func (l *Lane[T, O]) run() {
	q := l.q
	defer q.workers.running.Done()
	for {
		if it, ok := l.claimNext(); ok {
			l.deliver(l.owner, int(l.index), it)
			continue
		}
		if l.batchDone != nil {
			l.batchDone(l.owner, int(l.index))
		}
		st, finished := l.next()
		switch st {
		case stepDeliver:
		case stepPark:
			q.workers.onIdle() // a parked worker counts as idle
			l.park()
		case stepExit:
			q.sweep(l)
			if finished {
				q.laneFinished()
			}
			q.workers.onIdle()
			return
		case stepRetire:
			q.sweep(l)
			q.workers.onIdle()
			return
		}
	}
}

// claimNext claims the worker's next batch item, or reports false when the
// batch is used up; the worker then calls next.
func (l *Lane[T, O]) claimNext() (T, bool) {
	i := l.claim.Add(1) - 1
	if i >= l.held.Load() {
		var none T
		return none, false
	}
	it := l.batch[i] // left in place: only mu's holders write the batch
	if l.dropsWhenFull && l.drops.Load()&dropFull != 0 {
		l.drops.And(^uint32(dropFull)) // the claim made room
	}
	if l.waiters.Load() > 0 {
		l.mu.Lock()
		l.wakeWaitersLocked()
		l.mu.Unlock()
	}
	return it, true
}

// next refills the worker's batch, once the worker has used the last one
// up. When the lane is empty and open, the worker is marked parked and must
// park; when it is empty and closed, the worker must exit, and finished
// says whether the lane is done for good (nothing left, nobody waiting).
func (l *Lane[T, O]) next() (st step, finished bool) {
	l.mu.Lock()
	if l.fifo.n == 0 && l.ringWaiting() == 0 {
		// Every batch item is claimed: let go of them before waiting.
		clear(l.batch[:l.held.Load()])
		if l.closed {
			l.running = false
			l.setNeedsWake(true) // a closed lane gets no more positions
			finished = l.finishLocked()
			if l.idle != nil {
				l.idle.Stop()
			}
			l.mu.Unlock()
			return stepExit, finished
		}
		// A ring producer writes, then looks at needsWake; the worker sets
		// needsWake, then looks at the ring once more: one of the two sees
		// the other.
		if l.retire {
			l.running = false // the lane is open, so not finished
			l.setNeedsWake(true)
			if l.ringWaiting() == 0 {
				l.mu.Unlock()
				return stepRetire, false
			}
			l.running = true
			l.setNeedsWake(false)
		} else {
			l.parked = true
			l.setNeedsWake(true)
			if l.ringWaiting() == 0 {
				l.mu.Unlock()
				return stepPark, false
			}
			l.parked = false
			l.setNeedsWake(false)
		}
	}
	if l.retire {
		// Items came after all: the retirement is void, and the idle
		// check, which stopped with it, resumes.
		l.retire = false
		l.idle.Reset(IdleTick)
	}
	l.recent = true
	var k int
	if l.fifo.n > 0 {
		k = min(l.fifo.n, len(l.batch))
		for i := range k {
			l.batch[i] = l.popLocked()
		}
	} else {
		k = l.takeRingLocked(l.batch)
	}
	if held := int(l.held.Load()); k < held {
		clear(l.batch[k:held]) // claimed items of the previous batch
	}
	l.held.Store(int32(k))
	l.claim.Store(0)
	l.refills++
	l.mu.Unlock()
	return stepDeliver, false
}

// park waits, after next said so, for an item, a close or the idle check
// to wake the worker, which then calls next again.
func (l *Lane[T, O]) park() {
	<-l.wake
}

// busy reports whether the lane has queued items or a worker that is not
// parked.
func (l *Lane[T, O]) busy() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fifo.n > 0 || l.ringWaiting() > 0 || (l.running && !l.parked)
}

// working reports whether the lane's worker is at work rather than parked
// or gone, and if so for how long at most it has been at its current item:
// since the last idle check if it took a batch after that check, and
// otherwise since batchAfter.
func (l *Lane[T, O]) working() (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.running || l.parked || l.retire {
		return false, 0
	}
	since := l.batchAfter
	if l.refills != l.tickRefills {
		since = l.tickAt
	}
	return true, l.q.workers.since(since)
}

// tickLocked notes, at an idle check or the worker's start, the time and
// the batches taken so far: a batch taken since the previous note was
// taken after that note's time.
func (l *Lane[T, O]) tickLocked() {
	if l.refills != l.tickRefills {
		l.batchAfter = l.tickAt
		l.tickRefills = l.refills
	}
	l.tickAt = l.q.workers.clock()
}

// finishLocked marks the lane finished, once, when it is closed, empty,
// without a worker, a waiting producer or a pin, and reports whether this
// call did it.
func (l *Lane[T, O]) finishLocked() bool {
	if l.finished || !l.closed || l.fifo.n > 0 || l.ringWaiting() > 0 || l.running || l.waiters.Load() > 0 || l.pins > 0 || l.droppers() > 0 {
		return false
	}
	l.finished = true
	return true
}

func (l *Lane[T, O]) wakeWaitersLocked() {
	if l.waiters.Load() > 0 && l.space != nil {
		close(l.space)
		l.space = nil
	}
}

// close stops the lane's items. With discard, it also removes and returns
// every queued item, counted as dropped for reason; otherwise the worker
// delivers them. It reports whether the lane finished at once.
func (l *Lane[T, O]) close(discard bool, reason Reason, out []T) ([]T, bool) {
	l.mu.Lock()
	l.closed = true
	l.drops.Or(dropShut)
	l.drops.And(^uint32(dropFull)) // before finishLocked looks for droppers (see offerFull)
	if l.ring != nil {
		// Positions past the lane's room belong to producers still waiting
		// for it: like a lane's waiting producers, they do not get in now.
		l.cutEnd(l.ringRoomLimit())
	}
	if discard && l.queuedLocked() > 0 {
		before := len(out)
		var none T
		for l.unclaimed() > 0 {
			i := l.claim.Add(1) - 1
			if i >= l.held.Load() {
				break // the worker claimed the last one
			}
			out = append(out, l.batch[i])
			l.batch[i] = none
		}
		for l.fifo.n > 0 {
			out = append(out, l.popLocked())
		}
		out = l.takeAllRingLocked(out)
		n := uint64(len(out) - before)
		if reason == Shutdown {
			l.q.counters.Shutdown.Add(n)
		} else {
			l.q.counters.Unsubscribed.Add(n)
		}
	}
	l.wakeWaitersLocked()
	if l.parked {
		l.parked = false
		l.setNeedsWake(false)
		l.unpark() // to exit; no callback runs under mu, so sending here is fine
	}
	var sig wakeup
	if !l.running && l.ringWaiting() > 0 {
		sig = l.wakeLocked() // a ring lane's items may wait without a worker
	}
	done := l.finishLocked()
	l.mu.Unlock()
	l.signal(sig)
	return out, done
}
