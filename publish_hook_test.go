package eventbus

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hookCall is what a test hook saw of one publish.
type hookCall struct {
	before   Envelope // the envelope when the hook ran
	after    Message  // the event done got
	err      error    // the error done got
	causedBy uuid.UUID
}

// recordingHook returns a hook that sets the trace context to parent and
// records its calls, under its own lock.
func recordingHook(parent string) (PublishHook, func() []hookCall) {
	var mu sync.Mutex
	var calls []hookCall
	hook := func(ctx context.Context, env *Envelope) func(Message, error) {
		mu.Lock()
		i := len(calls)
		calls = append(calls, hookCall{before: *env})
		mu.Unlock()
		env.SetTraceContext(parent, "vendor=1")
		return func(m Message, err error) {
			mu.Lock()
			defer mu.Unlock()
			calls[i].after, calls[i].err = m, err
		}
	}
	return hook, func() []hookCall {
		mu.Lock()
		defer mu.Unlock()
		return append([]hookCall(nil), calls...)
	}
}

const testTraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// The hook sees the envelope before the stamp, sets the trace context that
// subscribers then see, and its done function gets the stamped event.
func TestPublishHookSeesEveryPublish(t *testing.T) {
	hook, calls := recordingHook(testTraceParent)
	b := newBus(t, WithPublishHook(hook))
	orders := mustTopic[string](t, b, "orders")
	audits := mustTopic[string](t, b, "audits")
	got := make(chan *Event[string], 2)
	mustSubscribe(t, orders, "s", func(ctx context.Context, e *Event[string]) error {
		got <- e
		return audits.Publish(ctx, "audited "+e.Payload)
	})
	mustSubscribe(t, audits, "s", func(_ context.Context, e *Event[string]) error { got <- e; return nil })
	ctx := testCtx(t)
	require.NoError(t, orders.Publish(ctx, "o-1", WithKey("k"), WithMetadata("a", "b")))
	order, audit := recv(t, got, "the order"), recv(t, got, "the audit")
	require.NoError(t, b.WaitIdle(ctx))

	c := calls()
	require.Len(t, c, 2)
	assert.Equal(t, Envelope{Topic: "orders", Key: "k", Metadata: map[string]string{"a": "b"}}, c[0].before, "not stamped yet")
	assert.Same(t, Message(order), c[0].after)
	assert.NoError(t, c[0].err)
	assert.Equal(t, "audits", c[1].before.Topic)
	assert.Equal(t, order.ID, c[1].before.CausationID, "a handler's publish: the cause is known")
	assert.Equal(t, order.CorrelationID, c[1].before.CorrelationID)
	assert.Same(t, Message(audit), c[1].after)
	for _, e := range []*Event[string]{order, audit} {
		parent, state := e.TraceContext()
		assert.Equal(t, testTraceParent, parent)
		assert.Equal(t, "vendor=1", state)
	}
}

// Hooks run in the order they were added, their done functions in the
// reverse order.
func TestPublishHooksNest(t *testing.T) {
	var order []string
	hook := func(name string) PublishHook {
		return func(context.Context, *Envelope) func(Message, error) {
			order = append(order, "begin "+name)
			return func(Message, error) { order = append(order, "end "+name) }
		}
	}
	silent := func(context.Context, *Envelope) func(Message, error) { order = append(order, "silent"); return nil }
	b := newBus(t, WithPublishHook(hook("a")), WithPublishHook(silent), WithPublishHook(hook("b")))
	require.NoError(t, mustTopic[int](t, b, "t").Publish(testCtx(t), 1))
	assert.Equal(t, []string{"begin a", "silent", "begin b", "end b", "end a"}, order)
}

// done gets the publish's error.
func TestPublishHookGetsTheError(t *testing.T) {
	hook, calls := recordingHook(testTraceParent)
	b := newBus(t, WithPublishHook(hook))
	tp := mustTopic[int](t, b, "full")
	g := newGate[int]()
	mustSubscribe(t, tp, "s", g.handle, WithQueueCapacity(1), WithOverflow(OverflowFail))
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 1))
	recv(t, g.started, "the first event")
	require.NoError(t, tp.Publish(ctx, 2))
	err := tp.Publish(ctx, 3)
	require.ErrorIs(t, err, ErrQueueFull)
	g.open()
	c := calls()
	require.Len(t, c, 3)
	assert.Equal(t, err, c[2].err)
	assert.Equal(t, uint64(3), c[2].after.EventEnvelope().Sequence)
}

// A panicking hook or done function is logged; the publish goes on.
func TestPublishHookPanicIsLogged(t *testing.T) {
	var logs bytes.Buffer
	b := newBus(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		WithPublishHook(func(context.Context, *Envelope) func(Message, error) { panic("hook boom") }),
		WithPublishHook(func(context.Context, *Envelope) func(Message, error) {
			return func(Message, error) { panic("done boom") }
		}))
	tp := mustTopic[int](t, b, "t")
	got := make(chan int, 1)
	mustSubscribe(t, tp, "s", func(_ context.Context, e *Event[int]) error { got <- e.Payload; return nil })
	require.NoError(t, tp.Publish(testCtx(t), 7))
	assert.Equal(t, 7, recv(t, got, "the event"))
	assert.Contains(t, logs.String(), `msg="eventbus: publish hook panicked" topic=t panic="hook boom"`)
	assert.Contains(t, logs.String(), `panic="done boom"`)
}

func TestPublishHookNil(t *testing.T) {
	_, err := New(WithPublishHook(nil))
	assert.ErrorIs(t, err, ErrInvalidOption)
}
