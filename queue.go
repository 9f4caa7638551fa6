package eventbus

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// item is one queued delivery: the shared event and, when someone waits
// for its outcome, what to tell.
type item struct {
	msg  Message
	done completion
}

func newItem(m Message, wait *syncWait) item {
	if wait == nil {
		return item{msg: m} // not a non-nil interface holding a nil pointer
	}
	return item{msg: m, done: wait}
}

// completion receives the outcome of one delivery: nil once the handler
// chain succeeded, the final *DeliveryError, or a *SubscriberError matching
// ErrDropped when the event was dropped instead. A delivery with a
// completion leaves reporting its failure to the completion's owner: the
// bus's error handler does not see it. PublishSync's waiter is one; a
// transport's acknowledgement will be another.
type completion interface {
	finish(err error)
}

// queue is a bounded FIFO ring with many producers and at most one
// consumer: a subscription's lane. The lane's worker goroutine exists only
// while the lane is in use: a push to a lane without one starts it; when the
// lane runs empty the worker parks, and a push wakes it through a one-slot
// channel, which costs far less than starting a goroutine per event and keeps
// the delivery latency of a steady stream low. A worker idle for about
// workerIdleTick exits, so a subscription that has gone quiet, like one that
// never got an event, costs no goroutine. Pushes never wake a worker that is
// not parked.
//
// The worker takes up to len(batch) items out of the ring under one lock
// acquisition, so that it does not contend with the publishers for mu on
// every item. Taken items stay queued until the worker claims each one, just
// before delivering it, with an atomic increment of claim: they still count
// against the capacity, OverflowDropOldest can still evict the oldest of
// them, and a discarding close still drops them, each of those claiming
// under mu in the same way, so every item is claimed exactly once. All other
// state is guarded by mu, which is never held while user code runs.
//
// The queue also keeps the subscription's admission counters (enqueued,
// dropped by policy, canceled) under mu, so that no count can land after the
// lane has finished: only then does the subscription retire its counters
// into the bus's totals.
//
// In ring mode (see topicRing) the lane's events wait in its topic's ring
// instead of buf: the worker's batches come from there, and publishers do
// not push but only wake the worker. The lifecycle, the batch, the claims
// and the counters are the same.
type queue struct {
	mu       sync.Mutex
	buf      []item // grows on demand up to capacity, so idle queues stay small
	capacity int
	head     int  // index of the oldest item
	n        int  // number of items
	closed   bool // no more pushes
	running  bool // a worker goroutine is handling this lane (perhaps parked)
	parked   bool // the worker waits on wake for the lane to get work
	finished bool // closed, empty, no worker, no waiting publisher, no pin: done for good
	pins     int  // outcomes being counted outside the lane (see pin)

	// wake carries one token to a parked worker; made with the first worker.
	wake chan struct{}
	// idle runs idleCheck every workerIdleTick while the lane has a worker;
	// made at the worker's first park. recent says that the worker took
	// events since the last check; retire tells a parked worker to exit.
	idle   *time.Timer
	recent bool
	retire bool

	// batch holds the items the worker took out of the ring; batch[:held]
	// is written only by the worker under mu, when claim >= held. Made with
	// the first worker.
	batch []item
	held  atomic.Int32
	// claim counts the batch items claimed; it may run past held. (Padding
	// it onto a cache line of its own measured no gain and cost every idle
	// subscription 124 bytes.)
	claim atomic.Int32

	// space is closed (and replaced) when a claim or pop makes room while
	// publishers wait for it, or when the queue closes. waiters changes
	// under mu; the worker reads it without, after claiming (see offerWait).
	space   chan struct{}
	waiters atomic.Int32

	// length mirrors n for lock-free reads, kept only when the subscription
	// has several lanes to choose from (mirrored), to spare every push of
	// the common single-lane case an atomic write.
	length   atomic.Int64
	mirrored bool
	// enqueued counts the items pushed; it is the lane's share of the
	// subscription's Enqueued, read under mu.
	enqueued uint64
	owner    *Subscription
	// delivery is the ctx the lane's handlers get, reused by every worker
	// the lane starts (one at a time).
	delivery *deliveryContext
	// work is the worker's body, made once so that starting a worker
	// allocates nothing.
	work func()

	// Ring mode (see ring.go): while ring is set, under mu, the lane takes
	// its events from its topic's ring instead of buf. The lane's positions
	// are [start, end); end is noEnd until the subscription is detached.
	// taken is the next position to take: all below are copied out of the
	// ring. roomLimit caches, for publishers, the first position the lane
	// has no room for. needsWake mirrors "no worker, or a parked one" for
	// publishers, who look without mu. taken and needsWake change under mu.
	ring      *topicRing
	holder    int // index in ring.holders, or -1; under ring.mu
	start     uint64
	end       atomic.Uint64
	taken     atomic.Uint64
	roomLimit atomic.Uint64
	needsWake atomic.Bool
}

