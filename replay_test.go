package eventbus

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// replaySeen is what a replay test's handler records of one delivery.
type replaySeen struct {
	seq      uint64
	payload  int
	replayed bool
}

// recorder returns a handler that sends what it sees on the channel.
func recorder() (Handler[int], <-chan replaySeen) {
	ch := make(chan replaySeen, 4096)
	return func(ctx context.Context, e *Event[int]) error {
		info, _ := DeliveryFromContext(ctx)
		ch <- replaySeen{seq: e.Sequence, payload: e.Payload, replayed: info.Replayed}
		return nil
	}, ch
}

func seqsOf(ss []replaySeen) []uint64 {
	out := make([]uint64, len(ss))
	for i, s := range ss {
		out[i] = s.seq
	}
	return out
}

func TestReplayFromEachStartThenLive(t *testing.T) {
	b := newBus(t)
	tp := retainedTopic[int](t, b, "chat.message", Retention{MaxEvents: 100})
	publishN(t, tp, 1, 10)
	var sixth *Event[int]
	for e, err := range tp.Retained(6, 6) {
		require.NoError(t, err)
		sixth = e
	}
	starts := map[string]struct {
		start Start
		first uint64
	}{
		"oldest":   {FromOldest(), 1},
		"sequence": {FromSequence(4), 4},
		"time":     {FromTime(sixth.Time), 0}, // the first event at that time
		"newest":   {FromSequence(11), 11},
	}
	handlers := map[string]<-chan replaySeen{}
	for name, st := range starts {
		h, ch := recorder()
		mustSubscribe(t, tp, name, h, WithStart(st.start))
		handlers[name] = ch
	}
	live, liveCh := recorder()
	mustSubscribe(t, tp, "live", live)
	publishN(t, tp, 11, 15)

	firstAtSixthTime := uint64(6)
	for e, err := range tp.Retained(1, 5) {
		require.NoError(t, err)
		if !e.Time.Before(sixth.Time) {
			firstAtSixthTime = min(firstAtSixthTime, e.Sequence)
		}
	}
	for name, st := range starts {
		first := st.first
		if first == 0 {
			first = firstAtSixthTime
		}
		got := recvN(t, handlers[name], int(15-first+1), name)
		assert.Equal(t, seqRange(first, 15), seqsOf(got), name)
		for i, g := range got {
			assert.Equal(t, int(g.seq), g.payload, name)
			// The replay may catch up after Subscribe returned, reading
			// some of the later events from the log too: the replayed ones
			// come first.
			if g.seq <= 10 {
				assert.True(t, g.replayed, "%s: event %d replayed", name, g.seq)
			}
			if i > 0 && !got[i-1].replayed {
				assert.False(t, g.replayed, "%s: event %d replayed after a live one", name, g.seq)
			}
		}
		nothingOn(t, handlers[name], name)
	}
	got := recvN(t, liveCh, 5, "the live subscriber")
	assert.Equal(t, seqRange(11, 15), seqsOf(got))
	for _, g := range got {
		assert.False(t, g.replayed)
	}
}

// Replayed events go through the subscription's filter, middleware and
// counters like live ones.
func TestReplayPassesThroughFilterMiddlewareAndStats(t *testing.T) {
	b := newBus(t)
	tp := retainedTopic[int](t, b, "chat.message", Retention{MaxEvents: 100})
	publishN(t, tp, 1, 10)
	var wrapped []uint64
	mw := NewMiddleware(func(next MessageHandler) MessageHandler {
		return func(ctx context.Context, m Message) error {
			wrapped = append(wrapped, m.EventEnvelope().Sequence) // one worker: no race
			return next(ctx, m)
		}
	})
	h, ch := recorder()
	s := mustSubscribe(t, tp, "evens", h, WithStart(FromOldest()),
		WithFilter(func(e *Event[int]) bool { return e.Payload%2 == 0 }),
		WithSubscriptionMiddleware(mw))
	publishN(t, tp, 11, 12)
	got := recvN(t, ch, 6, "the even events")
	assert.Equal(t, []uint64{2, 4, 6, 8, 10, 12}, seqsOf(got))
	require.NoError(t, s.Drain(testCtx(t)))
	assert.Equal(t, []uint64{2, 4, 6, 8, 10, 12}, wrapped)
	st := s.Stats()
	assert.Equal(t, uint64(6), st.Delivered)
	assert.Equal(t, uint64(6), st.Filtered)
	checkAccounting(t, st)
}

// A replay into a full queue applies the subscription's overflow policy.
func TestReplayAppliesTheOverflowPolicy(t *testing.T) {
	b := newBus(t)
	tp := retainedTopic[int](t, b, "chat.message", Retention{MaxEvents: 100})
	publishN(t, tp, 1, 10)
	g := newGate[int]()
	s := mustSubscribe(t, tp, "small", g.handle, WithStart(FromOldest()),
		WithQueueCapacity(2), WithOverflow(OverflowDropNewest))
	first := recv(t, g.started, "the first replayed event")
	assert.Equal(t, uint64(1), first.Sequence)
	// The replay offers every event while the handler holds the first:
	// the queue holds events 1 and 2, the others are dropped, except that
	// once the worker has claimed event 1 (which no longer counts against
	// the capacity) the first event offered after that claim is queued
	// too: events 1 and 2 alone if the claim came after every offer, else
	// one of events 3 to 10 as well.
	waitClosed(t, s.Live(), "the replay to catch up")
	st := s.Stats()
	queued := int(st.Enqueued)
	require.Contains(t, []int{2, 3}, queued)
	assert.Equal(t, uint64(10-queued), st.Dropped.QueueFull)
	g.open()
	var got []uint64
	for range queued {
		got = append(got, recv(t, g.done, "a handled event").Sequence)
	}
	assert.Equal(t, seqRange(1, 2), got[:2])
	if queued == 3 {
		assert.GreaterOrEqual(t, got[2], uint64(3))
		assert.LessOrEqual(t, got[2], uint64(10))
	}
	publishN(t, tp, 11, 11)
	assert.Equal(t, uint64(11), recv(t, g.done, "the live event").Sequence)
	require.NoError(t, s.Drain(testCtx(t)))
	st = s.Stats()
	assert.Equal(t, uint64(queued+1), st.Delivered)
	checkAccounting(t, st)
}

