package eventbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"strconv"
	"strings"
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

// explode panics with a runtime error.
func explode(m map[string]int) {
	m["boom"]++ // a write to a nil map
}

// The error log of a panic says where it happened, the function that
// panicked first, whether the Recover middleware or the worker caught it.
func TestPanicLogSaysWhereItHappened(t *testing.T) {
	fn := runtime.FuncForPC(reflect.ValueOf(explode).Pointer())
	_, line := fn.FileLine(fn.Entry())
	at := "/recover_test.go:" + strconv.Itoa(line+1) // explode's write
	for _, recovered := range []bool{true, false} {
		t.Run(fmt.Sprintf("recover=%v", recovered), func(t *testing.T) {
			logger, buf := jsonLogger(slog.LevelDebug)
			var mws []Middleware
			if recovered {
				mws = append(mws, Recover())
			}
			bus := newBusWithDefaults(t, WithLogger(logger), WithMiddleware(mws...))
			topic := mustTopic[int](t, bus, "panic.where")
			mustSubscribe(t, topic, "exploding", func(context.Context, *Event[int]) error {
				explode(nil)
				return nil
			})
			err := topic.PublishSync(testCtx(t), 1)
			var pe *PanicError
			require.ErrorAs(t, err, &pe)
			frames := pe.Frames(3)
			require.NotEmpty(t, frames)
			assert.Equal(t, "github.com/busline/eventbus.explode", frames[0].Function, "the function that panicked first")
			assert.True(t, strings.HasSuffix(frames[0].File+":"+strconv.Itoa(frames[0].Line), at), "%s:%d", frames[0].File, frames[0].Line)
			require.Greater(t, len(frames), 1)
			assert.Contains(t, frames[1].Function, "TestPanicLogSaysWhereItHappened", "then the handler that called it")

			// The same event published without PublishSync reaches the
			// default error handler, whose record says where.
			require.NoError(t, topic.Publish(testCtx(t), 2))
			closeBus(t, bus)
			recs := buf.withMsg(t, "eventbus: delivery failed")
			require.Len(t, recs, 1)
			assert.Equal(t, "ERROR", recs[0]["level"])
			assert.True(t, strings.HasSuffix(recs[0]["panic_at"].(string), at), "panic_at %v", recs[0]["panic_at"])
			stack, _ := recs[0]["stack"].([]any)
			require.NotEmpty(t, stack)
			assert.True(t, strings.HasPrefix(stack[0].(string), "github.com/busline/eventbus.explode "), "stack %v", stack)
			assert.LessOrEqual(t, len(stack), panicFrames)
		})
	}
}

func TestPanicErrorMadeByHandHasNoFrames(t *testing.T) {
	assert.Empty(t, (&PanicError{Value: "x"}).Frames(5))
	assert.Empty(t, newPanicError("not in a panic").Frames(5), "no panic on the stack")
}
