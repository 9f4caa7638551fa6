package eventbus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/busline/eventbus/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The helpers every test file of the package shares.

// testWait bounds every wait for an event in the tests. It is far longer
// than anything should take, so that a loaded machine does not make the
// tests flaky, and a deadlock fails the test after it instead of hanging;
// it is far shorter than the long intervals some tests use to prove that a
// wait was cut short.
const testWait = testkit.Wait

// recvWithin receives one value from ch, failing the test if none arrives
// within d.
func recvWithin[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	return testkit.RecvWithin(t, ch, d, what)
}

// recv receives one value from ch, failing the test if none arrives within
// testWait.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return testkit.Recv(t, ch, what)
}

// waitClosed waits for ch to be closed (or to yield a value).
func waitClosed[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	recv(t, ch, what)
}

// nothingOn fails the test if ch holds a value right now.
func nothingOn[T any](t testing.TB, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		assert.Failf(t, "unexpected value", "%s: %v", what, v)
	default:
	}
}

// testCtx returns a ctx bounded by testWait, cancelled when the test ends.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	t.Cleanup(cancel)
	return ctx
}

// newBus returns a new bus that is closed when the test ends. If the test
// did not close the bus itself, that close must succeed within testWait.
// Unless opts set another error handler, final failures go to the test's
// log (shown only when the test fails) instead of slog's default logger.
func newBus(t testing.TB, opts ...Option) *Bus {
	t.Helper()
	logFailure := WithErrorHandler(func(_ context.Context, err *DeliveryError) { t.Logf("delivery failed: %v", err) })
	return newBusWithDefaults(t, append([]Option{logFailure}, opts...)...)
}

// newBusWithDefaults is newBus without the test's error handler, for the
// tests of the default one.
func newBusWithDefaults(t testing.TB, opts ...Option) *Bus {
	t.Helper()
	b, err := New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		b.mu.Lock()
		closedByTest := b.closeStarted
		b.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		defer cancel()
		err := b.Close(ctx)
		if !closedByTest {
			assert.NoError(t, err, "closing the bus at the end of the test")
		}
	})
	return b
}

// closeBus closes b gracefully, requiring success within testWait.
func closeBus(t testing.TB, b *Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	require.NoError(t, b.Close(ctx))
}

// mustTopic returns the topic name of b carrying T, requiring success.
func mustTopic[T any](t testing.TB, b *Bus, name string) *Topic[T] {
	t.Helper()
	tp, err := NewTopic[T](b, name)
	require.NoError(t, err)
	return tp
}

// mustSubscribe subscribes, requiring success.
func mustSubscribe[T any](t testing.TB, tp *Topic[T], name string, h Handler[T], opts ...SubscribeOption) *Subscription {
	t.Helper()
	s, err := tp.Subscribe(name, h, opts...)
	require.NoError(t, err)
	return s
}

// errorSink returns a WithErrorHandler option that forwards every failure
// to the returned channel. It never blocks the worker: failures beyond the
// channel's capacity are dropped, which the tests notice as missing ones.
func errorSink() (Option, <-chan *DeliveryError) {
	ch := make(chan *DeliveryError, 1024)
	return WithErrorHandler(func(_ context.Context, err *DeliveryError) {
		select {
		case ch <- err:
		default:
		}
	}), ch
}

// gate is a handler that announces every event it starts on started, then
// waits until the test lets it go on (one event per step, or every event
// once opened), then reports the event on done. It gives up after testWait or
// when its ctx is cancelled, returning an error, so that a broken bus fails
// a test instead of hanging it.
type gate[T any] struct {
	started chan *Event[T]
	done    chan *Event[T]
	step    chan struct{}
	opened  chan struct{}
	once    sync.Once
	ctxErrs chan error // the ctx error seen by handlers that gave up on ctx
}

func newGate[T any]() *gate[T] {
	return &gate[T]{
		started: make(chan *Event[T], 4096),
		done:    make(chan *Event[T], 4096),
		step:    make(chan struct{}),
		opened:  make(chan struct{}),
		ctxErrs: make(chan error, 4096),
	}
}

