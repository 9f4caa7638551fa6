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

// queue is a bounded FIFO ring with many producers and one consumer (a
// subscription's worker owns one queue, its lane). All state is guarded by
// mu, which is never held while user code runs.
type queue struct {
	mu     sync.Mutex
	buf    []item
	head   int  // index of the oldest item
	n      int  // number of items
	closed bool // no more pushes; the worker exits once the queue is empty

	// notify wakes the worker; it has room for one token, sent by a push to
	// an empty queue and by close, so a wake-up is never lost.
	notify chan struct{}
	// space is closed (and replaced) when a pop makes room while publishers
	// wait for it.
	space   chan struct{}
	waiters int

	length atomic.Int64 // mirror of n for lock-free reads
}

func newQueue(capacity int) *queue {
	return &queue{buf: make([]item, capacity), notify: make(chan struct{}, 1)}
}

type pushResult uint8

const (
	pushed pushResult = iota
	pushFull
	pushClosed
)

// tryPush adds it if there is room. With evict, a full queue drops its
// oldest item to make room and returns it.
func (q *queue) tryPush(it item, evict bool) (pushResult, item, bool) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return pushClosed, item{}, false
	}
	var old item
	evicted := false
	if q.n == len(q.buf) {
		if !evict {
			q.mu.Unlock()
			return pushFull, item{}, false
		}
		old = q.buf[q.head]
		q.buf[q.head] = item{}
		q.head = (q.head + 1) % len(q.buf)
		q.n--
		evicted = true
	}
	q.pushLocked(it)
	q.mu.Unlock()
	return pushed, old, evicted
}

// pushWait adds it, waiting for room until ctx is done or the queue closes.
func (q *queue) pushWait(ctx context.Context, it item) (pushResult, error) {
	q.mu.Lock()
	for q.n == len(q.buf) && !q.closed {
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
			q.mu.Lock()
			q.waiters--
			q.mu.Unlock()
			return pushFull, ctx.Err()
		}
		q.mu.Lock()
		q.waiters--
	}
	if q.closed {
		q.mu.Unlock()
		return pushClosed, nil
	}
	q.pushLocked(it)
	q.mu.Unlock()
	return pushed, nil
}

func (q *queue) pushLocked(it item) {
	q.buf[(q.head+q.n)%len(q.buf)] = it
	q.n++
	q.length.Store(int64(q.n))
	if q.n == 1 {
		select {
		case q.notify <- struct{}{}:
		default:
		}
	}
}

// pop waits for an item and removes it. It returns false once the queue is
// closed and empty.
func (q *queue) pop() (item, bool) {
	q.mu.Lock()
	for q.n == 0 {
		if q.closed {
			q.mu.Unlock()
			return item{}, false
		}
		q.mu.Unlock()
		<-q.notify
		q.mu.Lock()
	}
	it := q.buf[q.head]
	q.buf[q.head] = item{}
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.length.Store(int64(q.n))
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
			out = append(out, q.buf[q.head])
			q.buf[q.head] = item{}
			q.head = (q.head + 1) % len(q.buf)
			q.n--
		}
		q.length.Store(0)
	}
	q.wakeWaitersLocked()
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
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