// A replay that falls behind the retention counts and logs what it missed,
// and goes on with the oldest event left.
func TestReplayFallingBehindRetentionCountsExpired(t *testing.T) {
	var logs bytes.Buffer
	b := newBus(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	tp := retainedTopic[int](t, b, "chat.message", Retention{MaxEvents: 8})
	publishN(t, tp, 1, 8)
	g := newGate[int]()
	s := mustSubscribe(t, tp, "slow", g.handle, WithStart(FromOldest()), WithQueueCapacity(1))
	recv(t, g.started, "the first replayed event")
	// The replay copied events 1 to 8 out of the log and waits for room;
	// meanwhile the log moves on to 51..58.
	publishN(t, tp, 9, 58)
	g.open()
	var got []uint64
	for range 16 {
		got = append(got, recv(t, g.done, "a handled event").Sequence)
	}
	assert.Equal(t, append(seqRange(1, 8), seqRange(51, 58)...), got)
	publishN(t, tp, 59, 59)
	assert.Equal(t, uint64(59), recv(t, g.done, "the first live event").Sequence)
	require.NoError(t, s.Drain(testCtx(t)))
	st := s.Stats()
	assert.Equal(t, uint64(42), st.Dropped.Expired)
	assert.Contains(t, st.String(), "42 expired")
	checkAccounting(t, st)
	assert.Contains(t, logs.String(), "replay fell behind retention")
	assert.Contains(t, logs.String(), "from_sequence=9 to_sequence=50 expired=42")
}

// Unsubscribe, Drain and Close end a replay where it is, and Done waits for
// the replay's goroutine.
func TestStoppingAReplay(t *testing.T) {
	for _, stop := range []string{"unsubscribe", "drain", "close", "forced close"} {
		t.Run(stop, func(t *testing.T) {
			var logs bytes.Buffer
			b := newBus(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			tp := retainedTopic[int](t, b, "chat.message", Retention{MaxEvents: 1000})
			publishN(t, tp, 1, 600)
			g := newGate[int]()
			s := mustSubscribe(t, tp, "late", g.handle, WithStart(FromOldest()), WithQueueCapacity(1))
			recv(t, g.started, "the first replayed event")
			_, err := tp.Subscribe("late", nopHandler[int])
			assert.ErrorIs(t, err, ErrDuplicateSubscriber, "a replaying subscription holds its name")
			switch stop {
			case "unsubscribe":
				s.Unsubscribe()
			case "drain":
				drained := waitingCall(t, testCtx(t), s.Drain)
				g.open()
				require.NoError(t, recv(t, drained, "Drain"))
			case "close":
				closed := closeAsync(b, testCtx(t))
				waitClosed(t, b.closeBegun, "Close to begin") // it waits for the gated handler
				g.open()
				require.NoError(t, recv(t, closed, "Close"))
			case "forced close":
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				var ce *CloseError
				require.ErrorAs(t, b.Close(ctx), &ce)
			}
			waitClosed(t, s.Done(), "the subscription to stop")
			st := s.Stats()
			checkAccounting(t, st)
			assert.Less(t, st.Enqueued, uint64(600), "the replay stopped early")
			if stop != "forced close" && stop != "unsubscribe" {
				assert.Equal(t, st.Enqueued, st.Delivered, "what was queued was handled")
			}
			if stop != "forced close" {
				closeBus(t, b)
			}
			waitClosed(t, b.Done(), "the bus's goroutines to end")
			assert.Contains(t, logs.String(), "replay stopped before catching up")
		})
	}
}

// With several workers, a replay keeps each key's events in sequence order
// across the hand-off, and delivers each once.
func TestReplayWithSeveralWorkersKeepsKeyOrder(t *testing.T) {
	b := newBus(t)
	tp := retainedTopic[int](t, b, "chat.message", Retention{MaxEvents: 1000})
	ctx := testCtx(t)
	keys := []string{"a", "b", "c", "d", "e"}
	publishKeyed := func(from, to int) {
		for i := from; i <= to; i++ {
			require.NoError(t, tp.Publish(ctx, i, WithKey(keys[i%len(keys)])))
		}
	}
	publishKeyed(1, 300)
	var mu sync.Mutex
	byKey := map[string][]uint64{}
	all := make(chan struct{})
	seen := 0
	s := mustSubscribe(t, tp, "workers", func(_ context.Context, e *Event[int]) error {
		mu.Lock()
		defer mu.Unlock()
		byKey[e.Key] = append(byKey[e.Key], e.Sequence)
		if seen++; seen == 600 {
			close(all)
		}
		return nil
	}, WithStart(FromOldest()), WithConcurrency(4))
	publishKeyed(301, 600)
	waitClosed(t, all, "every event")
	require.NoError(t, s.Drain(ctx))
	mu.Lock()
	defer mu.Unlock()
	for i, k := range keys {
		var want []uint64
		for seq := uint64(1); seq <= 600; seq++ {
			if int(seq)%len(keys) == i {
				want = append(want, seq)
			}
		}
		assert.Equal(t, want, byKey[k], "key %s", k)
	}
	assert.Equal(t, uint64(600), s.Stats().Delivered)
}
