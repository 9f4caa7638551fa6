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

// newTimeout builds Timeout middleware from a duration that must be valid.
func newTimeout(t *testing.T, d time.Duration) Middleware {
	t.Helper()
	mw := Timeout(d)
	require.NotNil(t, mw)
	return mw
}

func TestTimeoutCancelsAHandlerAtTheDeadline(t *testing.T) {
	const limit = 30 * msec
	bus := newBus(t)
	topic, err := NewTopic[int](bus, "timeout.slow")
	require.NoError(t, err)
	type observed struct {
		hasDeadline bool
		remaining   time.Duration
		deadline    time.Time
		done        time.Time
	}
	seen := make(chan observed, 1)
	_, err = topic.Subscribe("slow", func(ctx context.Context, _ *Event[int]) error {
		start := time.Now()
		deadline, ok := ctx.Deadline()
		<-ctx.Done()
		seen <- observed{ok, deadline.Sub(start), deadline, time.Now()}
		return ctx.Err()
	}, WithSubscriptionMiddleware(newTimeout(t, limit)))
	require.NoError(t, err)

	err = topic.PublishSync(testCtx(t), 1)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrHandlerTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the handler's own error is kept")
	var derr *DeliveryError
	require.ErrorAs(t, err, &derr)
	assert.Equal(t, "slow", derr.Subscriber)

	o := recv(t, seen, "the handler's observations")
	assert.True(t, o.hasDeadline, "the handler's ctx has a deadline")
	assert.LessOrEqual(t, o.remaining, limit)
	assert.False(t, o.done.Before(o.deadline), "cancelled at %v, before the deadline %v", o.done, o.deadline)
}

func TestTimeoutLeavesFastHandlersAlone(t *testing.T) {
	errQuick := errors.New("quick failure")
	bus := newBus(t)
	topic, err := NewTopic[bool](bus, "timeout.fast")
	require.NoError(t, err)
	ctxErrs := make(chan error, 2)
	_, err = topic.Subscribe("fast", func(ctx context.Context, e *Event[bool]) error {
		ctxErrs <- ctx.Err()
		if e.Payload {
			return errQuick
		}
		return nil
	}, WithSubscriptionMiddleware(newTimeout(t, time.Minute)))
	require.NoError(t, err)

	ctx := testCtx(t)
	assert.NoError(t, topic.PublishSync(ctx, false))
	err = topic.PublishSync(ctx, true)
	assert.ErrorIs(t, err, errQuick)
	assert.NotErrorIs(t, err, ErrHandlerTimeout, "a failure before the deadline is not a timeout")
	assert.NoError(t, recv(t, ctxErrs, "the first ctx error"))
	assert.NoError(t, recv(t, ctxErrs, "the second ctx error"))
}

func TestTimeoutDoesNotAbandonAHandlerThatIgnoresIt(t *testing.T) {
	errLate := errors.New("late failure")
	bus := newBus(t)
	topic, err := NewTopic[bool](bus, "timeout.ignored")
	require.NoError(t, err)
	var finished atomic.Int32
	_, err = topic.Subscribe("stubborn", func(ctx context.Context, e *Event[bool]) error {
		// Ignore the ctx until the deadline has passed, then finish anyway.
		<-ctx.Done()
		finished.Add(1)
		if e.Payload {
			return errLate
		}
		return nil
	}, WithSubscriptionMiddleware(newTimeout(t, 10*msec)))
	require.NoError(t, err)

	ctx := testCtx(t)
	assert.NoError(t, topic.PublishSync(ctx, false), "a success after the deadline is a success")
	assert.EqualValues(t, 1, finished.Load())
	err = topic.PublishSync(ctx, true)
	assert.ErrorIs(t, err, ErrHandlerTimeout)
	assert.ErrorIs(t, err, errLate)
	assert.EqualValues(t, 2, finished.Load())
}

func TestTimeoutInvalidDurations(t *testing.T) {
	for _, d := range []time.Duration{0, -1, -time.Second} {
		assert.ErrorIs(t, Timeout(d).Err(), ErrInvalidOption, "Timeout(%s)", d)
	}
}

