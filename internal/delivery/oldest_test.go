package delivery

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stepRig is a one-lane queue whose worker delivers one item per token on
// release, so that a test holds it on an item of its choice.
type stepRig struct {
	workers *Workers
	q       *Queue[num, string]
	started chan num
	release chan struct{}
}

func newStepRig(t *testing.T, capacity int) *stepRig { return newPolicyStepRig(t, capacity, Block) }

func newPolicyStepRig(t *testing.T, capacity int, policy Policy) *stepRig {
	r := &stepRig{workers: NewWorkers(func() {}), started: make(chan num, 1024), release: make(chan struct{}, 1024)}
	var counters Counters
	r.q = NewQueue(QueueConfig[num, string]{
		Owner: "sub", Lanes: 1, Capacity: capacity, Policy: policy, Counters: &counters, Workers: r.workers,
		Deliver: func(_ string, _ int, it num) {
			r.started <- it
			<-r.release
		},
		Finished: func(string) {},
	})
	t.Cleanup(func() {
		r.q.Close(true, Shutdown, func(num) {})
		for range 1024 {
			r.release <- struct{}{}
		}
		r.workers.Wait()
	})
	return r
}

func (r *stepRig) offer(t *testing.T, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		queued, err := r.q.Lane(0).OfferWait(context.Background(), num{i})
		require.NoError(t, err)
		require.True(t, queued)
	}
}

// Oldest finds the head of a lane wherever it is: at the fifo's head while
// the worker holds its first item, then among the unclaimed items of the
// batch the worker took.
func TestOldestFindsTheHeadInTheFIFOAndInTheBatch(t *testing.T) {
	r := newStepRig(t, 64)
	assert.Empty(t, r.q.Oldest(nil), "nothing queued")
	r.offer(t, 1, 1)
	assert.Equal(t, num{1}, recv(t, r.started, "item 1"))
	assert.Empty(t, r.q.Oldest(nil), "the item being delivered is not queued")
	r.offer(t, 2, 6)
	assert.Equal(t, []num{{2}}, r.q.Oldest(nil), "the fifo's head")
	st := r.q.Probe(0)
	require.Equal(t, 5, st.Buffered+st.Unclaimed)

	r.release <- struct{}{}
	assert.Equal(t, num{2}, recv(t, r.started, "item 2"))
	st = r.q.Probe(0)
	require.Equal(t, 4, st.Unclaimed, "items 3 to 6 are in the worker's batch")
	assert.Equal(t, []num{{3}}, r.q.Oldest(nil), "the batch's first unclaimed item")

	for want := 3; want <= 6; want++ {
		r.release <- struct{}{}
		assert.Equal(t, num{want}, recv(t, r.started, "the next item"))
	}
	assert.Empty(t, r.q.Oldest(nil), "all claimed")
	assert.Equal(t, 64, r.q.Capacity())
}

// A ring reader's head is its next position in the topic's ring.
func TestOldestOfARingReaderIsItsNextPosition(t *testing.T) {
	rr := newRingRig(t)
	rr.publishHeld(t, 3)
	assert.Equal(t, []num{{2}}, rr.slow.q.Oldest(nil))
	for range 3 {
		recv(t, rr.fast.got, "the fast reader's items")
	}
	assert.Empty(t, rr.fast.q.Oldest(nil), "the fast reader has handled everything")
}

// Oldest reads the lanes while producers, the worker and evictions move
// items (run with -race): the heads it sees only move forward.
func TestOldestIsSafeWhileItemsMove(t *testing.T) {
	for _, policy := range []Policy{Block, DropOldest} {
		last := 0
		whileItemsMove(t, policy, func(*Queue[num, string], num) {}, func(q *Queue[num, string]) {
			for _, it := range q.Oldest(nil) {
				assert.GreaterOrEqual(t, it.n, last, "policy %d: the head moved back", policy)
				last = it.n
			}
		})
	}
}

// whileItemsMove offers 5,000 items to a one-lane queue of capacity 8
// under policy, whose worker calls deliver with each item, and calls look
// from another goroutine over and over until every item is offered; then
// it closes the queue and waits for its worker.
func whileItemsMove(t *testing.T, policy Policy, deliver func(*Queue[num, string], num), look func(*Queue[num, string])) {
	t.Helper()
	workers := NewWorkers(func() {})
	var counters Counters
	var q *Queue[num, string]
	q = NewQueue(QueueConfig[num, string]{
		Owner: "sub", Lanes: 1, Capacity: 8, Policy: policy, Counters: &counters, Workers: workers,
		Deliver:  func(_ string, _ int, it num) { deliver(q, it) },
		Finished: func(string) {},
	})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			look(q)
		}
	})
	l := q.Lane(0)
	for i := 1; i <= 5000; i++ {
		if policy == Block {
			_, err := l.OfferWait(context.Background(), num{i})
			require.NoError(t, err)
		} else {
			l.Offer(num{i})
		}
	}
	close(stop)
	wg.Wait()
	q.Close(false, Shutdown, nil)
	workers.Wait()
}