// initialQueueSlots is the ring size a queue starts with.
const initialQueueSlots = 8

// batchSlots is the most items a worker takes out of the ring at once.
const batchSlots = 16

func newQueue(capacity int, owner *Subscription, delivery *deliveryContext, mirrored bool) *queue {
	q := &queue{
		buf:      make([]item, min(capacity, initialQueueSlots)),
		capacity: capacity,
		mirrored: mirrored,
		owner:    owner,
		delivery: delivery,
		holder:   -1,
	}
	q.work = func() { owner.run(q) }
	return q
}

// admission is what became of an offered item.
type admission uint8

const (
	admitted     admission = iota // queued
	admitFull                     // full under OverflowBlock: the caller may wait
	admitDropped                  // full under OverflowDropNewest: counted as QueueFull
	admitFailed                   // full under OverflowFail: counted as Rejected
	admitClosed                   // the queue is closed: not counted, not for this subscriber
)

// offer adds it if there is room, or applies policy. Under
// OverflowDropOldest a full queue drops its oldest item to make room and
// returns it, counted as Evicted, for the caller to settle.
func (q *queue) offer(it item, policy Overflow) (admission, item, bool) {
	q.mu.Lock()
	if q.n+int(q.held.Load()) >= q.capacity || q.closed {
		adm, old, evicted, sig := q.offerFullLocked(it, policy)
		q.mu.Unlock()
		q.signal(sig)
		return adm, old, evicted
	}
	// The common case, kept free of defer: with the many returns of the
	// full case, a deferred unlock would not be open-coded.
	sig := q.pushLocked(it)
	q.mu.Unlock()
	q.signal(sig)
	return admitted, item{}, false
}

// offerFullLocked is offer when the lane is closed or may be full.
func (q *queue) offerFullLocked(it item, policy Overflow) (admission, item, bool, wakeup) {
	if q.closed {
		return admitClosed, item{}, false, wakeNone
	}
	if q.queuedLocked() < q.capacity {
		return admitted, item{}, false, q.pushLocked(it)
	}
	switch policy {
	case OverflowDropOldest:
		old, evicted := q.evictLocked()
		return admitted, old, evicted, q.pushLocked(it)
	case OverflowDropNewest:
		q.owner.counters.queueFull.Add(1)
		return admitDropped, item{}, false, wakeNone
	case OverflowFail:
		q.owner.counters.rejected.Add(1)
		return admitFailed, item{}, false, wakeNone
	}
	return admitFull, item{}, false, wakeNone
}

// offerWait adds it, waiting for room until ctx is done or the queue
// closes. It reports whether it was queued; if not, err is ctx's error when
// ctx ended the wait, and the item was counted as Canceled unless the queue
// had already closed before the wait began (the subscription was gone, so
// the event was not its own; it may have retired its counters).
func (q *queue) offerWait(ctx context.Context, it item) (queued bool, err error) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false, nil
	}
	err = q.waitRoomLocked(ctx, func() bool { return q.queuedLocked() < q.capacity })
	if err == nil && !q.closed {
		sig := q.pushLocked(it)
		q.mu.Unlock()
		q.signal(sig)
		return true, nil
	}
	q.owner.counters.canceled.Add(1)
	q.unlockFinishing()
	return false, err
}

// unlockFinishing releases mu after a publisher's wait, marking the lane
// finished if the waiter was all that kept it, and then tells its
// subscription.
func (q *queue) unlockFinishing() {
	done := q.finishLocked()
	q.mu.Unlock()
	if done {
		q.owner.laneFinished()
	}
}

