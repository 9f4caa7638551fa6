package delivery

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/busline/eventbus/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of the engine on its own: items are numbers, and a queue's deliver
// callback reports each one as started, waits at the rig's gate if it has
// one, and reports it as delivered.

type num struct{ n int }

// rig is the queue of one subscription and what its worker did.
type rig struct {
	workers  *Workers
	counters Counters
	q        *Queue[num, string]
	idle     chan struct{} // a worker parked or exited
	started  chan num
	got      chan num
	gate     chan struct{} // nil: deliver at once
	opened   sync.Once
	finished chan struct{}
}

func newRig(t *testing.T, lanes, capacity int, policy Policy, gated bool) *rig {
	t.Helper()
	r := &rig{
		idle:     make(chan struct{}, 1024),
		started:  make(chan num, 1024),
		got:      make(chan num, 1024),
		finished: make(chan struct{}),
	}
	r.workers = NewWorkers(func() {
		select {
		case r.idle <- struct{}{}:
		default:
		}
	})
	if gated {
		r.gate = make(chan struct{})
	}
	r.q = NewQueue(QueueConfig[num, string]{
		Owner: "sub", Lanes: lanes, Capacity: capacity, Policy: policy,
		Counters: &r.counters, Workers: r.workers,
		Deliver: func(_ string, _ int, it num) {
			r.started <- it
			if r.gate != nil {
				<-r.gate
			}
			r.got <- it
		},
		Finished: func(string) { close(r.finished) },
	})
	t.Cleanup(func() {
		r.q.Close(true, Shutdown, func(num) {})
		r.open()
		r.workers.Wait()
	})
	return r
}

// open lets every gated delivery go on.
func (r *rig) open() {
	if r.gate != nil {
		r.opened.Do(func() { close(r.gate) })
	}
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	return testkit.Recv(t, ch, what)
}

func TestFIFOGrowsUpToItsLimitInOrder(t *testing.T) {
	f := newFIFO[num](5)
	for round := range 3 {
		for i := range 5 {
			f.push(num{round*10 + i}, 5)
		}
		assert.Len(t, f.buf, 5, "never past the limit")
		for i := range 5 {
			assert.Equal(t, num{round*10 + i}, f.pop())
		}
		assert.Zero(t, f.n)
	}
	assert.Equal(t, make([]num, 5), f.buf, "popped items are cleared")
}

func TestLaneDeliversInOrderAndFinishesOnClose(t *testing.T) {
	r := newRig(t, 1, 8, Block, false)
	l := r.q.LaneFor("")
	for i := 1; i <= 100; i++ {
		queued, err := l.OfferWait(context.Background(), num{i})
		require.NoError(t, err)
		require.True(t, queued)
	}
	for i := 1; i <= 100; i++ {
		require.Equal(t, num{i}, recv(t, r.got, "an item"))
	}
	assert.Zero(t, r.q.Close(false, Unsubscribed, nil))
	recv(t, r.finished, "the queue to finish")
	r.workers.Wait()
	queued, enqueued := r.q.Counts()
	assert.Zero(t, queued)
	assert.Equal(t, uint64(100), enqueued)
	adm, _, _ := l.Offer(num{101})
	assert.Equal(t, Closed, adm, "a closed lane takes nothing")
}

func TestLanePoliciesWhenFull(t *testing.T) {
	for _, tc := range []struct {
		policy  Policy
		want    Admission
		counter func(*Counters) uint64
	}{
		{DropNewest, Dropped, func(c *Counters) uint64 { return c.QueueFull.Load() }},
		{DropOldest, Admitted, func(c *Counters) uint64 { return c.Evicted.Load() }},
		{Fail, Refused, func(c *Counters) uint64 { return c.Rejected.Load() }},
		{Block, Full, nil},
	} {
		t.Run(fmt.Sprint(tc.policy), func(t *testing.T) {
			r := newRig(t, 1, 2, tc.policy, true)
			l := r.q.Lane(0)
			adm, _, _ := l.Offer(num{1})
			require.Equal(t, Admitted, adm)
			recv(t, r.started, "item 1, held at the gate")
			for i := 2; i <= 3; i++ {
				adm, _, _ := l.Offer(num{i})
				require.Equal(t, Admitted, adm)
			}
			adm, old, evicted := l.Offer(num{4})
			assert.Equal(t, tc.want, adm)
			if tc.policy == DropOldest {
				assert.True(t, evicted)
				assert.Equal(t, num{2}, old)
			}
			if tc.counter != nil {
				assert.Equal(t, uint64(1), tc.counter(&r.counters))
			}
			queued, _ := r.q.Counts()
			assert.Equal(t, 2, queued, "the capacity holds")
		})
	}
}

