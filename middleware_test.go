package eventbus

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trace records strings from many goroutines.
type trace struct {
	mu  sync.Mutex
	got []string
}

func (r *trace) add(s string) {
	r.mu.Lock()
	r.got = append(r.got, s)
	r.mu.Unlock()
}

func (r *trace) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// marking returns middleware that records name+">" on entry and "<"+name on
// exit, and counts how many times it was applied to build a chain.
func marking(tr *trace, name string, built *atomic.Int32) Middleware {
	return NewMiddleware(func(next MessageHandler) MessageHandler {
		if built != nil {
			built.Add(1)
		}
		return func(ctx context.Context, m Message) error {
			tr.add(name + ">")
			err := next(ctx, m)
			tr.add("<" + name)
			return err
		}
	})
}

func TestMiddlewareChainOrder(t *testing.T) {
	tr := &trace{}
	var built atomic.Int32
	bus := newBus(t,
		WithMiddleware(marking(tr, "bus1", &built), marking(tr, "bus2", &built)),
		WithMiddleware(marking(tr, "bus3", &built)))
	topic, err := NewTopic[string](bus, "chain.order")
	require.NoError(t, err)
	_, err = topic.Subscribe("ordered", func(ctx context.Context, e *Event[string]) error {
		tr.add("handler:" + e.Payload)
		return nil
	}, WithSubscriptionMiddleware(marking(tr, "sub1", &built), marking(tr, "sub2", &built)),
		WithSubscriptionMiddleware(marking(tr, "sub3", &built)))
	require.NoError(t, err)
	assert.EqualValues(t, 6, built.Load(), "each middleware is applied once when the subscription is made")

	ctx := testCtx(t)
	require.NoError(t, topic.PublishSync(ctx, "a"))
	assert.Equal(t, []string{
		"bus1>", "bus2>", "bus3>", "sub1>", "sub2>", "sub3>",
		"handler:a",
		"<sub3", "<sub2", "<sub1", "<bus3", "<bus2", "<bus1",
	}, tr.list())

	require.NoError(t, topic.PublishSync(ctx, "b"))
	assert.Len(t, tr.list(), 26)
	assert.EqualValues(t, 6, built.Load(), "the chain is not rebuilt per event")
}

func TestMiddlewareBusLevelWrapsEverySubscription(t *testing.T) {
	tr := &trace{}
	bus := newBus(t, WithMiddleware(marking(tr, "bus", nil)))
	first, err := NewTopic[int](bus, "chain.first")
	require.NoError(t, err)
	second, err := NewTopic[string](bus, "chain.second")
	require.NoError(t, err)
	_, err = first.Subscribe("plain", func(context.Context, *Event[int]) error {
		tr.add("plain")
		return nil
	})
	require.NoError(t, err)
	_, err = second.Subscribe("own", func(context.Context, *Event[string]) error {
		tr.add("own")
		return nil
	}, WithSubscriptionMiddleware(marking(tr, "sub", nil)))
	require.NoError(t, err)

	ctx := testCtx(t)
	require.NoError(t, first.PublishSync(ctx, 1))
	assert.Equal(t, []string{"bus>", "plain", "<bus"}, tr.list())
	require.NoError(t, second.PublishSync(ctx, "x"))
	assert.Equal(t, []string{"bus>", "plain", "<bus", "bus>", "sub>", "own", "<sub", "<bus"}, tr.list())
}

func TestMiddlewareSeesTheHandlersEvent(t *testing.T) {
	bus := newBus(t)
	topic, err := NewTopic[string](bus, "chain.event")
	require.NoError(t, err)
	seen := make(chan Message, 1)
	handled := make(chan *Event[string], 1)
	spy := NewMiddleware(func(next MessageHandler) MessageHandler {
		return func(ctx context.Context, m Message) error {
			seen <- m
			return next(ctx, m)
		}
	})
	_, err = topic.Subscribe("spy", func(_ context.Context, e *Event[string]) error {
		handled <- e
		return nil
	}, WithSubscriptionMiddleware(spy))
	require.NoError(t, err)

	require.NoError(t, topic.PublishSync(testCtx(t), "payload", WithKey("k")))
	m := recv(t, seen, "the middleware's message")
	e := recv(t, handled, "the handler's event")
	assert.Same(t, e, m, "middleware and handler share one *Event")
	assert.Equal(t, "payload", m.AnyPayload())
	assert.Equal(t, "chain.event", m.EventEnvelope().Topic)
	assert.Equal(t, "k", m.EventEnvelope().Key)
	assert.Same(t, &e.Envelope, m.EventEnvelope())
}

