package bustest_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fastRetry retries at once, up to five attempts.
var fastRetry = eventbus.RetryPolicy{MaxAttempts: 5, InitialInterval: time.Microsecond, Jitter: -1}

func TestFailFirstAttempts(t *testing.T) {
	bus := bustest.NewBus(t)
	tp, err := eventbus.NewTopic[int](bus, "orders")
	require.NoError(t, err)
	var calls atomic.Int32
	sub, err := tp.Subscribe("s", func(context.Context, *eventbus.Event[int]) error { calls.Add(1); return nil },
		eventbus.WithSubscriptionMiddleware(eventbus.Retry(fastRetry), bustest.Fail(bustest.FirstAttempts(2))))
	require.NoError(t, err)
	for i := range 10 {
		require.NoError(t, tp.Publish(context.Background(), i))
	}
	bustest.WaitIdle(t, bus)
	assert.Equal(t, int32(10), calls.Load(), "the handler sees each event once, on the third attempt")
	st := sub.Stats()
	assert.Equal(t, uint64(20), st.Retried)
	assert.Equal(t, uint64(10), st.Delivered)
}

func TestFailReturnsAnInjectedError(t *testing.T) {
	failed := make(chan *eventbus.DeliveryError, 1)
	bus := bustest.NewBus(t, eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.DeliveryError) { failed <- err }))
	tp, err := eventbus.NewTopic[int](bus, "orders")
	require.NoError(t, err)
	_, err = tp.Subscribe("s", func(context.Context, *eventbus.Event[int]) error { return nil },
		eventbus.WithSubscriptionMiddleware(bustest.Fail(nil)))
	require.NoError(t, err)
	require.NoError(t, tp.Publish(context.Background(), 1))
	derr := <-failed
	var inj *bustest.InjectedError
	require.ErrorAs(t, derr, &inj)
	assert.ErrorIs(t, derr, bustest.ErrInjected)
	assert.Equal(t, bustest.InjectedError{Fault: "fail", Topic: "orders", EventID: derr.EventID, Call: 1}, *inj)
	assert.Equal(t, "bustest: injected fail on call 1 of event "+derr.EventID.String()+" of orders", inj.Error())
}

// selected runs n events through a subscription of concurrency 4 whose
// fault fails the calls when selects, without retries, and returns the
// sequence numbers of the events that failed.
func selected(t *testing.T, n int, when bustest.When) []uint64 {
	t.Helper()
	var mu sync.Mutex
	var failed []uint64
	bus := bustest.NewBus(t, eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.DeliveryError) {
		mu.Lock()
		defer mu.Unlock()
		failed = append(failed, err.Message.EventEnvelope().Sequence)
	}))
	tp, err := eventbus.NewTopic[int](bus, "orders")
	require.NoError(t, err)
	_, err = tp.Subscribe("s", func(context.Context, *eventbus.Event[int]) error { return nil },
		eventbus.WithConcurrency(4), eventbus.WithSubscriptionMiddleware(bustest.Fail(when)))
	require.NoError(t, err)
	for i := range n {
		require.NoError(t, tp.Publish(context.Background(), i))
	}
	bustest.WaitIdle(t, bus)
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(failed)
	return failed
}

// A seed selects the same events on every run, whatever the order of the
// subscription's four goroutines; another seed selects others.
func TestProbabilityRepeatsWithItsSeed(t *testing.T) {
	first := selected(t, 1000, bustest.Probability(0.3, 42))
	again := selected(t, 1000, bustest.Probability(0.3, 42))
	other := selected(t, 1000, bustest.Probability(0.3, 43))
	assert.Equal(t, first, again)
	assert.NotEqual(t, first, other)
	// About 300 of 1000: for seed 42 the draws are fixed, so this bound is
	// not a matter of luck.
	assert.InDelta(t, 300, len(first), 60)
	assert.Empty(t, selected(t, 100, bustest.Probability(0, 42)))
	assert.Len(t, selected(t, 100, bustest.Probability(1, 42)), 100)
}

func TestRandomAndMatching(t *testing.T) {
	assert.Len(t, selected(t, 100, bustest.Random(1, rand.New(rand.NewPCG(1, 2)))), 100)
	assert.Empty(t, selected(t, 100, bustest.Random(0, rand.New(rand.NewPCG(1, 2)))))
	even := selected(t, 10, bustest.Matching(func(m eventbus.Message) bool { return m.EventEnvelope().Sequence%2 == 0 }))
	assert.Equal(t, []uint64{2, 4, 6, 8, 10}, even)
	assert.Empty(t, selected(t, 10, bustest.FirstAttempts(0)))
}

