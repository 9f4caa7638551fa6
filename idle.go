package eventbus

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// WaitIdle waits until the bus has nothing left to do: no publish in
// progress, no event queued for any subscriber, no handler running
// (a handler waiting for the Retry middleware's next attempt is running),
// and no subscription started in the past still replaying retained events.
// Events that handlers publish while they run are part of the work, so
// WaitIdle returns only once whole chains of events have been handled. It
// returns nil at once if the bus is idle already, or once it is closed and
// done.
//
// If ctx ends first, WaitIdle returns a *BusyError that says what was
// still busy, which topic and subscriber with how many events, and unwraps
// to ctx's error. Called with a handler's ctx (from inside a handler,
// which keeps the bus busy), it returns an error matching
// ErrCalledFromHandler at once.
//
// On a bus with a transport, WaitIdle sees this process only: an event on
// its way through the broker, or held by it for a later redelivery, is not
// counted until its consumer hands it to a subscriber's queue. Wait for
// such events themselves there.
//
// WaitIdle is what tests call instead of sleeping; see the bustest
// package.
func (b *Bus) WaitIdle(ctx context.Context) error {
	if d := deliveryFrom(ctx); d != nil && d.sub.topic.bus == b {
		return fmt.Errorf("%w: WaitIdle with the ctx of a handler of %s/%s, which keeps the bus busy",
			ErrCalledFromHandler, d.sub.topic.name, d.sub.name)
	}
	b.idle.enter()
	defer b.idle.leave()
	for {
		changed := b.idle.changed()
		if b.idleNow() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if b.idleNow() {
				return nil
			}
			return b.busyError(ctx.Err())
		}
	}
}

// idleNow reports whether the bus is idle for WaitIdle: quiescent, with
// every replay caught up or stopped.
func (b *Bus) idleNow() bool {
	return b.quiescentWith(func(s *Subscription) bool { return s.replaying() })
}

// busyError describes what keeps the bus busy now, for a WaitIdle whose
// ctx ended with err.
func (b *Bus) busyError(err error) *BusyError {
	e := &BusyError{Publishing: int(b.publishesStarted.Load() - b.publishesFinished.Load()), Err: err}
	for _, s := range b.liveSubscriptions() {
		queued, _ := s.queue.Counts()
		running := s.runningHandlers()
		replaying := s.replaying()
		if queued == 0 && len(running) == 0 && !replaying && !s.queue.Busy() {
			continue
		}
		e.Busy = append(e.Busy, BusySubscription{
			Topic: s.topic.name, Subscriber: s.name, Queued: queued, Running: running, Replaying: replaying,
		})
	}
	slices.SortFunc(e.Busy, func(x, y BusySubscription) int {
		return cmp.Or(strings.Compare(x.Topic, y.Topic), strings.Compare(x.Subscriber, y.Subscriber))
	})
	return e
}

// replaying reports whether s, started in the past, is still reading its
// topic's retained events.
func (s *Subscription) replaying() bool {
	if s.replay == nil || s.isDetached() {
		return false
	}
	select {
	case <-s.replay.live:
		return false
	default:
		return true
	}
}

// idleSignal wakes the goroutines that wait for the bus to go idle (Close
// and WaitIdle) whenever it may have: when a publish finishes, a worker
// parks or exits, or a replay ends. Those events are frequent, so a signal
// costs one atomic load while nobody waits. A waiter enters, takes the
// changed channel, then looks at the bus: a change after the look closes
// the channel it holds.
type idleSignal struct {
	waiters atomic.Int32
	mu      sync.Mutex
	ch      chan struct{} // closed and cleared by notify; made by changed
}

func (s *idleSignal) enter() { s.waiters.Add(1) }
func (s *idleSignal) leave() { s.waiters.Add(-1) }

// changed returns a channel that is closed at the next notify.
func (s *idleSignal) changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// notify wakes the waiters, if any.
func (s *idleSignal) notify() {
	if s.waiters.Load() == 0 {
		return
	}
	s.mu.Lock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
	s.mu.Unlock()
}
