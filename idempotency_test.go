package eventbus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An in-process bus never delivers an event twice, so these tests simulate a redelivering source
// with middleware placed outside Idempotent that calls the rest of the chain
// again with the same Message.

var errHandlerFailed = errors.New("idempotency test failure")

// idempotentCapacity is the most deliveries one test makes through
// redeliverer.
const idempotentCapacity = 2048

// newIdempotent builds Idempotent middleware from a capacity that must be
// valid.
func newIdempotent(t *testing.T, capacity int) Middleware {
	t.Helper()
	mw := Idempotent(capacity)
	require.NoError(t, mw.Err())
	return mw
}

// callNext calls next, turning a panic into an error so that a redelivering
// helper can go on after it.
func callNext(ctx context.Context, next MessageHandler, m Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return next(ctx, m)
}

// redeliverer returns middleware that calls the rest of the chain n times
// in a row with the same Message, sends the n results to the returned
// channel as one slice, and returns the first result. The channel holds
// the results of idempotentCapacity deliveries without blocking.
func redeliverer(n int) (Middleware, <-chan []error) {
	results := make(chan []error, idempotentCapacity)
	return NewMiddleware(func(next MessageHandler) MessageHandler {
		return func(ctx context.Context, m Message) error {
			errs := make([]error, n)
			for i := range errs {
				errs[i] = callNext(ctx, next, m)
			}
			results <- errs
			return errs[0]
		}
	}), results
}

// recvInWorker receives from ch inside a worker, where the test cannot be
// failed; it reports a timeout as an error.
func recvInWorker[T any](ch <-chan T, what string) (T, error) {
	timer := time.NewTimer(testWait)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v, nil
	case <-timer.C:
		var zero T
		return zero, fmt.Errorf("timed out waiting for %s", what)
	}
}

// handledCounter is a handler that counts its calls per subscriber and per
// payload, and fails or panics when told to.
type handledCounter struct {
	mu    sync.Mutex
	calls map[string]int
	log   []string
	fail  func(subscriber, payload string, call int) error
}

func (c *handledCounter) handler(subscriber string) func(context.Context, *Event[string]) error {
	return func(_ context.Context, e *Event[string]) error {
		c.mu.Lock()
		if c.calls == nil {
			c.calls = map[string]int{}
		}
		c.calls[subscriber+"/"+e.Payload]++
		call := c.calls[subscriber+"/"+e.Payload]
		c.log = append(c.log, e.Payload)
		fail := c.fail
		c.mu.Unlock()
		if fail != nil {
			return fail(subscriber, e.Payload, call)
		}
		return nil
	}
}

func (c *handledCounter) count(subscriber, payload string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[subscriber+"/"+payload]
}

func (c *handledCounter) handled() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

func TestIdempotentSkipsARedeliveredEvent(t *testing.T) {
	redeliver, results := redeliverer(3)
	bus := newBus(t)
	topic, err := NewTopic[string](bus, "idem.redelivered")
	require.NoError(t, err)
	c := &handledCounter{}
	sub, err := topic.Subscribe("once", c.handler("once"),
		WithSubscriptionMiddleware(redeliver, newIdempotent(t, 8)))
	require.NoError(t, err)

	require.NoError(t, topic.PublishSync(testCtx(t), "a"))
	assert.Equal(t, []error{nil, nil, nil}, recv(t, results, "the results"),
		"every delivery is acknowledged")
	assert.Equal(t, 1, c.count("once", "a"), "the handler ran once")

	require.NoError(t, topic.PublishSync(testCtx(t), "a"))
	assert.Equal(t, []error{nil, nil, nil}, recv(t, results, "the results"))
	assert.Equal(t, 2, c.count("once", "a"), "another event with the same payload is not a duplicate")

	closeBus(t, bus)
	assert.EqualValues(t, 2, sub.Stats().Delivered)
	assert.EqualValues(t, 0, sub.Stats().Failed)
}

func TestIdempotentRunsTheHandlerAgainAfterAFailure(t *testing.T) {
	redeliver, results := redeliverer(3)
	bus := newBus(t)
	topic, err := NewTopic[string](bus, "idem.failed")
	require.NoError(t, err)
	c := &handledCounter{fail: func(_, _ string, call int) error {
		if call == 1 {
			return errHandlerFailed
		}
		return nil
	}}
	_, err = topic.Subscribe("flaky", c.handler("flaky"),
		WithSubscriptionMiddleware(redeliver, newIdempotent(t, 8)))
	require.NoError(t, err)

	err = topic.PublishSync(testCtx(t), "a")
	assert.ErrorIs(t, err, errHandlerFailed, "the first delivery failed")
	errs := recv(t, results, "the results")
	require.Len(t, errs, 3)
	assert.ErrorIs(t, errs[0], errHandlerFailed)
	assert.NoError(t, errs[1], "the redelivery ran the handler again and succeeded")
	assert.NoError(t, errs[2], "the third delivery was skipped")
	assert.Equal(t, 2, c.count("flaky", "a"))
}

