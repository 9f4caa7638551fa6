package delivery

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Current is the item the worker is at, even when evictions and a
// discarding close claim the items after it.
func TestCurrentIsTheWorkersItemThroughEvictionsAndClose(t *testing.T) {
	r := newPolicyStepRig(t, 4, DropOldest)
	_, ok := r.q.Current(0)
	assert.False(t, ok, "no worker yet")

	l := r.q.Lane(0)
	l.Offer(num{1})
	require.Equal(t, num{1}, recv(t, r.started, "item 1"))
	cur, ok := r.q.Current(0)
	assert.True(t, ok)
	assert.Equal(t, num{1}, cur)

	for i := 2; i <= 5; i++ {
		l.Offer(num{i})
	}
	r.release <- struct{}{}
	require.Equal(t, num{2}, recv(t, r.started, "item 2, the first of the batch 2-5"))
	l.Offer(num{6}) // room: 3, 4 and 5 are queued
	for i := 7; i <= 8; i++ {
		adm, evicted, was := l.Offer(num{i})
		require.Equal(t, Admitted, adm)
		require.True(t, was)
		require.Equal(t, num{i - 4}, evicted, "the batch's oldest unclaimed item")
	}
	cur, ok = r.q.Current(0)
	assert.True(t, ok)
	assert.Equal(t, num{2}, cur, "evictions claimed 3 and 4, not the worker")

	var dropped []num
	r.q.Close(true, Unsubscribed, func(it num) { dropped = append(dropped, it) })
	assert.Equal(t, []num{{5}, {6}, {7}, {8}}, dropped)
	cur, ok = r.q.Current(0)
	assert.True(t, ok)
	assert.Equal(t, num{2}, cur, "a discarding close took the rest, not the worker's item")

	r.release <- struct{}{}
	r.workers.Wait()
	_, ok = r.q.Current(0)
	assert.False(t, ok, "the worker has gone")
}

// A worker's deliver callback finds its own item in Current while
// producers evict and another goroutine reads Current (run with -race);
// that reader sees the items in order.
func TestCurrentIsSafeWhileItemsMove(t *testing.T) {
	for _, policy := range []Policy{Block, DropOldest} {
		var wrong sync.Map
		last := 0
		whileItemsMove(t, policy, func(q *Queue[num, string], it num) {
			if cur, ok := q.Current(0); !ok || cur != it {
				wrong.Store(it, cur)
			}
		}, func(q *Queue[num, string]) {
			if cur, ok := q.Current(0); ok {
				assert.GreaterOrEqual(t, cur.n, last, "policy %d: the current item moved back", policy)
				last = cur.n
			}
		})
		wrong.Range(func(k, v any) bool {
			t.Errorf("policy %d: delivering %v, Current said %v", policy, k, v)
			return true
		})
	}
}