// A full DropNewest or Fail lane drops without its lock; a claim makes room
// again at once, and a close racing the drops finishes the queue only once
// every drop it counted has landed, so the counts a finished queue shows are
// final.
func TestDropsOfAFullLaneLandBeforeItFinishes(t *testing.T) {
	for _, tc := range []struct {
		policy  Policy
		want    Admission
		counter func(*Counters) uint64
	}{
		{DropNewest, Dropped, func(c *Counters) uint64 { return c.QueueFull.Load() }},
		{Fail, Refused, func(c *Counters) uint64 { return c.Rejected.Load() }},
	} {
		t.Run(fmt.Sprint(tc.policy), func(t *testing.T) {
			r := newRig(t, 1, 1, tc.policy, true)
			l := r.q.Lane(0)
			adm, _, _ := l.Offer(num{1})
			require.Equal(t, Admitted, adm)
			recv(t, r.started, "item 1, held at the gate")
			adm, _, _ = l.Offer(num{2})
			require.Equal(t, Admitted, adm)
			adm, _, _ = l.Offer(num{3})
			require.Equal(t, tc.want, adm, "found full under the lock")
			require.NotZero(t, l.drops.Load()&dropFull)
			adm, _, _ = l.Offer(num{4})
			require.Equal(t, tc.want, adm, "dropped without the lock")

			// Let item 1 finish and item 2 be claimed: there is room again.
			r.gate <- struct{}{}
			recv(t, r.got, "item 1")
			require.Equal(t, num{2}, recv(t, r.started, "item 2, held at the gate"))
			adm, _, _ = l.Offer(num{5})
			require.Equal(t, Admitted, adm, "the claim made room")

			// A flood of drops racing a discarding close.
			const producers, offers = 4, 2000
			var dropped sync.WaitGroup
			counts := make(chan uint64, producers)
			start := make(chan struct{})
			for p := range producers {
				dropped.Go(func() {
					<-start
					var n uint64
					for i := range offers {
						if adm, _, _ := l.Offer(num{100 + p*offers + i}); adm == tc.want {
							n++
						}
					}
					counts <- n
				})
			}
			close(start)
			var discarded []num
			r.q.Close(true, Shutdown, func(it num) { discarded = append(discarded, it) })
			r.open()
			recv(t, r.finished, "the queue to finish")
			atFinish := tc.counter(&r.counters)
			dropped.Wait()
			close(counts)
			var total uint64
			for n := range counts {
				total += n
			}
			assert.Equal(t, total+2, atFinish, "every drop counted before the queue finished")
			assert.Equal(t, atFinish, tc.counter(&r.counters), "no drop counted after")
			assert.Equal(t, []num{{5}}, discarded)
		})
	}
}

// A drop that saw its lane full before a close keeps the queue from
// finishing until the drop is counted.
func TestACloseWaitsForADropInProgress(t *testing.T) {
	r := newRig(t, 1, 1, DropNewest, true)
	l := r.q.Lane(0)
	for i := 1; i <= 3; i++ {
		l.Offer(num{i}) // 1 is delivered, 2 queued, 3 dropped under the lock
		if i == 1 {
			recv(t, r.started, "item 1, held at the gate")
		}
	}
	require.NotZero(t, l.drops.Load()&dropFull)
	sawFull, count := make(chan struct{}), make(chan struct{})
	r.workers.dropHook = func() {
		close(sawFull)
		<-count
	}
	result := make(chan Admission, 1)
	go func() {
		adm, _, _ := l.Offer(num{4})
		result <- adm
	}()
	recv(t, sawFull, "the drop to see the lane full")
	r.q.Close(true, Shutdown, func(num) {})
	r.open()
	recv(t, r.got, "item 1")
	// The worker has exited or is about to: the queue must still wait.
	r.workers.Wait()
	select {
	case <-r.finished:
		t.Fatal("the queue finished before the drop in progress was counted")
	default:
	}
	close(count)
	assert.Equal(t, Dropped, recv(t, result, "the drop"))
	recv(t, r.finished, "the queue to finish once the drop is counted")
	assert.Equal(t, uint64(2), r.counters.QueueFull.Load())
}

