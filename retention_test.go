package eventbus

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retainedTopic returns a topic of b named name keeping r.
func retainedTopic[T any](t testing.TB, b *Bus, name string, r Retention) *Topic[T] {
	t.Helper()
	tp, err := NewTopic[T](b, name, WithRetention(r))
	require.NoError(t, err)
	return tp
}

// publishN publishes the payloads from, from+1, ..., to.
func publishN(t testing.TB, tp *Topic[int], from, to int) {
	t.Helper()
	ctx := testCtx(t)
	for i := from; i <= to; i++ {
		require.NoError(t, tp.Publish(ctx, i))
	}
}

// collectRetained runs seq and returns the sequences of its events and its errors.
func collectRetained[T any](seq func(func(*Event[T], error) bool)) (seqs []uint64, errs []error) {
	for e, err := range seq {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		seqs = append(seqs, e.Sequence)
	}
	return seqs, errs
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func TestRetentionKeepsTheLastMaxEvents(t *testing.T) {
	b := newBus(t)
	tp := retainedTopic[int](t, b, "orders.placed", Retention{MaxEvents: 5})
	_, _, ok := tp.RetainedRange()
	assert.False(t, ok, "nothing published yet")

	publishN(t, tp, 1, 12)
	oldest, newest, ok := tp.RetainedRange()
	require.True(t, ok)
	assert.Equal(t, []uint64{8, 12}, []uint64{oldest, newest})
	assert.Equal(t, 5, tp.Stats().Retained)
	assert.Contains(t, tp.Stats().String(), ", 5 retained")

	seqs, errs := collectRetained(tp.Retained(oldest, math.MaxUint64))
	assert.Equal(t, seqRange(8, 12), seqs)
	assert.Empty(t, errs)

	// Asking for discarded history says so, then goes on with what is left.
	seqs, errs = collectRetained(tp.Retained(3, 9))
	assert.Equal(t, seqRange(8, 9), seqs)
	require.Len(t, errs, 1)
	var nre *NotRetainedError
	require.ErrorAs(t, errs[0], &nre)
	assert.ErrorIs(t, errs[0], ErrNotRetained)
	assert.Equal(t, uint64(8), nre.Oldest)

	var payloads []int
	for e, err := range tp.Retained(10, 11) {
		require.NoError(t, err)
		payloads = append(payloads, e.Payload)
	}
	assert.Equal(t, []int{10, 11}, payloads, "an event's sequence is its place in the topic")
}

func TestRetentionByAge(t *testing.T) {
	b := newBus(t)
	tp := retainedTopic[int](t, b, "orders.placed", Retention{MaxEvents: 100, MaxAge: time.Hour})
	publishN(t, tp, 1, 3)
	var times []time.Time
	for e, err := range tp.Retained(1, 3) {
		require.NoError(t, err)
		times = append(times, e.Time)
	}
	require.Len(t, times, 3)
	assert.False(t, times[1].Before(times[0]) || times[2].Before(times[1]), "times follow the log")

	// An hour after the second event, the first two are past MaxAge.
	l := tp.core.log
	l.mu.Lock()
	l.expireLocked(times[1].Add(time.Hour + time.Nanosecond))
	l.mu.Unlock()
	oldest, newest, ok := tp.RetainedRange()
	require.True(t, ok)
	assert.Equal(t, []uint64{3, 3}, []uint64{oldest, newest})

	_, err := tp.Subscribe("late", nopHandler[int], WithStart(FromTime(times[1])))
	assert.ErrorIs(t, err, ErrNotRetained, "the event at that time is gone")
	_, err = tp.Subscribe("late", nopHandler[int], WithStart(FromTime(times[1].Add(time.Nanosecond))))
	assert.NoError(t, err, "nothing after that time is gone")
}

func TestRetainedBetweenTimes(t *testing.T) {
	b := newBus(t)
	tp := retainedTopic[int](t, b, "orders.placed", Retention{MaxEvents: 4})
	publishN(t, tp, 1, 4)
	events := map[uint64]*Event[int]{}
	for e, err := range tp.Retained(1, 4) {
		require.NoError(t, err)
		events[e.Sequence] = e
	}
	seqs, errs := collectRetained(tp.RetainedBetween(events[2].Time, events[4].Time))
	assert.Empty(t, errs)
	// Events 1 to 4 may share a clock reading: the range is by time.
	for _, s := range seqs {
		e := events[s]
		assert.False(t, e.Time.Before(events[2].Time) || !e.Time.Before(events[4].Time), "event %d at %s", s, e.Time)
	}
	assert.Contains(t, seqs, uint64(2))
	assert.NotContains(t, seqs, uint64(4))
	seqs, errs = collectRetained(tp.RetainedBetween(events[1].Time, events[4].Time.Add(time.Nanosecond)))
	assert.Empty(t, errs)
	assert.Equal(t, seqRange(1, 4), seqs)

	publishN(t, tp, 5, 6) // discards 1 and 2
	seqs, errs = collectRetained(tp.RetainedBetween(events[1].Time, events[4].Time.Add(time.Nanosecond)))
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], ErrNotRetained)
	assert.Equal(t, seqRange(3, 4), seqs)
}

