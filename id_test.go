package eventbus

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIDGeneratorMakesVersion7(t *testing.T) {
	g := newIDGenerator()
	before := time.Now()
	id := g.next(time.Now())
	after := time.Now()

	assert.Equal(t, uuid.Version(7), id.Version())
	assert.Equal(t, uuid.RFC4122, id.Variant())
	sec, nsec := id.Time().UnixTime()
	ts := time.Unix(sec, nsec)
	assert.False(t, ts.Before(before.Truncate(time.Millisecond)), "timestamp %v before %v", ts, before)
	assert.False(t, ts.After(after), "timestamp %v after %v", ts, after)

	parsed, err := uuid.Parse(id.String())
	require.NoError(t, err)
	assert.Equal(t, id, parsed)
}

func TestIDGeneratorIsStrictlyIncreasingAcrossGoroutines(t *testing.T) {
	g := newIDGenerator()
	const workers, perWorker = 4, 5000
	ids := make([][]uuid.UUID, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				ids[w] = append(ids[w], g.next(time.Now()))
			}
		}()
	}
	wg.Wait()

	seen := make(map[uuid.UUID]bool, workers*perWorker)
	for _, list := range ids {
		for i, id := range list {
			require.False(t, seen[id], "duplicate id %s", id)
			seen[id] = true
			if i > 0 {
				require.Equal(t, 1, bytes.Compare(id[:], list[i-1][:]), "ids of one goroutine must increase: %s then %s", list[i-1], id)
			}
		}
	}
}

func TestIDGeneratorKeepsOrderWhenTheClockStepsBack(t *testing.T) {
	g := newIDGenerator()
	now := time.Now()
	first := g.next(now.Add(time.Second))
	second := g.next(now) // the clock went back a second
	assert.Equal(t, 1, bytes.Compare(second[:], first[:]))
}

func TestIDGeneratorCounterOverflowCarriesIntoTimestamp(t *testing.T) {
	g := newIDGenerator()
	now := time.Now()
	g.state.Store(uint64(now.UnixMilli()-g.base)<<idCounterBits | idCounterMask)
	before := g.next(now.Add(-time.Hour)) // counter overflows: carries one millisecond
	after := g.next(now.Add(-time.Hour))
	assert.Equal(t, 1, bytes.Compare(after[:], before[:]))
	sec, nsec := before.Time().UnixTime()
	assert.Equal(t, now.UnixMilli()+1, time.Unix(sec, nsec).UnixMilli())
}

func TestIDStringMatchesCanonicalText(t *testing.T) {
	g := newIDGenerator()
	for range 100 {
		id := g.next(time.Now())
		var buf [36]byte
		assert.Equal(t, id.String(), idString(id, &buf))
	}
	for first := range 256 { // every byte value in every position
		var id uuid.UUID
		for i := range id {
			id[i] = byte(first + 17*i)
		}
		var buf [36]byte
		assert.Equal(t, id.String(), idString(id, &buf))
	}
}

func TestClockIsMonotonicAndNearTheWallClock(t *testing.T) {
	g := newIDGenerator()
	prev := g.now()
	for range 1000 {
		now := g.now()
		require.False(t, now.Before(prev), "time went back")
		prev = now
	}
	wall := time.Now()
	assert.WithinDuration(t, wall, g.now().Round(0), 10*time.Millisecond, "the wall reading drifts from the clock")
}