// waitRoomLocked waits, under mu but releasing it while asleep, until room
// reports true or the queue closes; it returns ctx's error if ctx ends
// first. The worker claims without mu, then reads waiters: announcing the
// wait before asking room once more means that either this look sees the
// claim's room or the worker sees the waiter and closes space.
func (q *queue) waitRoomLocked(ctx context.Context, room func() bool) error {
	for !room() && !q.closed {
		space := q.space
		if space == nil {
			space = make(chan struct{})
			q.space = space
		}
		q.waiters.Add(1)
		if room() {
			q.waiters.Add(-1)
			return nil
		}
		q.mu.Unlock()
		var err error
		select {
		case <-space:
		case <-ctx.Done():
			err = ctx.Err()
		}
		q.mu.Lock()
		q.waiters.Add(-1)
		if err != nil {
			return err
		}
	}
	return nil
}

// pin keeps the lane from finishing, for a count that must wait for an
// outcome outside the lane (see unpin); it reports false, pinning nothing,
// if the lane is closed.
func (q *queue) pin() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.pins++
	return true
}

// unpin runs count, which must only update counters, and releases a pin:
// the count lands before the lane can finish and retire its counters.
func (q *queue) unpin(count func()) {
	q.mu.Lock()
	count()
	q.pins--
	q.unlockFinishing()
}

// cancelIfOpen counts an item the publisher gave up on before trying to
// queue it; it reports false when the queue had closed meanwhile.
func (q *queue) cancelIfOpen() bool {
	return q.ifOpen(func() { q.owner.counters.canceled.Add(1) })
}

// ifOpen runs count, which must only update counters, if the queue is
// still open, and reports whether it did.
func (q *queue) ifOpen(count func()) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	count()
	return true
}

// queuedLocked returns the number of queued items: those in the ring and
// those taken out by the worker but not yet claimed.
func (q *queue) queuedLocked() int {
	return q.n + q.unclaimed() + q.ringQueued()
}

// unclaimed returns the number of batch items not yet claimed; without mu,
// a snapshot.
func (q *queue) unclaimed() int {
	return max(int(q.held.Load()-q.claim.Load()), 0)
}

// queued returns a lock-free snapshot of the number of queued items of a
// mirrored queue, for lane choice.
func (q *queue) queued() int64 {
	return q.length.Load() + int64(q.unclaimed())
}

// counts returns the number of queued items and the lane's Enqueued count.
func (q *queue) counts() (queued int, enqueued uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.queuedLocked(), q.enqueued + q.ringEnqueued()
}

// evictLocked removes the oldest queued item, counted as Evicted, for
// OverflowDropOldest: the oldest unclaimed batch item if there is one, else
// the ring's oldest. It reports false if the worker claimed the last batch
// item meanwhile and the ring is empty: then there is room without evicting.
func (q *queue) evictLocked() (item, bool) {
	if q.unclaimed() > 0 {
		if i := q.claim.Add(1) - 1; i < q.held.Load() {
			old := q.batch[i]
			q.batch[i] = item{}
			q.owner.counters.evicted.Add(1)
			return old, true
		}
	}
	if q.n == 0 {
		return item{}, false
	}
	q.owner.counters.evicted.Add(1)
	return q.popLocked(), true
}

// wakeup is what a push asks of the lane's worker, done by signal once mu
// is released, so that the worker does not wake only to wait for mu.
type wakeup uint8

const (
	wakeNone   wakeup = iota // the worker is busy, or another push woke it
	wakeStart                // start a worker
	wakeUnpark               // wake the parked worker
)

// pushLocked queues it and says what the lane's worker needs: the caller
// must pass that to signal after unlocking mu.
func (q *queue) pushLocked(it item) wakeup {
	if q.n == len(q.buf) {
		q.grow()
	}
	i := q.head + q.n
	if i >= len(q.buf) {
		i -= len(q.buf)
	}
	q.buf[i] = it
	q.n++
	if q.mirrored {
		q.length.Store(int64(q.n))
	}
	q.enqueued++
	return q.wakeLocked()
}

// wakeLocked says what a lane that just got work needs of its worker, and
// marks the worker running and not parked accordingly.
func (q *queue) wakeLocked() wakeup {
	switch {
	case !q.running:
		q.running = true
		if q.wake == nil {
			q.wake = make(chan struct{}, 1)
			q.batch = make([]item, min(q.capacity, batchSlots))
		}
		q.owner.bus.workers.Add(1) // under mu: Close's wait must see it
		q.retire = false
		if q.idle != nil {
			q.idle.Reset(workerIdleTick)
		}
		q.setNeedsWake(false)
		return wakeStart
	case q.parked:
		q.parked = false
		q.setNeedsWake(false)
		return wakeUnpark
	}
	return wakeNone
}