func (g *gate[T]) handle(ctx context.Context, e *Event[T]) error {
	g.started <- e
	timer := time.NewTimer(testWait)
	defer timer.Stop()
	select {
	case <-g.step:
	case <-g.opened:
	case <-ctx.Done():
		g.ctxErrs <- ctx.Err()
		return ctx.Err()
	case <-timer.C:
		return errors.New("gate: never released")
	}
	g.done <- e
	return nil
}

// release lets one waiting (or the next) handler call go on.
func (g *gate[T]) release(t testing.TB) {
	t.Helper()
	select {
	case g.step <- struct{}{}:
	case <-time.After(testWait):
		require.FailNow(t, "timed out releasing a gated handler")
	}
}

// open lets every handler call go on, now and later.
func (g *gate[T]) open() { g.once.Do(func() { close(g.opened) }) }

// payloads receives n events from ch and returns their payloads.
func payloads[T any](t testing.TB, ch <-chan *Event[T], n int, what string) []T {
	t.Helper()
	out := make([]T, 0, n)
	for range n {
		out = append(out, recv(t, ch, what).Payload)
	}
	return out
}

// recvN receives n values from ch.
func recvN[T any](t testing.TB, ch <-chan T, n int, what string) []T {
	t.Helper()
	out := make([]T, 0, n)
	for range n {
		out = append(out, recv(t, ch, what))
	}
	return out
}

// pubMsg is the payload of the fan-out and ordering tests.
type pubMsg struct {
	Pub int    // publisher
	N   int    // 1, 2, 3, ... per publisher (or per key)
	Key string // ordering key, if any
}

// joined flattens an errors.Join tree into its leaves that are
// *DeliveryError or *SubscriberError, plus any other leaf.
func joined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, joined(e)...)
		}
		return out
	}
	return []error{err}
}

// closeAsync starts Close(ctx) and returns the channel its result comes on.
func closeAsync(b *Bus, ctx context.Context) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- b.Close(ctx) }()
	return ch
}

// checkAccounting checks the invariant of a stopped subscription.
func checkAccounting(t testing.TB, st SubscriptionStats) {
	t.Helper()
	assert.Equal(t, st.Enqueued,
		st.Delivered+st.Failed+st.DeadLettered+st.Dropped.Evicted+st.Dropped.Unsubscribed+st.Dropped.Shutdown,
		"accounting of %s/%s: %+v", st.Topic, st.Subscriber, st)
	assert.Zero(t, st.QueueLength, "%s/%s", st.Topic, st.Subscriber)
	assert.Zero(t, st.InFlight, "%s/%s", st.Topic, st.Subscriber)
}

func nopHandler[T any](context.Context, *Event[T]) error { return nil }

// isDone reports whether s's Done channel is closed.
func isDone(s *Subscription) bool {
	select {
	case <-s.Done():
		return true
	default:
		return false
	}
}

// waitingPublish publishes payload with a spying ctx derived from ctx and
// returns once the publish waits for room, with the channel its result
// comes on.
func waitingPublish(t *testing.T, ctx context.Context, tp *Topic[int], payload int) <-chan error {
	t.Helper()
	return waitingCall(t, ctx, func(ctx context.Context) error { return tp.Publish(ctx, payload) })
}

// waitingCall runs call in a goroutine with a spying ctx derived from ctx
// and returns once call waits on the ctx (a publish waiting for room),
// with the channel its result comes on.
func waitingCall(t *testing.T, ctx context.Context, call func(context.Context) error) <-chan error {
	t.Helper()
	spy := testkit.NewWaitSpy(ctx)
	res := make(chan error, 1)
	go func() { res <- call(spy) }()
	select {
	case <-spy.Waiting():
	case err := <-res:
		require.FailNowf(t, "the call did not wait", "it returned %v", err)
	}
	return res
}
