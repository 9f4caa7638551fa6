package eventbus

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchRecorder collects the events a subscriber handles, in order.
type batchRecorder struct {
	mu     sync.Mutex
	events []*Event[int]
	want   int
	done   chan struct{}
}

func newBatchRecorder(want int) *batchRecorder {
	return &batchRecorder{want: want, done: make(chan struct{})}
}

func (r *batchRecorder) handle(_ context.Context, e *Event[int]) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	if len(r.events) == r.want {
		close(r.done)
	}
	return nil
}

func (r *batchRecorder) payloads(t *testing.T) []int {
	t.Helper()
	waitClosed(t, r.done, "every event of the batch")
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int, len(r.events))
	for i, e := range r.events {
		out[i] = e.Payload
	}
	return out
}

func count(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestPublishBatch(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "batch.orders")
	const n = 1500                 // more than one chunk
	ring := newBatchRecorder(n)    // a ring reader
	lanes := newBatchRecorder(n)   // fifo lanes, by key
	pattern := newBatchRecorder(n) // a pattern subscription
	small := newBatchRecorder(n)   // a queue smaller than the batch
	mustSubscribe(t, tp, "ring", ring.handle)
	mustSubscribe(t, tp, "lanes", lanes.handle, WithConcurrency(4))
	mustSubscribe(t, tp, "small", small.handle, WithQueueCapacity(8))
	_, err := b.SubscribePattern("batch.*", "pattern", func(ctx context.Context, m Message) error {
		return pattern.handle(ctx, m.(*Event[int]))
	})
	require.NoError(t, err)

	require.NoError(t, tp.PublishBatch(testCtx(t), count(n), WithKey("k"), WithMetadata("m", "v")))
	for _, r := range []*batchRecorder{ring, lanes, pattern, small} {
		assert.Equal(t, count(n), r.payloads(t))
	}

	events := ring.events
	seen := make(map[uuid.UUID]bool)
	for i, e := range events {
		assert.False(t, seen[e.ID], "event %d: ID %s repeated", i, e.ID)
		seen[e.ID] = true
		assert.Equal(t, uuid.Version(7), e.ID.Version(), "UUIDv7")
		assert.Equal(t, events[0].Time, e.Time, "one clock reading")
		assert.Equal(t, uint64(i+1), e.Sequence)
		assert.Equal(t, e.ID.String(), e.CorrelationID, "a root event is its own correlation")
		assert.Equal(t, uuid.Nil, e.CausationID)
		assert.Equal(t, "k", e.Key)
		assert.Equal(t, map[string]string{"m": "v"}, e.Metadata)
		if i > 0 {
			assert.Less(t, events[i-1].ID.String(), e.ID.String(), "IDs in publish order")
		}
	}
	assert.Equal(t, uint64(n), tp.Stats().Published)

	// The next publish goes on with the sequence.
	next := newBatchRecorder(1)
	mustSubscribe(t, tp, "next", next.handle)
	require.NoError(t, tp.Publish(testCtx(t), -1))
	next.payloads(t)
	assert.Equal(t, uint64(n+1), next.events[0].Sequence)
}

func TestPublishBatchInput(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "batch.input")
	r := newBatchRecorder(1)
	mustSubscribe(t, tp, "s", r.handle)

	assert.NoError(t, tp.PublishBatch(testCtx(t), nil), "an empty batch")
	err := tp.PublishBatch(testCtx(t), []int{1}, WithEventID(uuid.Must(uuid.NewV7())))
	assert.ErrorIs(t, err, ErrInvalidOption)
	err = tp.PublishBatch(testCtx(t), []int{1}, WithCorrelationID(""))
	assert.ErrorIs(t, err, ErrInvalidOption)
	//nolint:staticcheck // a nil ctx on purpose
	assert.ErrorIs(t, tp.PublishBatch(nil, []int{1}), ErrInvalidOption)
	require.NoError(t, tp.PublishBatch(testCtx(t), []int{1}))
	assert.Equal(t, []int{1}, r.payloads(t), "only the valid batch was published")

	closeBus(t, b)
	assert.ErrorIs(t, tp.PublishBatch(testCtx(t), []int{2}), ErrClosed)
	assert.ErrorIs(t, tp.PublishBatch(testCtx(t), nil), ErrClosed)
}

func TestPublishBatchFromHandler(t *testing.T) {
	b := newBus(t)
	in := mustTopic[int](t, b, "batch.in")
	out := mustTopic[int](t, b, "batch.out")
	r := newBatchRecorder(3)
	mustSubscribe(t, out, "s", r.handle)
	parent := make(chan *Event[int], 1)
	mustSubscribe(t, in, "fan", func(ctx context.Context, e *Event[int]) error {
		parent <- e
		return out.PublishBatch(ctx, []int{1, 2, 3})
	})
	require.NoError(t, in.Publish(testCtx(t), 0, WithCorrelationID("conversation-1")))
	p := recv(t, parent, "the parent event")
	assert.Equal(t, []int{1, 2, 3}, r.payloads(t))
	for _, e := range r.events {
		assert.Equal(t, p.ID, e.CausationID)
		assert.Equal(t, "conversation-1", e.CorrelationID)
	}
}