// setNeedsWake updates the mirror that publishers of a ring-mode lane read;
// other lanes spare the atomic write.
func (q *queue) setNeedsWake(v bool) {
	if q.ring != nil {
		q.needsWake.Store(v)
	}
}

// signal does what pushLocked asked for. Between the two, the worker counts
// as running and not parked, so no other push, close or idle check signals
// it too, and a parked worker waits for the token. A token that finds the
// worker already awake (a close or idle check raced with the push) stays in
// the channel and only makes the worker look at the lane once more.
func (q *queue) signal(w wakeup) {
	switch w {
	case wakeStart:
		go q.work()
	case wakeUnpark:
		q.unpark()
	}
}

// unpark hands the parked worker a token; a token already there will do.
func (q *queue) unpark() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// workerIdleTick is how often a lane with a worker is checked for idleness:
// a worker parked and without events for a whole tick exits, so it stays
// parked for one to two ticks. That spans the gaps of any steady stream,
// yet quiet subscriptions soon hold no goroutine (about 8 KiB of stack
// each). A timer of the lane's own rather than a timeout in the park keeps
// the park a plain channel receive, the cheapest wake-up there is.
const workerIdleTick = 20 * time.Millisecond

// idleCheck runs every workerIdleTick while the lane has a worker: it
// retires a worker that has been parked since the last check, and
// otherwise checks again a tick later.
func (q *queue) idleCheck() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.running || q.retire {
		return // no worker, or one that is leaving: a new one re-arms the timer
	}
	if q.parked && !q.recent {
		q.parked = false
		q.setNeedsWake(false)
		q.retire = true
		q.unpark()
		return
	}
	q.recent = false
	q.idle.Reset(workerIdleTick)
}