// The iterators hold the log's lock only to copy: a loop body may publish
// to the topic, and a loop running while others publish sees a gapless run
// up to the newest event when it got there.
func TestRetainedWhilePublishing(t *testing.T) {
	b := newBus(t)
	tp := retainedTopic[int](t, b, "orders.placed", Retention{MaxEvents: 1 << 12})
	publishN(t, tp, 1, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		publishN(t, tp, 101, 2000)
	}()
	ctx := testCtx(t)
	var seqs []uint64
	for e, err := range tp.Retained(1, 300) {
		require.NoError(t, err)
		seqs = append(seqs, e.Sequence)
		if e.Sequence%50 == 0 {
			require.NoError(t, tp.Publish(ctx, -1), "publishing from the loop")
		}
	}
	wg.Wait()
	require.GreaterOrEqual(t, len(seqs), 100)
	assert.Equal(t, seqRange(1, seqs[len(seqs)-1]), seqs)
}

func TestRetentionOptions(t *testing.T) {
	b := newBus(t)
	for _, r := range []Retention{{}, {MaxEvents: -1}, {MaxEvents: 1, MaxAge: -time.Second}} {
		_, err := NewTopic[int](b, "orders.placed", WithRetention(r))
		assert.ErrorIs(t, err, ErrInvalidOption, "%+v", r)
	}
	tp := retainedTopic[int](t, b, "orders.placed", Retention{MaxEvents: 10})
	same, err := NewTopic[int](b, "orders.placed", WithRetention(Retention{MaxEvents: 10}))
	require.NoError(t, err)
	assert.Same(t, tp, same)
	_, err = NewTopic[int](b, "orders.placed", WithRetention(Retention{MaxEvents: 11}))
	assert.ErrorIs(t, err, ErrInvalidOption)
	plain := mustTopic[int](t, b, "orders.shipped")
	_, err = NewTopic[int](b, "orders.shipped", WithRetention(Retention{MaxEvents: 10}))
	assert.ErrorIs(t, err, ErrInvalidOption, "a topic made without retention")
	seqs, _ := collectRetained(plain.Retained(1, math.MaxUint64))
	assert.Empty(t, seqs)

	remote := newBus(t, WithTransport(newRecordingTransport()))
	_, err = NewTopic[int](remote, "orders.placed", WithRetention(Retention{MaxEvents: 10}))
	assert.ErrorIs(t, err, ErrInvalidOption, "the broker retains on a bus with a transport")
}