func TestIdempotentForgetsAnEventWhoseHandlerPanicked(t *testing.T) {
	redeliver, results := redeliverer(3)
	bus := newBus(t)
	topic, err := NewTopic[string](bus, "idem.panic")
	require.NoError(t, err)
	c := &handledCounter{fail: func(_, _ string, call int) error {
		if call == 1 {
			panic("first attempt")
		}
		return nil
	}}
	_, err = topic.Subscribe("panicky", c.handler("panicky"),
		WithSubscriptionMiddleware(redeliver, newIdempotent(t, 8)))
	require.NoError(t, err)

	require.Error(t, topic.PublishSync(testCtx(t), "a"))
	errs := recv(t, results, "the results")
	require.Len(t, errs, 3)
	require.Error(t, errs[0])
	assert.Contains(t, errs[0].Error(), "first attempt")
	assert.NotErrorIs(t, errs[1], ErrDuplicateInFlight, "a panic does not leave the event in flight")
	assert.NoError(t, errs[1])
	assert.NoError(t, errs[2])
	assert.Equal(t, 2, c.count("panicky", "a"))
}

func TestIdempotentRejectsADuplicateInFlight(t *testing.T) {
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	var calls atomic.Int32
	type outcome struct{ first, second, third error }
	outcomes := make(chan outcome, 1)
	// concurrent delivers the event in a second goroutine while the
	// handler is blocked in the first delivery, then once more afterwards.
	concurrent := NewMiddleware(func(next MessageHandler) MessageHandler {
		return func(ctx context.Context, m Message) error {
			first := make(chan error, 1)
			go func() { first <- next(ctx, m) }()
			var o outcome
			if _, err := recvInWorker(started, "the handler to start"); err != nil {
				o.second = err
			} else {
				o.second = next(ctx, m)
			}
			close(release)
			o.first, _ = recvInWorker(first, "the first delivery")
			o.third = next(ctx, m)
			outcomes <- o
			return o.first
		}
	})
	bus := newBus(t)
	topic, err := NewTopic[string](bus, "idem.inflight")
	require.NoError(t, err)
	_, err = topic.Subscribe("slow", func(ctx context.Context, _ *Event[string]) error {
		calls.Add(1)
		started <- struct{}{}
		<-release
		return nil
	}, WithSubscriptionMiddleware(concurrent, newIdempotent(t, 8)))
	require.NoError(t, err)

	require.NoError(t, topic.PublishSync(testCtx(t), "a"))
	o := recv(t, outcomes, "the outcomes")
	assert.NoError(t, o.first, "the delivery in flight decides")
	require.Error(t, o.second)
	assert.ErrorIs(t, o.second, ErrDuplicateInFlight)
	assert.NoError(t, o.third, "a duplicate after the success is skipped")
	assert.EqualValues(t, 1, calls.Load(), "the handler ran once")
}

func TestIdempotentEvictsTheOldestRecordedFirst(t *testing.T) {
	// A payload "replay:X" makes replay deliver the earlier event with
	// payload X again instead of the new one.
	var mu sync.Mutex
	seen := map[string]Message{}
	replay := NewMiddleware(func(next MessageHandler) MessageHandler {
		return func(ctx context.Context, m Message) error {
			p := m.AnyPayload().(string)
			mu.Lock()
			if orig, ok := strings.CutPrefix(p, "replay:"); ok {
				m = seen[orig]
			} else {
				seen[p] = m
			}
			mu.Unlock()
			if m == nil {
				return errors.New("nothing to replay")
			}
			return next(ctx, m)
		}
	})
	bus := newBus(t)
	topic, err := NewTopic[string](bus, "idem.capacity")
	require.NoError(t, err)
	c := &handledCounter{}
	_, err = topic.Subscribe("bounded", c.handler("bounded"),
		WithSubscriptionMiddleware(replay, newIdempotent(t, 2)))
	require.NoError(t, err)

	ctx := testCtx(t)
	for _, p := range []string{
		"A", "B", "C", // remembers B, C
		"replay:A", // A was evicted: handled again; remembers C, A
		"replay:C", // skipped; C stays the oldest
		"D",        // evicts C, not A: FIFO, not LRU; remembers A, D
		"replay:C", // handled again; remembers D, C
		"replay:D", // skipped
		"replay:A", // evicted by C: handled again
	} {
		require.NoError(t, topic.PublishSync(ctx, p), p)
	}
	assert.Equal(t, []string{"A", "B", "C", "A", "D", "C", "A"}, c.handled())
}

func TestIdempotentKeepsAMemoryPerSubscriber(t *testing.T) {
	redeliver, results := redeliverer(2)
	bus := newBus(t, WithMiddleware(redeliver, newIdempotent(t, 8)))
	topic, err := NewTopic[string](bus, "idem.shared")
	require.NoError(t, err)
	c := &handledCounter{}
	for _, name := range []string{"alpha", "beta"} {
		_, err := topic.Subscribe(name, c.handler(name))
		require.NoError(t, err)
	}

	require.NoError(t, topic.PublishSync(testCtx(t), "a"))
	for range 2 {
		assert.Equal(t, []error{nil, nil}, recv(t, results, "a subscriber's results"))
	}
	assert.Equal(t, 1, c.count("alpha", "a"), "alpha handled the event once")
	assert.Equal(t, 1, c.count("beta", "a"), "beta handled the event once")
}