func TestOfferWaitEndsWithCtxOrClose(t *testing.T) {
	r := newRig(t, 1, 1, Block, true)
	l := r.q.Lane(0)
	l.Offer(num{1})
	recv(t, r.started, "item 1, held at the gate")
	l.Offer(num{2}) // fills the lane
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	queued, err := l.OfferWait(ctx, num{3})
	assert.False(t, queued)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, uint64(1), r.counters.Canceled.Load())

	spy := testkit.NewWaitSpy(context.Background())
	res := make(chan bool, 1)
	go func() {
		queued, _ := l.OfferWait(spy, num{4})
		res <- queued
	}()
	recv(t, spy.Waiting(), "the producer to wait")
	var dropped []num
	n := r.q.Close(true, Unsubscribed, func(it num) { dropped = append(dropped, it) })
	assert.False(t, recv(t, res, "the waiting producer"), "a close ends the wait unqueued")
	assert.Equal(t, 1, n)
	assert.Equal(t, []num{{2}}, dropped)
	assert.Equal(t, uint64(1), r.counters.Unsubscribed.Load())
	assert.Equal(t, uint64(2), r.counters.Canceled.Load(), "the waiting producer's item")
	r.open()
	recv(t, r.finished, "the queue to finish")
}

func TestLaneForKeepsAKeyOnOneLane(t *testing.T) {
	r := newRig(t, 4, 16, Block, false)
	for _, key := range []string{"a", "b", "conversation-17", "é"} {
		first := r.q.LaneFor(key)
		for range 10 {
			assert.Same(t, first, r.q.LaneFor(key))
		}
	}
	seen := map[*Lane[num, string]]bool{}
	for range 8 {
		seen[r.q.LaneFor("")] = true
	}
	assert.Greater(t, len(seen), 1, "keyless items spread over the lanes")
}

func TestIdleWorkerRetiresAndWaitWaitsForTheChecks(t *testing.T) {
	r := newRig(t, 1, 4, Block, false)
	l := r.q.Lane(0)
	l.Offer(num{1})
	recv(t, r.got, "item 1")
	// The worker parks, and one to two idle ticks later exits: each tells
	// the Workers' onIdle.
	for r.q.Probe(0).Running {
		recv(t, r.idle, "the worker to park or exit")
	}
	l.Offer(num{2})
	assert.Equal(t, num{2}, recv(t, r.got, "item 2, by a new worker"))
	r.q.Close(false, Unsubscribed, nil)
	recv(t, r.finished, "the queue to finish")
	r.workers.Wait()
	r.workers.mu.Lock()
	defer r.workers.mu.Unlock()
	assert.Zero(t, r.workers.checks)
	assert.True(t, r.workers.stopped, "idle checks firing later do nothing")
}

// ringRig is a topic's ring with a gated reader of capacity 4 and a fast
// reader.
type ringRig struct {
	ring       *Ring[num, string]
	slow, fast *rig
}

func newRingRig(t *testing.T) *ringRig {
	rr := &ringRig{ring: NewRing[num, string](), slow: newRig(t, 1, 4, Block, true), fast: newRig(t, 1, 64, Block, false)}
	rr.ring.Attach(rr.slow.q, true)
	rr.ring.Attach(rr.fast.q, true)
	return rr
}

// publish writes n to the ring and offers it to every queue as a producer
// does, returning its position and the lanes without room for it.
func (rr *ringRig) publish(n int) (pos uint64, blocked []*Lane[num, string]) {
	readers, pos, subs := rr.ring.Publish(num{n}, nil)
	for _, l := range readers {
		if !l.ReaderRoom(pos) {
			blocked = append(blocked, l)
		}
	}
	for _, q := range subs {
		if adm, _, _ := q.Lane(0).Offer(num{n}); adm == Full {
			blocked = append(blocked, q.Lane(0))
		}
	}
	return pos, blocked
}

// publishHeld publishes item 1, which the slow reader's worker takes and
// holds at its gate, then items 2 to n, for which both readers have room.
func (rr *ringRig) publishHeld(t *testing.T, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		_, blocked := rr.publish(i)
		require.Empty(t, blocked, "item %d", i)
		if i == 1 {
			recv(t, rr.slow.started, "item 1, held at the slow reader's gate")
		}
	}
}

