package eventbus

import (
	"context"
	"sync"
	"sync/atomic"
)

// item is one queued delivery: the shared event and, for PublishSync, the
// waiter to tell when the subscriber is done with it.
type item struct {
	msg  Message
	wait *syncWait
}

// queue is a bounded FIFO ring with many producers and one consumer: a
// subscription's worker owns one queue, its lane. All state is guarded by
// mu, which is never held while user code runs.
//
// The queue also keeps the subscription's admission counters (enqueued,
// dropped by policy, canceled) under mu, so that no count can land after the
// queue has closed and its worker has exited: only then does the
// subscription retire its counters into the bus's totals.
type queue struct {
	mu       sync.Mutex
	buf      []item // grows on demand up to capacity, so idle queues stay small
	capacity int
	head     int  // index of the oldest item
	n        int  // number of items
	closed   bool // no more pushes; the worker exits once the queue is empty and no publisher waits

	// notify wakes the worker; it has room for one token, sent by a push to
	// an empty queue, by close and by the last waiter leaving a closed queue,
	// so a wake-up is never lost.
	notify chan struct{}
	// space is closed (and replaced) when a pop makes room while publishers
	// wait for it, or when the queue closes.
	space   chan struct{}
	waiters int

	length   atomic.Int64 // mirror of n for lock-free reads
	counters *subscriberCounters
}

// initialQueueSlots is the ring size a queue starts with.
const initialQueueSlots = 8

func newQueue(capacity int, counters *subscriberCounters) *queue {
	return &queue{
		buf:      make([]item, min(capacity, initialQueueSlots)),
		capacity: capacity,
		notify:   make(chan struct{}, 1),
		counters: counters,
	}
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
	defer q.mu.Unlock()
	if q.closed {
		return admitClosed, item{}, false
	}
	if q.n < q.capacity {
		q.pushLocked(it)
		return admitted, item{}, false
	}
	switch policy {
	case OverflowDropOldest:
		old := q.popLocked()
		q.counters.evicted.Add(1)
		q.pushLocked(it)
		return admitted, old, true
	case OverflowDropNewest:
		q.counters.queueFull.Add(1)
		return admitDropped, item{}, false
	case OverflowFail:
		q.counters.rejected.Add(1)
		return admitFailed, item{}, false
	}
	return admitFull, item{}, false
}

// offerWait adds it, waiting for room until ctx is done or the queue
// closes. It reports whether it was queued; if not, err is ctx's error when
// ctx ended the wait, and the item was counted as Canceled unless the queue
// had already closed before the wait began (the subscription was gone, so
// the event was not its own; its worker may have retired the counters).
func (q *queue) offerWait(ctx context.Context, it item) (queued bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false, nil
	}
	for q.n >= q.capacity && !q.closed {
		space := q.space
		if space == nil {
			space = make(chan struct{})
			q.space = space
		}
		q.waiters++
		q.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			err = ctx.Err()
		}
		q.mu.Lock()
		q.waiters--
		if err != nil {
			break
		}
	}
	if err == nil && !q.closed {
		q.pushLocked(it)
		return true, nil
	}
	q.counters.canceled.Add(1)
	if q.closed && q.waiters == 0 {
		q.wakeWorker() // it may be waiting for the last publisher to leave
	}
	return false, err
}

// cancelIfOpen counts an item the publisher gave up on before trying to
// queue it; it reports false when the queue had closed meanwhile.
func (q *queue) cancelIfOpen() bool {
	return q.ifOpen(func() { q.counters.canceled.Add(1) })
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

func (q *queue) pushLocked(it item) {
	if q.n == len(q.buf) {
		q.grow()
	}
	q.buf[(q.head+q.n)%len(q.buf)] = it
	q.n++
	q.length.Store(int64(q.n))
	q.counters.enqueued.Add(1)
	if q.n == 1 {
		q.wakeWorker()
	}
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
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.length.Store(int64(q.n))
	return it
}

func (q *queue) wakeWorker() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// pop waits for an item and removes it. It returns false once the queue is
// closed, empty, and no publisher is still waiting on it (whose count must
// land before the subscription retires).
func (q *queue) pop() (item, bool) {
	q.mu.Lock()
	for q.n == 0 {
		if q.closed && q.waiters == 0 {
			q.mu.Unlock()
			return item{}, false
		}
		q.mu.Unlock()
		<-q.notify
		q.mu.Lock()
	}
	it := q.popLocked()
	q.wakeWaitersLocked()
	q.mu.Unlock()
	return it, true
}

func (q *queue) wakeWaitersLocked() {
	if q.waiters > 0 && q.space != nil {
		close(q.space)
		q.space = nil
	}
}

// close stops pushes. With discard, it also removes and returns every queued
// item; otherwise the worker finishes them.
func (q *queue) close(discard bool) []item {
	q.mu.Lock()
	q.closed = true
	var out []item
	if discard && q.n > 0 {
		out = make([]item, 0, q.n)
		for q.n > 0 {
			out = append(out, q.popLocked())
		}
	}
	q.wakeWaitersLocked()
	q.mu.Unlock()
	q.wakeWorker()
	return out
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

func (w *syncWait) add() {
	w.mu.Lock()
	w.remaining++
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