func TestIdempotentSharedByConcurrentSubscribers(t *testing.T) {
	const events = 200 // 2 topics * 3 subscribers * 200 events <= idempotentCapacity
	redeliver, results := redeliverer(2)
	idem := newIdempotent(t, events) // no eviction between a delivery and its redelivery
	bus := newBus(t)
	topics := make([]*Topic[string], 2)
	c := &handledCounter{}
	for i := range topics {
		topic, err := NewTopic[string](bus, fmt.Sprintf("idem.concurrent%d", i))
		require.NoError(t, err)
		topics[i] = topic
		for _, name := range []string{"alpha", "beta", "gamma"} {
			_, err := topic.Subscribe(name, c.handler(fmt.Sprintf("%d.%s", i, name)),
				WithConcurrency(4), WithQueueCapacity(events),
				WithSubscriptionMiddleware(redeliver, idem))
			require.NoError(t, err)
		}
	}

	ctx := testCtx(t)
	var wg sync.WaitGroup
	for _, topic := range topics {
		wg.Go(func() {
			for i := range events {
				assert.NoError(t, topic.Publish(ctx, fmt.Sprint(i), WithKey(fmt.Sprint(i))))
			}
		})
	}
	wg.Wait()
	closeBus(t, bus)
	for range 2 * 3 * events {
		assert.Equal(t, []error{nil, nil}, recv(t, results, "a delivery's results"))
	}
	for i := range topics {
		for _, name := range []string{"alpha", "beta", "gamma"} {
			for e := range events {
				assert.Equal(t, 1, c.count(fmt.Sprintf("%d.%s", i, name), fmt.Sprint(e)))
			}
		}
	}
}

func TestIdempotentOutsideRetryRecordsARetriedSuccessOnce(t *testing.T) {
	redeliver, results := redeliverer(2)
	bus := newBus(t)
	topic, err := NewTopic[string](bus, "idem.retry")
	require.NoError(t, err)
	c := &handledCounter{fail: func(_, _ string, call int) error {
		if call < 3 {
			return errHandlerFailed
		}
		return nil
	}}
	_, err = topic.Subscribe("retried", c.handler("retried"), WithSubscriptionMiddleware(
		redeliver, newIdempotent(t, 8), newRetry(t, RetryPolicy{MaxAttempts: 3, InitialInterval: msec})))
	require.NoError(t, err)

	require.NoError(t, topic.PublishSync(testCtx(t), "a"))
	assert.Equal(t, []error{nil, nil}, recv(t, results, "the results"))
	assert.Equal(t, 3, c.count("retried", "a"), "three attempts, then the redelivery was skipped")
}

func TestIdempotentOutsideDeadLetterDeadLettersOnce(t *testing.T) {
	redeliver, results := redeliverer(2)
	bus := newBus(t)
	_, deadLetters := collectDeadLetters(t, bus, DefaultDeadLetterTopic)
	topic, err := NewTopic[string](bus, "idem.deadletter")
	require.NoError(t, err)
	c := &handledCounter{fail: func(string, string, int) error { return errHandlerFailed }}
	_, err = topic.Subscribe("doomed", c.handler("doomed"),
		WithSubscriptionMiddleware(redeliver, newIdempotent(t, 8), newDeadLetter(t)))
	require.NoError(t, err)

	err = topic.PublishSync(testCtx(t), "a")
	require.ErrorIs(t, err, ErrDeadLettered)
	require.ErrorIs(t, err, errHandlerFailed)
	assert.Equal(t, []error{nil, nil}, recv(t, results, "the results"))
	dl := recv(t, deadLetters, "the dead letter")
	assert.Equal(t, "doomed", dl.Payload.Subscriber)
	closeBus(t, bus)
	nothingOn(t, deadLetters, "a second dead letter")
	assert.Equal(t, 1, c.count("doomed", "a"), "the dead-lettered event counts as handled")
}

func TestIdempotentInvalidCapacity(t *testing.T) {
	for _, n := range []int{0, -1} {
		assert.ErrorIs(t, Idempotent(n).Err(), ErrInvalidOption, "Idempotent(%d)", n)
	}
}

func TestIdempotentWithoutADeliveryJustCallsNext(t *testing.T) {
	var calls atomic.Int32
	h := newIdempotent(t, 1).wrap(func(context.Context, Message) error {
		calls.Add(1)
		return nil
	})
	m := &Event[int]{Envelope: Envelope{ID: uuid.New(), Topic: "idem.direct"}}
	for range 3 {
		require.NoError(t, h(context.Background(), m))
	}
	assert.EqualValues(t, 3, calls.Load(), "with no delivery there is no subscriber to remember for")
}
