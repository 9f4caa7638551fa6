package eventbus

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewValidatesOptions(t *testing.T) {
	for name, opt := range map[string]Option{
		"nil Option":        nil,
		"zero middleware":   WithMiddleware(Recover(), Middleware{}),
		"invalid retry":     WithMiddleware(Retry(RetryPolicy{MaxAttempts: -1})),
		"invalid timeout":   WithMiddleware(Timeout(0)),
		"nil error handler": WithErrorHandler(nil),
	} {
		b, err := New(opt)
		assert.ErrorIs(t, err, ErrInvalidOption, name)
		assert.Nil(t, b, name)
	}
	b, err := New(WithLogger(nil), WithLogger(slog.New(slog.DiscardHandler)), WithMiddleware(), WithMiddleware(Recover()),
		WithErrorHandler(func(context.Context, *DeliveryError) {}))
	require.NoError(t, err)
	closeBus(t, b)
}

func TestSubscribeValidatesOptions(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "opts")
	for name, opt := range map[string]SubscribeOption{
		"nil option":                   nil,
		"capacity 0":                   WithQueueCapacity(0),
		"capacity -1":                  WithQueueCapacity(-1),
		"concurrency 0":                WithConcurrency(0),
		"concurrency -3":               WithConcurrency(-3),
		"overflow -1":                  WithOverflow(Overflow(-1)),
		"overflow 4":                   WithOverflow(Overflow(4)),
		"nil ordering key":             WithKeyFunc[int](nil),
		"nil filter":                   WithFilter[int](nil),
		"ordering key for string":      WithKeyFunc(func(*Event[string]) string { return "" }),
		"filter for *int":              WithFilter(func(*Event[*int]) bool { return true }),
		"zero subscription middleware": WithSubscriptionMiddleware(Recover(), Middleware{}),
		"invalid dead letter":          WithSubscriptionMiddleware(DeadLetter(DeadLetterTopic("a..b"))),
		"invalid idempotent":           WithSubscriptionMiddleware(Idempotent(0)),
	} {
		s, err := tp.Subscribe("s", nopHandler[int], WithQueueCapacity(4), opt)
		assert.ErrorIs(t, err, ErrInvalidOption, name)
		assert.Nil(t, s, name)
	}
	assert.Empty(t, tp.Stats().Subscribers, "no subscription was made")
	assert.Zero(t, b.Stats().Subscriptions)

	// Valid ones.
	for _, policy := range []Overflow{OverflowBlock, OverflowDropNewest, OverflowDropOldest, OverflowFail} {
		s, err := tp.Subscribe("s-"+policy.String(), nopHandler[int], WithOverflow(policy), WithQueueCapacity(1),
			WithConcurrency(2), WithKeyFunc(func(*Event[int]) string { return "k" }),
			WithFilter(func(*Event[int]) bool { return true }), WithSubscriptionMiddleware(Recover()))
		require.NoError(t, err, policy.String())
		assert.Equal(t, "s-"+policy.String(), s.Name())
	}
}

// laneCapacity measures how many events one lane of a subscription with
// the given options queues while its worker is busy: every event has the
// same ordering key, so all go to one lane; the handler blocks on the first,
// and the first event dropped under OverflowDropNewest ends the count.
func laneCapacity(t *testing.T, b *Bus, name string, opts ...SubscribeOption) int {
	t.Helper()
	tp := mustTopic[int](t, b, "lanes."+name)
	g := newGate[int]()
	opts = append(opts, WithOverflow(OverflowDropNewest), WithKeyFunc(func(*Event[int]) string { return "same" }))
	s := mustSubscribe(t, tp, "s", g.handle, opts...)
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 0))
	recv(t, g.started, "the first event")
	n := 0
	for s.Stats().Dropped.QueueFull == 0 {
		require.Less(t, n, 2*DefaultQueueCapacity, "no event was ever dropped")
		require.NoError(t, tp.Publish(ctx, n+1))
		n++
	}
	assert.Equal(t, n-1, s.Stats().QueueLength)
	g.open()
	return n - 1
}

func TestQueueCapacityIsSplitOverLanes(t *testing.T) {
	b := newBus(t)
	assert.Equal(t, DefaultQueueCapacity, laneCapacity(t, b, "default"))
	assert.Equal(t, 7, laneCapacity(t, b, "seven", WithQueueCapacity(7)))
	assert.Equal(t, 2, laneCapacity(t, b, "even", WithQueueCapacity(4), WithConcurrency(2)))
	assert.Equal(t, 3, laneCapacity(t, b, "odd", WithQueueCapacity(5), WithConcurrency(2)), "rounded up")
	assert.Equal(t, 1, laneCapacity(t, b, "tiny", WithQueueCapacity(1), WithConcurrency(3)))
}

func TestLaterOptionsWin(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "later")
	g := newGate[int]()
	s := mustSubscribe(t, tp, "s", g.handle,
		WithQueueCapacity(100), WithQueueCapacity(1),
		WithOverflow(OverflowFail), WithOverflow(OverflowDropNewest))
	ctx := testCtx(t)
	require.NoError(t, tp.Publish(ctx, 1))
	recv(t, g.started, "event 1")
	require.NoError(t, tp.Publish(ctx, 2))
	require.NoError(t, tp.Publish(ctx, 3), "drop-newest, not fail")
	assert.Equal(t, uint64(1), s.Stats().Dropped.QueueFull, "capacity 1, not 100")
	g.open()
	assert.Equal(t, []int{1, 2}, payloads(t, g.done, 2, "events"))
}