func TestMiddlewareCanShortCircuitAndDecideTheOutcome(t *testing.T) {
	errBlocked := errors.New("blocked by middleware")
	errHandler := errors.New("handler failed")
	block := NewMiddleware(func(MessageHandler) MessageHandler {
		return func(context.Context, Message) error { return errBlocked }
	})
	swallow := NewMiddleware(func(next MessageHandler) MessageHandler {
		return func(ctx context.Context, m Message) error {
			_ = next(ctx, m)
			return nil
		}
	})
	bus := newBus(t)
	topic, err := NewTopic[int](bus, "chain.decide")
	require.NoError(t, err)
	var calls atomic.Int32
	handler := func(context.Context, *Event[int]) error {
		calls.Add(1)
		return errHandler
	}
	blocked, err := topic.Subscribe("blocked", handler, WithSubscriptionMiddleware(block))
	require.NoError(t, err)
	swallowed, err := topic.Subscribe("swallowed", handler, WithSubscriptionMiddleware(swallow))
	require.NoError(t, err)

	err = topic.PublishSync(testCtx(t), 1)
	require.Error(t, err)
	assert.ErrorIs(t, err, errBlocked)
	assert.NotErrorIs(t, err, errHandler, "the outermost error decides")
	var derr *DeliveryError
	require.ErrorAs(t, err, &derr)
	assert.Equal(t, "blocked", derr.Subscriber)
	assert.EqualValues(t, 1, calls.Load(), "only the swallowing subscriber's handler ran")

	closeBus(t, bus)
	assert.EqualValues(t, 1, blocked.Stats().Failed)
	assert.EqualValues(t, 0, blocked.Stats().Delivered)
	assert.EqualValues(t, 1, swallowed.Stats().Delivered)
	assert.EqualValues(t, 0, swallowed.Stats().Failed)
}

func TestMiddlewareZeroOrNilIsInvalid(t *testing.T) {
	_, err := New(WithMiddleware(Recover(), Middleware{}))
	assert.ErrorIs(t, err, ErrInvalidOption)
	_, err = New(WithMiddleware(NewMiddleware(nil)))
	assert.ErrorIs(t, err, ErrInvalidOption)

	bus := newBus(t)
	topic, err := NewTopic[int](bus, "chain.nil")
	require.NoError(t, err)
	_, err = topic.Subscribe("nilmw", func(context.Context, *Event[int]) error { return nil },
		WithSubscriptionMiddleware(Middleware{}))
	assert.ErrorIs(t, err, ErrInvalidOption)
	assert.Empty(t, topic.Stats().Subscribers)
}

func TestDeliveryFromContext(t *testing.T) {
	info, ok := DeliveryFromContext(context.Background())
	assert.False(t, ok, "a plain ctx is not a delivery")
	assert.Zero(t, info)
	ctx := testCtx(t)
	_, ok = DeliveryFromContext(ctx)
	assert.False(t, ok)

	type seen struct {
		where string
		info  DeliveryInfo
		ok    bool
	}
	got := make(chan seen, 16)
	inMiddleware := NewMiddleware(func(next MessageHandler) MessageHandler {
		return func(ctx context.Context, m Message) error {
			info, ok := DeliveryFromContext(ctx)
			got <- seen{"middleware", info, ok}
			return next(ctx, m)
		}
	})
	bus := newBus(t, WithMiddleware(inMiddleware))
	topic, err := NewTopic[string](bus, "delivery.info")
	require.NoError(t, err)
	for _, name := range []string{"alpha", "beta"} {
		_, err := topic.Subscribe(name, func(ctx context.Context, _ *Event[string]) error {
			info, ok := DeliveryFromContext(ctx)
			got <- seen{"handler", info, ok}
			derived, cancel := context.WithTimeout(context.WithValue(ctx, ctxKey{}, 1), time.Minute)
			defer cancel()
			info, ok = DeliveryFromContext(derived)
			got <- seen{"derived", info, ok}
			return nil
		})
		require.NoError(t, err)
	}

	require.NoError(t, topic.PublishSync(ctx, "x"))
	bySubscriber := map[string][]string{}
	for range 6 {
		s := recv(t, got, "a delivery info")
		require.True(t, s.ok, "%s: DeliveryFromContext reported false", s.where)
		assert.Equal(t, "delivery.info", s.info.Topic, s.where)
		assert.Equal(t, 1, s.info.Attempt, s.where)
		bySubscriber[s.info.Subscriber] = append(bySubscriber[s.info.Subscriber], s.where)
	}
	assert.ElementsMatch(t, []string{"middleware", "handler", "derived"}, bySubscriber["alpha"])
	assert.ElementsMatch(t, []string{"middleware", "handler", "derived"}, bySubscriber["beta"])

	// The publisher's ctx is still not a delivery.
	_, ok = DeliveryFromContext(ctx)
	assert.False(t, ok)
}

type ctxKey struct{}