// A panic injected inside Recover costs only its own event.
func TestPanic(t *testing.T) {
	failed := make(chan *eventbus.DeliveryError, 1)
	bus := bustest.NewBus(t, eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.DeliveryError) { failed <- err }))
	tp, err := eventbus.NewTopic[int](bus, "orders")
	require.NoError(t, err)
	rec := bustest.Record(t, tp, eventbus.WithSubscriptionMiddleware(eventbus.Recover(),
		bustest.Panic(bustest.Matching(func(m eventbus.Message) bool { return m.EventEnvelope().Sequence == 2 }))))
	for i := range 3 {
		require.NoError(t, tp.Publish(context.Background(), i))
	}
	bustest.WaitIdle(t, bus)
	bustest.RequirePayloads(t, rec, 0, 2)
	derr := <-failed
	var pe *eventbus.PanicError
	require.ErrorAs(t, derr, &pe)
	var inj *bustest.InjectedError
	require.ErrorAs(t, derr, &inj, "the panic value is the injected error")
	assert.Equal(t, "panic", inj.Fault)
	assert.Equal(t, uint64(2), derr.Message.EventEnvelope().Sequence)
}

// Delay waits in virtual time inside a bubble, and a Timeout outside it
// cuts it short.
func TestDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		failed := make(chan *eventbus.DeliveryError, 1)
		bus := bustest.NewBus(t, eventbus.WithErrorHandler(func(_ context.Context, err *eventbus.DeliveryError) { failed <- err }))
		tp, err := eventbus.NewTopic[int](bus, "orders")
		require.NoError(t, err)
		handledAt := make(chan time.Time, 1)
		_, err = tp.Subscribe("slow", func(context.Context, *eventbus.Event[int]) error { handledAt <- time.Now(); return nil },
			eventbus.WithSubscriptionMiddleware(bustest.Delay(5*time.Second, bustest.Always())))
		require.NoError(t, err)
		_, err = tp.Subscribe("cut", func(context.Context, *eventbus.Event[int]) error { return nil },
			eventbus.WithSubscriptionMiddleware(eventbus.Timeout(time.Second), bustest.Delay(time.Minute, nil)))
		require.NoError(t, err)
		start := time.Now()
		require.NoError(t, tp.Publish(context.Background(), 1))
		bustest.WaitIdle(t, bus)
		assert.Equal(t, 5*time.Second, (<-handledAt).Sub(start))
		derr := <-failed
		assert.Equal(t, "cut", derr.Subscriber)
		assert.ErrorIs(t, derr, context.DeadlineExceeded)
		assert.Contains(t, derr.Error(), "injected delay of 1m0s cut short")
	})
}

// Duplicate hands every event to the handler twice; the Idempotent
// middleware inside it lets only the first through.
func TestDuplicate(t *testing.T) {
	bus := bustest.NewBus(t)
	tp, err := eventbus.NewTopic[int](bus, "orders")
	require.NoError(t, err)
	twice := bustest.Record(t, tp, eventbus.WithSubscriptionMiddleware(bustest.Duplicate(bustest.Always())))
	once := bustest.Record(t, tp, eventbus.WithSubscriptionMiddleware(bustest.Duplicate(nil), eventbus.Idempotent(100)))
	for i := range 3 {
		require.NoError(t, tp.Publish(context.Background(), i))
	}
	bustest.WaitIdle(t, bus)
	bustest.RequirePayloads(t, twice, 0, 0, 1, 1, 2, 2)
	bustest.RequirePayloads(t, once, 0, 1, 2)
}

// A failing first call is not duplicated.
func TestDuplicateAfterAFailure(t *testing.T) {
	bus := bustest.NewBus(t)
	tp, err := eventbus.NewTopic[int](bus, "orders")
	require.NoError(t, err)
	var calls atomic.Int32
	_, err = tp.Subscribe("s", func(context.Context, *eventbus.Event[int]) error {
		calls.Add(1)
		return errors.New("down")
	}, eventbus.WithSubscriptionMiddleware(bustest.Duplicate(nil)))
	require.NoError(t, err)
	require.NoError(t, tp.Publish(context.Background(), 1))
	bustest.WaitIdle(t, bus)
	assert.Equal(t, int32(1), calls.Load())
}