// firstGate holds a subscriber's handler on its first event until released.
type firstGate struct {
	held    chan struct{}
	release chan struct{}
	once    sync.Once
}

func newFirstGate() *firstGate {
	return &firstGate{held: make(chan struct{}), release: make(chan struct{})}
}

func (g *firstGate) wrap(h Handler[int]) Handler[int] {
	return func(ctx context.Context, e *Event[int]) error {
		g.once.Do(func() {
			close(g.held)
			<-g.release
		})
		return h(ctx, e)
	}
}

// smallQueues are the two ways a subscription's queue of 4 events gets
// offers: as a reader of the topic's ring, and in a lane's fifo (two
// lanes, with every event of the tests on one key).
var smallQueues = []struct {
	name string
	opts []SubscribeOption
}{
	{"ring reader", []SubscribeOption{WithQueueCapacity(4)}},
	{"fifo", []SubscribeOption{WithQueueCapacity(4), WithConcurrency(2)}},
}

func TestPublishBatchWaitsForRoom(t *testing.T) {
	for _, tt := range smallQueues {
		t.Run(tt.name, func(t *testing.T) {
			b := newBus(t)
			tp := mustTopic[int](t, b, "batch.room")
			const n = 40
			slow, fast := newBatchRecorder(n), newBatchRecorder(n)
			g := newFirstGate()
			mustSubscribe(t, tp, "slow", g.wrap(slow.handle), tt.opts...)
			mustSubscribe(t, tp, "fast", fast.handle)
			done := make(chan error, 1)
			go func() { done <- tp.PublishBatch(context.Background(), count(n), WithKey("k")) }()
			waitClosed(t, g.held, "the slow handler holding its first event")
			// The fast subscriber gets everything while the batch waits for
			// room in the slow one.
			assert.Equal(t, count(n), fast.payloads(t))
			nothingOn(t, done, "PublishBatch returned while the slow queue was full")
			close(g.release)
			require.NoError(t, recv(t, done, "PublishBatch"))
			assert.Equal(t, count(n), slow.payloads(t))
		})
	}
}

func TestPublishBatchCtxEnds(t *testing.T) {
	for _, tt := range smallQueues {
		t.Run(tt.name, func(t *testing.T) {
			b := newBus(t)
			tp := mustTopic[int](t, b, "batch.ctx")
			const n = 20
			var mu sync.Mutex
			var got []int
			g := newFirstGate()
			sub := mustSubscribe(t, tp, "slow", g.wrap(func(_ context.Context, e *Event[int]) error {
				mu.Lock()
				got = append(got, e.Payload)
				mu.Unlock()
				return nil
			}), tt.opts...)
			fast := newBatchRecorder(n)
			mustSubscribe(t, tp, "fast", fast.handle)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- tp.PublishBatch(ctx, count(n), WithKey("k")) }()
			waitClosed(t, g.held, "the slow handler holding its first event")
			assert.Equal(t, count(n), fast.payloads(t))
			cancel()
			err := recv(t, done, "PublishBatch")
			require.ErrorIs(t, err, context.Canceled)
			var se *SubscriberError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, "slow", se.Subscriber)
			close(g.release)
			require.NoError(t, b.WaitIdle(testCtx(t)))

			st := sub.Stats()
			mu.Lock()
			defer mu.Unlock()
			assert.True(t, slices.IsSorted(got), "in order: %v", got)
			assert.Equal(t, got, count(len(got)), "a prefix of the batch: %v", got)
			assert.Less(t, len(got), n)
			assert.Equal(t, uint64(len(got)), st.Delivered)
			assert.Equal(t, uint64(n-len(got)), st.Dropped.Canceled, "every event not admitted is counted")
		})
	}
}

func TestPublishBatchQueueFull(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "batch.full")
	const n = 10
	g := newFirstGate()
	var got []int
	var mu sync.Mutex
	mustSubscribe(t, tp, "strict", g.wrap(func(_ context.Context, e *Event[int]) error {
		mu.Lock()
		got = append(got, e.Payload)
		mu.Unlock()
		return nil
	}), WithQueueCapacity(2), WithOverflow(OverflowFail))
	all := newBatchRecorder(n)
	mustSubscribe(t, tp, "all", all.handle)
	require.NoError(t, tp.Publish(testCtx(t), -1))
	waitClosed(t, g.held, "the strict handler holding its first event")
	err := tp.PublishBatch(testCtx(t), count(n-1))
	require.ErrorIs(t, err, ErrQueueFull)
	assert.Equal(t, append([]int{-1}, count(n-1)...), all.payloads(t), "the other subscriber gets every event")
	close(g.release)
	require.NoError(t, b.WaitIdle(testCtx(t)))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []int{-1, 0, 1}, got, "the two that found room")
}