func TestStartValidation(t *testing.T) {
	b := newBus(t)
	tp := retainedTopic[int](t, b, "orders.placed", Retention{MaxEvents: 5})
	plain := mustTopic[int](t, b, "orders.shipped")

	_, err := plain.Subscribe("late", nopHandler[int], WithStart(FromOldest()))
	assert.ErrorIs(t, err, ErrInvalidOption, "a topic without retention has nothing to replay")
	for _, st := range []Start{FromSequence(0), FromTime(time.Time{})} {
		_, err := tp.Subscribe("late", nopHandler[int], WithStart(st))
		assert.ErrorIs(t, err, ErrInvalidOption, st.String())
	}

	publishN(t, tp, 1, 8) // keeps 4 to 8
	_, err = tp.Subscribe("late", nopHandler[int], WithStart(FromSequence(3)))
	var nre *NotRetainedError
	require.ErrorAs(t, err, &nre)
	assert.ErrorIs(t, err, ErrNotRetained)
	assert.Equal(t, NotRetainedError{Topic: "orders.placed", Start: FromSequence(3), Oldest: 4}, *nre)
	assert.Equal(t, `eventbus: topic "orders.placed": start at sequence 3: the oldest event retained is at sequence 4`, err.Error())

	_, err = tp.Subscribe("late", nopHandler[int], WithStart(FromSequence(10)))
	assert.ErrorIs(t, err, ErrInvalidOption, "a start past the next event")
	for _, st := range []Start{FromOldest(), FromSequence(4), FromSequence(9)} {
		s, err := tp.Subscribe("late", nopHandler[int], WithStart(st))
		require.NoError(t, err, st.String())
		s.Unsubscribe()
		waitClosed(t, s.Done(), "the replaying subscription to stop")
	}
	assert.True(t, errors.Is(&NotRetainedError{}, ErrNotRetained))
	assert.Equal(t, "new", Start{}.String())
	assert.Equal(t, "oldest", FromOldest().String())
}

// Times in the log never go down, even when the clock reads earlier than
// the newest event, and whether that event is still kept or not.
func TestRetentionTimesNeverGoDown(t *testing.T) {
	l := newTopicLog(Retention{MaxEvents: 4, MaxAge: time.Hour})
	now := time.Now()
	e := &Event[int]{}
	e.Time = now
	l.mu.Lock()
	defer l.mu.Unlock()
	l.appendLocked(e, now)
	assert.Equal(t, now, l.stampTime(now.Add(-time.Second)), "the newest event's time")
	l.expireLocked(now.Add(2 * time.Hour))
	assert.Equal(t, now.UnixNano(), l.stampTime(now.Add(-time.Second)).UnixNano(), "the expired newest event's time")
	later := now.Add(time.Second)
	assert.Equal(t, later, l.stampTime(later))
}

// The bus reads a topic's retained events by name, as Messages, whatever
// their payload type.
func TestBusRetainedMessages(t *testing.T) {
	b := newBus(t)
	tp, err := NewTopic[int](b, "kept", WithRetention(Retention{MaxEvents: 3}))
	require.NoError(t, err)
	ctx := testCtx(t)
	for i := range 5 {
		require.NoError(t, tp.Publish(ctx, i))
	}
	oldest, newest, ok := b.RetainedRange("kept")
	require.True(t, ok)
	assert.Equal(t, [2]uint64{3, 5}, [2]uint64{oldest, newest})
	var got []any
	var gaps int
	for m, err := range b.RetainedMessages("kept", 1, 5) {
		if err != nil {
			assert.ErrorIs(t, err, ErrNotRetained)
			gaps++
			continue
		}
		got = append(got, m.AnyPayload())
	}
	assert.Equal(t, 1, gaps)
	assert.Equal(t, []any{2, 3, 4}, got)
	_, _, ok = b.RetainedRange("missing")
	assert.False(t, ok)
	for range b.RetainedMessages("missing", 1, 5) {
		t.Fatal("a topic that does not exist yields nothing")
	}
}
