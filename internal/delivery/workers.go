package delivery

import (
	"sync"
	"time"
)

// IdleTick is how often a lane with a worker is checked for idleness: a
// worker parked and without items for a whole tick exits, so it stays
// parked for one to two ticks. That spans the gaps of any steady stream,
// yet quiet subscriptions soon hold no goroutine. A timer of the lane's own
// rather than a timeout in the park keeps the park a plain channel receive,
// the cheapest wake-up there is.
const IdleTick = 20 * time.Millisecond

// Workers owns the goroutines of a bus's lanes: every worker, started when
// its lane gets an item and ended when the lane closes and empties or stays
// idle, and every run of a lane's idle timer. Wait returns once they have
// all ended. A Workers must not be copied; make one with NewWorkers.
type Workers struct {
	// running counts the workers; a lane adds its worker under the lane's
	// lock, so that Wait, which the root calls only once no lane can get
	// work, sees every one.
	running sync.WaitGroup
	// onIdle is called when a worker parks or exits.
	onIdle func()
	// elapsed returns the time since the Workers were made: the clock of
	// the lanes (see clock), which tests may set before any item comes.
	elapsed func() time.Duration
	// dropHook, set by tests only, runs when a lock-free drop has seen its
	// lane full, before it counts the drop (see Lane.offerFull). It is here
	// rather than on the queue, which every subscription holds.
	dropHook func()

	mu      sync.Mutex
	checks  int           // idle checks running
	stopped bool          // Wait has begun: idle checks do nothing
	drained chan struct{} // closed when checks drops to zero, if Wait waits
}

// NewWorkers returns a Workers that calls onIdle, which must not block,
// whenever a worker parks or exits.
func NewWorkers(onIdle func()) *Workers {
	start := time.Now()
	return &Workers{onIdle: onIdle, elapsed: func() time.Duration { return time.Since(start) }}
}

// clockTick is the resolution of clock.
const clockTick = time.Millisecond

// clock returns the time since the Workers were made, in ticks, wrapping
// around every 49 days: lanes keep it in 32 bits.
func (w *Workers) clock() int32 { return int32(w.elapsed() / clockTick) }

// since returns an upper bound of the time since the clock read then, for
// readings less than 24 days old.
func (w *Workers) since(then int32) time.Duration {
	return time.Duration(w.clock()-then+1) * clockTick
}

// Wait waits until every worker has exited and every idle check has
// returned; idle checks that fire later do nothing. Call it once no lane
// can get more items.
func (w *Workers) Wait() {
	w.running.Wait()
	w.mu.Lock()
	w.stopped = true
	var drained chan struct{}
	if w.checks > 0 {
		drained = make(chan struct{})
		w.drained = drained
	}
	w.mu.Unlock()
	if drained != nil {
		<-drained
	}
}

// Go runs f on a goroutine of its own that Wait waits for, as it does for
// the workers. The root starts its subscriptions' replays with it, while
// no Wait can have begun.
func (w *Workers) Go(f func()) {
	w.running.Add(1)
	go func() {
		defer w.running.Done()
		f()
	}()
}

// idleTimer returns a timer that runs a lane's idle check every time it
// fires, counted, so that Wait waits for it.
func (w *Workers) idleTimer(check func()) *time.Timer {
	return time.AfterFunc(IdleTick, func() {
		if !w.enterCheck() {
			return
		}
		defer w.leaveCheck()
		check()
	})
}

func (w *Workers) enterCheck() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return false
	}
	w.checks++
	return true
}

func (w *Workers) leaveCheck() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.checks--
	if w.checks == 0 && w.drained != nil {
		close(w.drained)
		w.drained = nil
	}
}
