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

// panickySubscriber subscribes a handler to a new topic that panics with the
// payload's value when asked to, and otherwise reports the payload on the
// returned channel.
type panicPayload struct {
	Panic any
	Name  string
}

func panickySubscriber(t *testing.T, bus *Bus, name string, opts ...SubscribeOption) (*Topic[panicPayload], *Subscription, <-chan string) {
	t.Helper()
	topic, err := NewTopic[panicPayload](bus, name)
	require.NoError(t, err)
	handled := make(chan string, 16)
	sub, err := topic.Subscribe("panicky", func(_ context.Context, e *Event[panicPayload]) error {
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
	sink, failures := errorSink()
	bus := newBus(t, sink)
	topic, sub, handled := panickySubscriber(t, bus, "recover.value", WithSubscriptionMiddleware(Recover()))

	ctx := testCtx(t)
	require.NoError(t, topic.Publish(ctx, panicPayload{Panic: "kaboom"}))
	require.NoError(t, topic.Publish(ctx, panicPayload{Name: "after"}))

	derr := recv(t, failures, "the panic's failure")
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

	assert.Equal(t, "after", recv(t, handled, "the event after the panic"), "the worker lives on")

	closeBus(t, bus)
	st := sub.Stats()
	assert.EqualValues(t, 1, st.Failed)
	assert.EqualValues(t, 1, st.Delivered)
}

func TestRecoverPanicWithErrorMatchesIt(t *testing.T) {
	errCause := errors.New("the cause")
	sink, failures := errorSink()
	bus := newBus(t, sink)
	topic, _, handled := panickySubscriber(t, bus, "recover.error", WithSubscriptionMiddleware(Recover()))

	ctx := testCtx(t)
	require.NoError(t, topic.Publish(ctx, panicPayload{Panic: fmt.Errorf("wrapped: %w", errCause)}))
	require.NoError(t, topic.Publish(ctx, panicPayload{Name: "next"}))

	derr := recv(t, failures, "the panic's failure")
	assert.ErrorIs(t, derr, errCause)
	var perr *PanicError
	require.ErrorAs(t, derr.Err, &perr)
	assert.ErrorIs(t, perr, errCause)
	assert.Equal(t, "next", recv(t, handled, "the next event"))
}

func TestRecoverPanicNil(t *testing.T) {
	sink, failures := errorSink()
	bus := newBus(t, sink)
	topic, err := NewTopic[int](bus, "recover.nil")
	require.NoError(t, err)
	_, err = topic.Subscribe("nilpanic", func(context.Context, *Event[int]) error {
		panic(nil)
	}, WithSubscriptionMiddleware(Recover()))
	require.NoError(t, err)

	require.NoError(t, topic.Publish(testCtx(t), 1))
	derr := recv(t, failures, "the panic's failure")
	var perr *PanicError
	require.ErrorAs(t, derr, &perr)
	var nilPanic *runtime.PanicNilError
	assert.ErrorAs(t, derr, &nilPanic, "panic(nil) is still caught")
}

func TestRecoverPassesResultsThrough(t *testing.T) {
	errPlain := errors.New("plain failure")
	h := Recover().wrap(func(_ context.Context, m Message) error {
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
	sink, failures := errorSink()
	bus := newBus(t, sink)
	topic, err := NewTopic[int](bus, "recover.retry")
	require.NoError(t, err)
	var calls atomic.Int32
	_, err = topic.Subscribe("retried", func(context.Context, *Event[int]) error {
		if calls.Add(1) < 3 {
			panic("flaky")
		}
		return nil
	}, WithSubscriptionMiddleware(newRetry(t, RetryPolicy{MaxAttempts: 3, InitialInterval: msec}), Recover()))
	require.NoError(t, err)

	require.NoError(t, topic.PublishSync(testCtx(t), 1))
	assert.EqualValues(t, 3, calls.Load())
	closeBus(t, bus)
	nothingOn(t, failures, "failure")
}

func TestPanicWithoutRecoverDoesNotKillTheWorker(t *testing.T) {
	errCause := errors.New("panicked with an error")
	sink, failures := errorSink()
	tr := &trace{}
	bus := newBus(t, sink, WithMiddleware(marking(tr, "outer", nil)))
	topic, sub, handled := panickySubscriber(t, bus, "recover.none")

	ctx := testCtx(t)
	require.NoError(t, topic.Publish(ctx, panicPayload{Panic: "no recover"}))
	require.NoError(t, topic.Publish(ctx, panicPayload{Panic: errCause}))
	require.NoError(t, topic.Publish(ctx, panicPayload{Name: "survivor"}))

	derr := recv(t, failures, "the first panic's failure")
	var perr *PanicError
	require.ErrorAs(t, derr, &perr, "the bus's own recovery makes a *PanicError")
	assert.Equal(t, "no recover", perr.Value)
	assert.NotEmpty(t, perr.Stack)
	assert.Equal(t, "recover.none", derr.Topic)
	assert.Equal(t, "panicky", derr.Subscriber)

	derr = recv(t, failures, "the second panic's failure")
	require.ErrorAs(t, derr, &perr)
	assert.ErrorIs(t, derr, errCause)

	assert.Equal(t, "survivor", recv(t, handled, "the event after the panics"))
	closeBus(t, bus)

	// The panic skipped the middleware between the handler and the worker.
	assert.Equal(t, []string{"outer>", "outer>", "outer>", "<outer"}, tr.list())
	st := sub.Stats()
	assert.EqualValues(t, 2, st.Failed)
	assert.EqualValues(t, 1, st.Delivered)
}
