package eventbus

import (
	"sync"

	"github.com/busline/eventbus/internal/delivery"
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

// The delivery engine's types, as the bus uses them: a subscription's
// queue and its lanes, and a topic's delivery lists.
type (
	subQueue  = delivery.Queue[item, *Subscription]
	subLane   = delivery.Lane[item, *Subscription]
	topicRing = delivery.Ring[item, *Subscription]
)

// completion receives the outcome of one delivery: nil once the handler
// chain succeeded, the final *DeliveryError, or a *SubscriberError matching
// ErrDropped when the event was dropped instead. A delivery with a
// completion leaves reporting its failure to the completion's owner: the
// bus's error handler does not see it. PublishSync's waiter is one, a
// transport's acknowledgement (inboundDelivery) another.
type completion interface {
	finish(err error)
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

// sharesFunc returns addN for the ring's publish, or nil when nobody waits.
func (w *syncWait) sharesFunc() func(int) {
	if w == nil {
		return nil
	}
	return w.addN
}

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
