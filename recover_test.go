package eventbus

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mwtPanicky subscribes a handler to a new topic that panics with the
// payload's value when asked to, and otherwise reports the payload on the
// returned channel.
type mwtPanicPayload struct {
	Panic any
	Name  string
}

func mwtPanicky(t *testing.T, bus *Bus, name string, opts ...SubscribeOption) (*Topic[mwtPanicPayload], *Subscription, <-chan string) {
	t.Helper()
	topic, err := NewTopic[mwtPanicPayload](bus, name)
	require.NoError(t, err)
	handled := make(chan string, 16)
	sub, err := topic.Subscribe("panicky", func(_ context.Context, e *Event[mwtPanicPayload]) error {
		if e.Payload.Panic != nil {
			panic(e.Payload.Panic)
		}
		handled <- e.Payload.Name
		return nil
	}, opts...)
	require.NoError(t, err)
	return topic, sub, handled
}

func TestRecoverTurnsPanicIntoPanicError(t *testing.T) {
	sink, failures := mwtErrorSink()
	bus := mwtNewBus(t, sink)
	topic, sub, handled := mwtPanicky(t, bus, "recover.value", WithSubscriptionMiddleware(Recover()))

	ctx := mwtCtx(t)
	require.NoError(t, topic.Publish(ctx, mwtPanicPayload{Panic: "kaboom"}))
	require.NoError(t, topic.Publish(ctx, mwtPanicPayload{Name: "after"}))

	derr := mwtRecv(t, failures, "the panic's failure")
	var perr *PanicError
	require.ErrorAs(t, derr, &perr)
	assert.Equal(t, "kaboom", perr.Value)
	assert.NotEmpty(t, perr.Stack)
	assert.Contains(t, string(perr.Stack), "recover_test.go", "the stack is the panicking goroutine's")
	assert.Contains(t, perr.Error(), "kaboom")
	assert.NoError(t, perr.Unwrap(), "a non-error panic value unwraps to nil")
	assert.Equal(t, "recover.value", derr.Topic)
	assert.Equal(t, "panicky", derr.Subscriber)
	assert.Equal(t, 1, derr.Attempts)

	assert.Equal(t, "after", mwtRecv(t, handled, "the event after the panic"), "the worker lives on")

	mwtClose(t, bus)
	st := sub.Stats()
	assert.EqualValues(t, 1, st.Failed)
	assert.EqualValues(t, 1, st.Delivered)
}

func TestRecoverPanicWithErrorMatchesIt(t *testing.T) {
	errCause := errors.New("the cause")
	sink, failures := mwtErrorSink()
	bus := mwtNewBus(t, sink)
	topic, _, handled := mwtPanicky(t, bus, "recover.error", WithSubscriptionMiddleware(Recover()))

	ctx := mwtCtx(t)
	require.NoError(t, topic.Publish(ctx, mwtPanicPayload{Panic: fmt.Errorf("wrapped: %w", errCause)}))
	require.NoError(t, topic.Publish(ctx, mwtPanicPayload{Name: "next"}))

	derr := mwtRecv(t, failures, "the panic's failure")
	assert.ErrorIs(t, derr, errCause)
	var perr *PanicError
	require.ErrorAs(t, derr.Err, &perr)
	assert.ErrorIs(t, perr, errCause)
	assert.Equal(t, "next", mwtRecv(t, handled, "the next event"))
}

func TestRecoverPanicNil(t *testing.T) {
	sink, failures := mwtErrorSink()
	bus := mwtNewBus(t, sink)
	topic, err := NewTopic[int](bus, "recover.nil")
	require.NoError(t, err)
	_, err = topic.Subscribe("nilpanic", func(context.Context, *Event[int]) error {
		panic(nil)
	}, WithSubscriptionMiddleware(Recover()))
	require.NoError(t, err)

	require.NoError(t, topic.Publish(mwtCtx(t), 1))
	derr := mwtRecv(t, failures, "the panic's failure")
	var perr *PanicError
	require.ErrorAs(t, derr, &perr)
	var nilPanic *runtime.PanicNilError
	assert.ErrorAs(t, derr, &nilPanic, "panic(nil) is still caught")
}

func TestRecoverPassesResultsThrough(t *testing.T) {
	errPlain := errors.New("plain failure")
	h := Recover()(func(_ context.Context, m Message) error {
		if m.AnyPayload() == "fail" {
			return errPlain
		}
		return nil
	})
	ctx := context.Background()
	assert.NoError(t, h(ctx, &Event[string]{Payload: "ok"}))
	err := h(ctx, &Event[string]{Payload: "fail"})
	assert.Same(t, errPlain, err, "an ordinary error is returned untouched")
	var perr *PanicError
	assert.False(t, errors.As(err, &perr))
}

func TestRecoverMakesPanicsRetryable(t *testing.T) {
	sink, failures := mwtErrorSink()
	bus := mwtNewBus(t, sink)
	topic, err := NewTopic[int](bus, "recover.retry")
	require.NoError(t, err)
	var calls atomic.Int32
	_, err = topic.Subscribe("retried", func(context.Context, *Event[int]) error {
		if calls.Add(1) < 3 {
			panic("flaky")
		}
		return nil
	}, WithSubscriptionMiddleware(mwtRetry(t, RetryPolicy{MaxAttempts: 3, InitialInterval: msec}), Recover()))
	require.NoError(t, err)

	require.NoError(t, topic.PublishSync(mwtCtx(t), 1))
	assert.EqualValues(t, 3, calls.Load())
	mwtClose(t, bus)
	mwtNoMore(t, failures, "failure")
}

func TestPanicWithoutRecoverDoesNotKillTheWorker(t *testing.T) {
	errCause := errors.New("panicked with an error")
	sink, failures := mwtErrorSink()
	tr := &mwtTrace{}
	bus := mwtNewBus(t, sink, WithMiddleware(mwtMark(tr, "outer", nil)))
	topic, sub, handled := mwtPanicky(t, bus, "recover.none")

	ctx := mwtCtx(t)
	require.NoError(t, topic.Publish(ctx, mwtPanicPayload{Panic: "no recover"}))
	require.NoError(t, topic.Publish(ctx, mwtPanicPayload{Panic: errCause}))
	require.NoError(t, topic.Publish(ctx, mwtPanicPayload{Name: "survivor"}))

	derr := mwtRecv(t, failures, "the first panic's failure")
	var perr *PanicError
	require.ErrorAs(t, derr, &perr, "the bus's own recovery makes a *PanicError")
	assert.Equal(t, "no recover", perr.Value)
	assert.NotEmpty(t, perr.Stack)
	assert.Equal(t, "recover.none", derr.Topic)
	assert.Equal(t, "panicky", derr.Subscriber)

	derr = mwtRecv(t, failures, "the second panic's failure")
	require.ErrorAs(t, derr, &perr)
	assert.ErrorIs(t, derr, errCause)

	assert.Equal(t, "survivor", mwtRecv(t, handled, "the event after the panics"))
	mwtClose(t, bus)

	// The panic skipped the middleware between the handler and the worker.
	assert.Equal(t, []string{"outer>", "outer>", "outer>", "<outer"}, tr.list())
	st := sub.Stats()
	assert.EqualValues(t, 2, st.Failed)
	assert.EqualValues(t, 1, st.Delivered)
}