func TestPublishBatchRetained(t *testing.T) {
	b := newBus(t)
	tp, err := NewTopic[int](b, "batch.kept", WithRetention(Retention{MaxEvents: 100}))
	require.NoError(t, err)
	require.NoError(t, tp.PublishBatch(testCtx(t), count(5)))
	r := newBatchRecorder(5)
	mustSubscribe(t, tp, "late", r.handle, WithStart(FromOldest()))
	assert.Equal(t, count(5), r.payloads(t))
	for i, e := range r.events {
		assert.Equal(t, uint64(i+1), e.Sequence)
	}
}

// batchTransport is a recordingTransport that takes batches, failing the
// indexes in fail.
type batchTransport struct {
	*recordingTransport
	fail    []int
	batches [][]OutgoingMessage
}

var errBatchRefused = errors.New("refused by the test broker")

func (bt *batchTransport) PublishBatch(ctx context.Context, ms []OutgoingMessage) error {
	bt.mu.Lock()
	bt.batches = append(bt.batches, ms)
	bt.mu.Unlock()
	var failed []int
	for i, m := range ms {
		if slices.Contains(bt.fail, i) {
			failed = append(failed, i)
			continue
		}
		if err := bt.Publish(ctx, m); err != nil {
			return err
		}
	}
	if failed != nil {
		return &BatchError{Failed: failed, Err: errBatchRefused}
	}
	return nil
}

func TestPublishBatchThroughTransport(t *testing.T) {
	t.Run("batch transport", func(t *testing.T) {
		bt := &batchTransport{recordingTransport: newRecordingTransport(), fail: []int{1, 3}}
		var mu sync.Mutex
		outcomes := map[int]error{}
		hook := func(_ context.Context, env *Envelope) func(Message, error) {
			return func(m Message, err error) {
				mu.Lock()
				outcomes[m.(*Event[int]).Payload] = err
				mu.Unlock()
			}
		}
		b := newBus(t, WithTransport(bt), WithPublishHook(hook))
		tp := mustTopic[int](t, b, "batch.remote")
		err := tp.PublishBatch(testCtx(t), count(5), WithKey("k"))
		var be *BatchError
		require.ErrorAs(t, err, &be)
		assert.ErrorIs(t, err, ErrTransport)
		assert.ErrorIs(t, err, errBatchRefused)
		assert.Equal(t, "batch.remote", be.Topic)
		assert.Equal(t, []int{1, 3}, be.Failed)
		require.Len(t, bt.batches, 1, "one call for the batch")
		sent := bt.sent()
		require.Len(t, sent, 3)
		for i, m := range sent {
			e, err := DecodeCloudEvent[int](m.Data, nil)
			require.NoError(t, err)
			assert.Equal(t, []int{0, 2, 4}[i], e.Payload)
			assert.Equal(t, e.ID, m.ID)
			assert.Equal(t, "k", m.Key)
		}
		mu.Lock()
		defer mu.Unlock()
		for i := range 5 {
			if i == 1 || i == 3 {
				assert.Error(t, outcomes[i], "event %d", i)
			} else {
				assert.NoError(t, outcomes[i], "event %d", i)
			}
		}
	})
	t.Run("plain transport stops at the first failure", func(t *testing.T) {
		ft := &failAfter{recordingTransport: newRecordingTransport(), ok: 2}
		b := newBus(t, WithTransport(ft))
		tp := mustTopic[int](t, b, "batch.plain")
		err := tp.PublishBatch(testCtx(t), count(5))
		var be *BatchError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, []int{2, 3, 4}, be.Failed)
		assert.ErrorIs(t, err, errBatchRefused)
		assert.Len(t, ft.sent(), 2)
	})
	t.Run("an event that does not encode sends nothing", func(t *testing.T) {
		rt := newRecordingTransport()
		b := newBus(t, WithTransport(rt))
		tp := mustTopic[float64](t, b, "batch.nan")
		err := tp.PublishBatch(testCtx(t), []float64{1, math.NaN(), 3})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "event 1 of the batch")
		assert.Empty(t, rt.sent())
	})
}

// failAfter is a plain Transport that refuses every publish after the
// first ok.
type failAfter struct {
	*recordingTransport
	ok int
}

func (f *failAfter) Publish(ctx context.Context, m OutgoingMessage) error {
	f.mu.Lock()
	full := len(f.published) >= f.ok
	f.mu.Unlock()
	if full {
		return errBatchRefused
	}
	return f.recordingTransport.Publish(ctx, m)
}

func TestPublishBatchAllocations(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "batch.allocs")
	for i := range 4 {
		mustSubscribe(t, tp, "s"+string(rune('a'+i)), func(context.Context, *Event[int]) error { return nil })
	}
	payloads := count(64)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		if err := tp.PublishBatch(ctx, payloads); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0, "one allocation per batch")
}