func TestRingReadersShareOneWrite(t *testing.T) {
	rr := newRingRig(t)
	require.True(t, rr.slow.q.Probe(0).RingReader)
	_, blocked := rr.publish(1)
	require.Empty(t, blocked)
	recv(t, rr.slow.started, "item 1, held at the slow reader's gate")
	for i := 1; i <= 40; i++ { // past the initial slots: the ring grows
		if i > 1 {
			_, blocked := rr.publish(i)
			if i <= 5 {
				require.Empty(t, blocked, "item %d: the slow reader has room", i)
			} else {
				require.Equal(t, []*Lane[num, string]{rr.slow.q.Lane(0)}, blocked, "item %d", i)
			}
		}
		assert.Equal(t, num{i}, recv(t, rr.fast.got, "the fast reader's item"))
	}
	st := rr.ring.Probe()
	assert.Equal(t, 2, st.Readers)
	assert.GreaterOrEqual(t, st.Slots, 64, "the ring grew to keep the slow reader's positions")
	queued, _ := rr.slow.q.Counts()
	assert.Equal(t, 4, queued, "positions past the room are not queued")
}

// A producer that gives up waiting for a reader takes its item back from
// that reader alone, which leaves the ring for a fifo; the items of the
// other producers waiting for it stay out of the fifo until it has room,
// so the capacity holds.
func TestRingCancelKeepsTheCapacity(t *testing.T) {
	rr := newRingRig(t)
	slow := rr.slow.q.Lane(0)
	rr.publishHeld(t, 5)
	type wait struct {
		res RingWait
		err error
		pos uint64
	}
	waits := map[int]chan wait{}
	ctxs := map[int]context.CancelFunc{}
	for _, i := range []int{6, 7, 8} {
		pos, blocked := rr.publish(i)
		require.Equal(t, []*Lane[num, string]{slow}, blocked)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		spy := testkit.NewWaitSpy(ctx)
		ch := make(chan wait, 1)
		go func() {
			res, err := slow.WaitRing(spy, pos, num{i})
			ch <- wait{res, err, pos}
		}()
		recv(t, spy.Waiting(), "the producer to wait")
		waits[i], ctxs[i] = ch, cancel
	}
	ctxs[7]()
	w := recv(t, waits[7], "the producer that gave up")
	require.Equal(t, RingExpired, w.res)
	require.Equal(t, SkipRemoved, rr.ring.Cancel(slow, w.pos))

	assert.False(t, rr.slow.q.Probe(0).RingReader, "the slow reader left the ring")
	queued, enqueued := rr.slow.q.Counts()
	assert.Equal(t, 4, queued, "the capacity holds")
	assert.Equal(t, uint64(5), enqueued)
	assert.Equal(t, uint64(1), rr.slow.counters.Canceled.Load())
	for i := 1; i <= 8; i++ {
		recv(t, rr.fast.got, "the fast reader's items, all of them")
	}

	rr.slow.open()
	var got []int
	for range 7 {
		got = append(got, recv(t, rr.slow.got, "the slow reader's items").n)
	}
	assert.Equal(t, []int{1, 2, 3, 4, 5}, got[:5], "the queued items first, in order")
	assert.ElementsMatch(t, []int{6, 8}, got[5:])
	for _, i := range []int{6, 8} {
		assert.Equal(t, RingQueued, recv(t, waits[i], "a waiting producer").res)
	}
	assert.False(t, slices.Contains(got, 7))
	_, enqueued = rr.slow.q.Counts()
	assert.Equal(t, uint64(7), enqueued)
}

// Working tells a lane whose worker is at an item, and for how long at most,
// from one that has no worker or a parked one; idle checks while the item
// runs keep the time it was taken.
func TestWorkingTellsABusyLane(t *testing.T) {
	r := newRig(t, 2, 4, Block, true)
	var now atomic.Int64 // the lanes' clock, in milliseconds
	now.Store(1000)
	r.workers.elapsed = func() time.Duration { return time.Duration(now.Load()) * time.Millisecond }
	working, _ := r.q.Working(0)
	assert.False(t, working, "no worker yet")
	l := r.q.Lane(0)
	adm, _, _ := l.Offer(num{1}) // taken at 1000 ms
	require.Equal(t, Admitted, adm)
	recv(t, r.started, "item 1, held at the gate")
	now.Store(1005)
	working, since := r.q.Working(0)
	assert.True(t, working)
	assert.Equal(t, 6*time.Millisecond, since, "5 ms, and the clock's tick")
	for _, at := range []int64{1020, 1040, 1060} {
		now.Store(at)
		l.idleCheck() // as the lane's timer does every IdleTick
	}
	now.Store(1070)
	_, since = r.q.Working(0)
	assert.Equal(t, 71*time.Millisecond, since, "still since the item was taken")
	working, _ = r.q.Working(1)
	assert.False(t, working, "the other lane has no worker")

	r.gate <- struct{}{}
	recv(t, r.got, "item 1")
	recv(t, r.idle, "the worker to park")
	working, _ = r.q.Working(0)
	assert.False(t, working, "a parked worker is not at work")
}