func (q *queue) grow() {
	buf := make([]item, min(max(2*len(q.buf), 1), q.capacity))
	for i := range q.n {
		buf[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf = buf
	q.head = 0
}

func (q *queue) popLocked() item {
	it := q.buf[q.head]
	q.buf[q.head] = item{}
	q.head++
	if q.head == len(q.buf) {
		q.head = 0
	}
	q.n--
	if q.mirrored {
		q.length.Store(int64(q.n))
	}
	return it
}

// step is what a lane's worker does next.
type step uint8

const (
	stepDeliver step = iota // claim and deliver the batch
	stepPark                // the lane is empty: park until woken
	stepExit                // the lane is closed and empty: exit
	stepRetire              // the lane stayed empty too long: exit
)

// claimNext claims the worker's next batch item, or reports false when the
// batch is used up; the worker then calls next.
func (q *queue) claimNext() (item, bool) {
	i := q.claim.Add(1) - 1
	if i >= q.held.Load() {
		return item{}, false
	}
	it := q.batch[i]
	q.batch[i] = item{}
	if q.waiters.Load() > 0 {
		q.mu.Lock()
		q.wakeWaitersLocked()
		q.mu.Unlock()
	}
	return it, true
}

// next refills the worker's batch from the ring, once the worker has used
// the last one up. When the lane is empty and open, the worker is marked
// parked and must park; when it is empty and closed, the worker must exit,
// and finished says whether the lane is done for good (nothing left, nobody
// waiting).
func (q *queue) next() (st step, finished bool) {
	q.mu.Lock()
	if q.n == 0 && q.ringWaiting() == 0 {
		if q.closed {
			q.running = false
			q.setNeedsWake(true) // a closed lane gets no more positions
			finished = q.finishLocked()
			if q.idle != nil {
				q.idle.Stop()
			}
			q.mu.Unlock()
			return stepExit, finished
		}
		// A ring publisher writes, then looks at needsWake; the worker
		// sets needsWake, then looks at the ring once more: one of the two
		// sees the other.
		if q.retire {
			q.running = false // the lane is open, so not finished
			q.setNeedsWake(true)
			if q.ringWaiting() == 0 {
				q.mu.Unlock()
				return stepRetire, false
			}
			q.running = true
			q.setNeedsWake(false)
		} else {
			q.parked = true
			q.setNeedsWake(true)
			if q.ringWaiting() == 0 {
				if q.idle == nil {
					q.idle = time.AfterFunc(workerIdleTick, q.idleCheck)
				}
				q.mu.Unlock()
				return stepPark, false
			}
			q.parked = false
			q.setNeedsWake(false)
		}
	}
	if q.retire {
		// Events came after all: the retirement is void, and the idle
		// check, which stopped with it, resumes.
		q.retire = false
		q.idle.Reset(workerIdleTick)
	}
	q.recent = true
	var k int
	if q.n > 0 {
		k = min(q.n, len(q.batch))
		for i := range k {
			q.batch[i] = q.popLocked()
		}
	} else {
		k = q.takeRingLocked(q.batch)
	}
	q.held.Store(int32(k))
	q.claim.Store(0)
	q.mu.Unlock()
	return stepDeliver, false
}

// park waits, after next said so, for a push, a close or the idle check to
// wake the worker, which then calls next again.
func (q *queue) park() {
	<-q.wake
}

// busy reports whether the lane has queued events or a worker that is not
// parked.
func (q *queue) busy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n > 0 || q.ringWaiting() > 0 || (q.running && !q.parked)
}

// finishLocked marks the queue finished, once, when it is closed, empty,
// without a worker, a waiting publisher or a pin, and reports whether this
// call did it.
func (q *queue) finishLocked() bool {
	if q.finished || !q.closed || q.n > 0 || q.ringWaiting() > 0 || q.running || q.waiters.Load() > 0 || q.pins > 0 {
		return false
	}
	q.finished = true
	return true
}

func (q *queue) wakeWaitersLocked() {
	if q.waiters.Load() > 0 && q.space != nil {
		close(q.space)
		q.space = nil
	}
}

// close stops pushes. With discard, it also removes and returns every queued
// item, counted as dropped for reason; otherwise the worker finishes them. It reports whether the queue
// finished at once.
func (q *queue) close(discard bool, reason dropReason) ([]item, bool) {
	q.mu.Lock()
	q.closed = true
	if q.ring != nil {
		// Positions past the lane's room belong to publishers still
		// waiting for it: like a lane's waiting publishers, they do not
		// get in now.
		q.cutEnd(q.ringRoomLimit())
	}
	var out []item
	if discard && q.queuedLocked() > 0 {
		out = make([]item, 0, q.queuedLocked())
		for q.unclaimed() > 0 {
			i := q.claim.Add(1) - 1
			if i >= q.held.Load() {
				break // the worker claimed the last one
			}
			out = append(out, q.batch[i])
			q.batch[i] = item{}
		}
		for q.n > 0 {
			out = append(out, q.popLocked())
		}
		out = q.takeAllRingLocked(out)
		if reason == dropShutdown {
			q.owner.counters.shutdown.Add(uint64(len(out)))
		} else {
			q.owner.counters.unsubscribed.Add(uint64(len(out)))
		}
	}
	q.wakeWaitersLocked()
	if q.parked {
		q.parked = false
		q.setNeedsWake(false)
		q.unpark() // to exit; no user code runs under mu, so sending here is fine
	}
	var sig wakeup
	if !q.running && q.ringWaiting() > 0 {
		sig = q.wakeLocked() // a ring lane's events may wait without a worker
	}
	done := q.finishLocked()
	q.mu.Unlock()
	q.signal(sig)
	return out, done
}

// syncWait collects the outcome of one PublishSync over its subscribers.
type syncWait struct {
	mu        sync.Mutex
	remaining int
	errs      []error
	done      chan struct{}
}

func newSyncWait() *syncWait {
	// The publisher holds one share until it has offered the event to every
	// subscriber, so the wait cannot end early.
	return &syncWait{remaining: 1, done: make(chan struct{})}
}

func (w *syncWait) add() { w.addN(1) }

// addN adds n shares, one per subscriber the event was queued for.
func (w *syncWait) addN(n int) {
	w.mu.Lock()
	w.remaining += n
	w.mu.Unlock()
}

func (w *syncWait) finish(err error) {
	w.mu.Lock()
	if err != nil {
		w.errs = append(w.errs, err)
	}
	w.remaining--
	if w.remaining == 0 {
		close(w.done)
	}
	w.mu.Unlock()
}