func TestTimeoutInsideRetryGivesEachAttemptAFreshDeadline(t *testing.T) {
	const limit = 60 * msec
	bus := newBus(t)
	topic, err := NewTopic[int](bus, "timeout.retry")
	require.NoError(t, err)
	type attempt struct {
		deadline time.Time
		startErr error
		endErr   error
	}
	var mu sync.Mutex
	var attempts []attempt
	_, err = topic.Subscribe("retried", func(ctx context.Context, _ *Event[int]) error {
		deadline, _ := ctx.Deadline()
		a := attempt{deadline: deadline, startErr: ctx.Err()}
		mu.Lock()
		n := len(attempts)
		mu.Unlock()
		if n < 2 {
			<-ctx.Done() // the first two attempts run into the deadline
			a.endErr = ctx.Err()
		}
		mu.Lock()
		attempts = append(attempts, a)
		mu.Unlock()
		return a.endErr
	}, WithSubscriptionMiddleware(
		newRetry(t, RetryPolicy{MaxAttempts: 3, InitialInterval: msec}),
		newTimeout(t, limit)))
	require.NoError(t, err)

	require.NoError(t, topic.PublishSync(testCtx(t), 1), "the third attempt succeeds within its own deadline")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, attempts, 3)
	for i, a := range attempts {
		assert.NoError(t, a.startErr, "attempt %d started with a live ctx", i+1)
		assert.False(t, a.deadline.IsZero(), "attempt %d has a deadline", i+1)
		if i > 0 {
			assert.True(t, a.deadline.After(attempts[i-1].deadline),
				"attempt %d's deadline %v is not after attempt %d's %v", i+1, a.deadline, i, attempts[i-1].deadline)
		}
	}
	assert.ErrorIs(t, attempts[0].endErr, context.DeadlineExceeded)
	assert.ErrorIs(t, attempts[1].endErr, context.DeadlineExceeded)
}

func TestTimeoutOutsideRetryCoversEveryAttempt(t *testing.T) {
	bus := newBus(t)
	topic, err := NewTopic[int](bus, "timeout.outer")
	require.NoError(t, err)
	var calls atomic.Int32
	_, err = topic.Subscribe("bounded", func(ctx context.Context, _ *Event[int]) error {
		calls.Add(1)
		<-ctx.Done()
		return ctx.Err()
	}, WithSubscriptionMiddleware(
		newTimeout(t, 30*msec),
		newRetry(t, RetryPolicy{MaxAttempts: 100, InitialInterval: msec, Multiplier: 1})))
	require.NoError(t, err)

	err = topic.PublishSync(testCtx(t), 1)
	assert.ErrorIs(t, err, ErrHandlerTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualValues(t, 1, calls.Load(), "no retry once the shared deadline has passed")
}

func TestTimeoutIsNotReportedForACancelledSubscription(t *testing.T) {
	sink, failures := errorSink()
	bus := newBus(t, sink)
	topic, err := NewTopic[int](bus, "timeout.cancelled")
	require.NoError(t, err)
	started := make(chan struct{}, 1)
	sub, err := topic.Subscribe("cancelled", func(ctx context.Context, _ *Event[int]) error {
		started <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}, WithSubscriptionMiddleware(newTimeout(t, time.Minute)))
	require.NoError(t, err)

	require.NoError(t, topic.Publish(testCtx(t), 1))
	recv(t, started, "the handler to start")
	sub.Unsubscribe()
	recv(t, sub.Done(), "the subscription to stop")
	nothingOn(t, failures, "a failure")
	st := sub.Stats()
	assert.EqualValues(t, 1, st.Dropped.Unsubscribed, "cancelled, not timed out")
	assert.Zero(t, st.Failed)
}

func TestTimeoutNestedReportsTheDeadlineThatPassed(t *testing.T) {
	bus := newBus(t)
	topic, err := NewTopic[int](bus, "timeout.nested")
	require.NoError(t, err)
	_, err = topic.Subscribe("nested", func(ctx context.Context, _ *Event[int]) error {
		<-ctx.Done()
		return ctx.Err()
	}, WithSubscriptionMiddleware(newTimeout(t, 20*msec), newTimeout(t, time.Hour)))
	require.NoError(t, err)

	err = topic.PublishSync(testCtx(t), 1)
	assert.ErrorIs(t, err, ErrHandlerTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "after 20ms")
	assert.NotContains(t, err.Error(), "1h0m0s", "the inner deadline did not pass")
}
