package eventbus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stressEvent identifies an event of the replay stress test: its publisher
// and its place among that publisher's events.
type stressEvent struct{ Publisher, Index int }

// replayRun is one subscription of the stress test: where it started and
// what it saw.
type replayRun struct {
	name   string
	start  Start
	asRing bool // the default subscription kind, a reader of the topic's ring
	mu     sync.Mutex
	seqs   []uint64
	events []stressEvent
	last   chan struct{} // closed when the last event arrived
}

// Several publishers publish at full speed while subscriptions start at
// random points in the past; each must see every event from its start on
// exactly once, in sequence order with one worker, across the hand-off
// from the replay to the live events.
func TestStressReplayHandOff(t *testing.T) {
	const (
		publishers   = 4
		perPublisher = 3000
		total        = publishers * perPublisher
		subscribers  = 30
	)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))

	b := newBus(t)
	tp := retainedTopic[stressEvent](t, b, "chat.message", Retention{MaxEvents: total})
	ctx := testCtx(t)

	// Publisher 0 ticks every so often, and a subscription starts at each
	// tick, so the starts spread over the run.
	ticks := make(chan struct{}, subscribers)
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perPublisher {
				if err := tp.Publish(ctx, stressEvent{p, i}); err != nil {
					t.Errorf("publish: %v", err)
					return
				}
				if p == 0 && i%(perPublisher/subscribers) == 0 {
					select {
					case ticks <- struct{}{}:
					default:
					}
				}
			}
		}()
	}

	var runs []*replayRun
	for i := range subscribers {
		<-ticks
		oldest, newest, ok := tp.RetainedRange()
		var st Start
		switch {
		case !ok || i%3 == 0:
			st = FromOldest()
		case i%3 == 1:
			st = FromSequence(oldest + rng.Uint64N(newest-oldest+2)) // up to the next event
		default:
			pick := oldest + rng.Uint64N(newest-oldest+1)
			for e, err := range tp.Retained(pick, pick) {
				require.NoError(t, err)
				st = FromTime(e.Time)
			}
		}
		r := &replayRun{name: fmt.Sprintf("s%d", i), start: st, asRing: i%2 == 0, last: make(chan struct{})}
		handler := func(_ context.Context, e *Event[stressEvent]) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.seqs = append(r.seqs, e.Sequence)
			r.events = append(r.events, e.Payload)
			if e.Sequence == total {
				close(r.last)
			}
			return nil
		}
		opts := []SubscribeOption{WithStart(st)}
		if !r.asRing {
			// A queue of its own instead of the ring: one too large for it.
			opts = append(opts, WithQueueCapacity(2*DefaultQueueCapacity))
		}
		mustSubscribe(t, tp, r.name, handler, opts...)
		runs = append(runs, r)
	}
	wg.Wait()

	// Where each start begins, from the complete log.
	times := make([]time.Time, total+1)
	for e, err := range tp.Retained(1, total) {
		require.NoError(t, err)
		times[e.Sequence] = e.Time
	}
	firstAt := func(st Start) uint64 {
		if seq, ok := st.Sequence(); ok {
			return seq
		}
		if at, ok := st.Time(); ok {
			for s := uint64(1); s <= total; s++ {
				if !times[s].Before(at) {
					return s
				}
			}
		}
		return 1
	}
	for _, r := range runs {
		waitClosed(t, r.last, r.name+" to get the last event")
		r.mu.Lock()
		first := firstAt(r.start)
		want := seqRange(first, total)
		if r.asRing {
			require.Equal(t, want, r.seqs, "%s from %s: every event once, in sequence order", r.name, r.start)
		} else {
			require.ElementsMatch(t, want, r.seqs, "%s from %s: every event once", r.name, r.start)
			// Concurrent publishers' offers to a queue interleave: the order
			// that holds is each publisher's.
			next := make(map[int]int)
			for _, e := range r.events {
				if n, ok := next[e.Publisher]; ok {
					require.Equal(t, n, e.Index, "%s: publisher %d's order", r.name, e.Publisher)
				}
				next[e.Publisher] = e.Index + 1
			}
		}
		r.mu.Unlock()
	}
	for _, st := range b.SubscriptionStats() {
		assert.Zero(t, st.Dropped.Total(), st.Subscriber)
	}
}
