package eventbus

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorHandlerGetsADeliveryError(t *testing.T) {
	errHandler := errors.New("handler failed")
	type call struct {
		err   *DeliveryError
		info  DeliveryInfo
		ok    bool
		corr  string
		hasID bool
	}
	calls := make(chan call, 4)
	bus := newBus(t, WithErrorHandler(func(ctx context.Context, err *DeliveryError) {
		info, ok := DeliveryFromContext(ctx)
		corr, hasID := CorrelationIDFromContext(ctx)
		calls <- call{err, info, ok, corr, hasID}
	}))
	topic, err := NewTopic[string](bus, "hook.failed")
	require.NoError(t, err)
	ids := make(chan uuid.UUID, 1)
	sub, err := topic.Subscribe("failing", func(_ context.Context, e *Event[string]) error {
		ids <- e.ID
		return fmt.Errorf("wrapped: %w", errHandler)
	})
	require.NoError(t, err)

	require.NoError(t, topic.Publish(testCtx(t), "payload", WithCorrelationID("corr-1")))
	id := recv(t, ids, "the event ID")
	c := recv(t, calls, "the error handler call")
	derr := c.err
	require.NotNil(t, derr)
	assert.Equal(t, "hook.failed", derr.Topic)
	assert.Equal(t, "failing", derr.Subscriber)
	assert.Equal(t, id, derr.EventID)
	assert.Equal(t, 1, derr.Attempts)
	require.NotNil(t, derr.Message)
	assert.Equal(t, id, derr.Message.EventEnvelope().ID)
	assert.Equal(t, "payload", derr.Message.AnyPayload())
	assert.ErrorIs(t, derr.Err, errHandler)
	assert.ErrorIs(t, derr, errHandler)
	assert.Contains(t, derr.Error(), "hook.failed")
	assert.Contains(t, derr.Error(), "failing")
	assert.Contains(t, derr.Error(), id.String())
	assert.Contains(t, derr.Error(), errHandler.Error())

	// It is called with the handler's ctx.
	assert.True(t, c.ok)
	assert.Equal(t, DeliveryInfo{Topic: "hook.failed", Subscriber: "failing", Attempt: 1, Deliveries: 1}, c.info)
	assert.True(t, c.hasID)
	assert.Equal(t, "corr-1", c.corr)

	closeBus(t, bus)
	assert.EqualValues(t, 1, sub.Stats().Failed)
	nothingOn(t, calls, "error handler call")
}

func TestErrorHandlerCountsAttemptsAfterRetry(t *testing.T) {
	sink, failures := errorSink()
	bus := newBus(t, sink)
	topic, err := NewTopic[int](bus, "hook.retried")
	require.NoError(t, err)
	_, err = topic.Subscribe("failing", func(context.Context, *Event[int]) error { return errFlaky },
		WithSubscriptionMiddleware(newRetry(t, RetryPolicy{MaxAttempts: 4, InitialInterval: msec})))
	require.NoError(t, err)

	require.NoError(t, topic.Publish(testCtx(t), 1))
	derr := recv(t, failures, "the final failure")
	assert.Equal(t, 4, derr.Attempts)
	assert.ErrorIs(t, derr, errFlaky)
	closeBus(t, bus)
	nothingOn(t, failures, "failure")
}

func TestErrorHandlerNotCalledForSuccessOrPublishSync(t *testing.T) {
	errHandler := errors.New("handler failed")
	sink, failures := errorSink()
	bus := newBus(t, sink)
	topic, err := NewTopic[bool](bus, "hook.quiet")
	require.NoError(t, err)
	_, err = topic.Subscribe("sub", func(_ context.Context, e *Event[bool]) error {
		if e.Payload {
			return errHandler
		}
		return nil
	})
	require.NoError(t, err)

	ctx := testCtx(t)
	require.NoError(t, topic.PublishSync(ctx, false))
	assert.ErrorIs(t, topic.PublishSync(ctx, true), errHandler, "the PublishSync caller gets the failure")
	closeBus(t, bus)
	nothingOn(t, failures, "failure")
}

func TestPanickingErrorHandlerDoesNotKillTheWorker(t *testing.T) {
	logger, buf := jsonLogger(slog.LevelDebug)
	var hookCalls atomic.Int32
	bus := newBus(t, WithLogger(logger), WithErrorHandler(func(context.Context, *DeliveryError) {
		hookCalls.Add(1)
		panic("error handler exploded")
	}))
	topic, err := NewTopic[bool](bus, "hook.panics")
	require.NoError(t, err)
	handled := make(chan bool, 8)
	sub, err := topic.Subscribe("sub", func(_ context.Context, e *Event[bool]) error {
		handled <- e.Payload
		if e.Payload {
			return errFlaky
		}
		return nil
	})
	require.NoError(t, err)

	ctx := testCtx(t)
	require.NoError(t, topic.Publish(ctx, true))
	require.NoError(t, topic.Publish(ctx, false))
	require.NoError(t, topic.Publish(ctx, true))
	for _, want := range []bool{true, false, true} {
		assert.Equal(t, want, recv(t, handled, "an event"), "the worker lives on")
	}

	closeBus(t, bus)
	assert.EqualValues(t, 2, hookCalls.Load())
	st := sub.Stats()
	assert.EqualValues(t, 2, st.Failed)
	assert.EqualValues(t, 1, st.Delivered)
	recs := buf.withMsg(t, "eventbus: error handler panicked")
	require.Len(t, recs, 2)
	assert.Equal(t, "ERROR", recs[0]["level"])
	assert.Equal(t, "error handler exploded", recs[0]["panic"])
}

func TestDefaultErrorHandlerLogs(t *testing.T) {
	errHandler := errors.New("handler failed")
	logger, buf := jsonLogger(slog.LevelDebug)
	bus := newBusWithDefaults(t, WithLogger(logger))
	topic, err := NewTopic[int](bus, "hook.default")
	require.NoError(t, err)
	ids := make(chan uuid.UUID, 1)
	_, err = topic.Subscribe("logged", func(_ context.Context, e *Event[int]) error {
		ids <- e.ID
		return errHandler
	}, WithSubscriptionMiddleware(newRetry(t, RetryPolicy{MaxAttempts: 2, InitialInterval: msec})))
	require.NoError(t, err)

	require.NoError(t, topic.Publish(testCtx(t), 5))
	id := recv(t, ids, "the event ID")
	const msg = "eventbus: delivery failed"
	closeBus(t, bus) // the error handler runs on the worker, which Close waits for

	recs := buf.withMsg(t, msg)
	require.Len(t, recs, 1)
	r := recs[0]
	assert.Equal(t, "ERROR", r["level"])
	assert.Equal(t, "hook.default", r["topic"])
	assert.Equal(t, "logged", r["subscriber"])
	assert.Equal(t, id.String(), r["event_id"])
	assert.EqualValues(t, 2, r["attempts"])
	assert.Equal(t, errHandler.Error(), r["error"])
}

// Without a logger of its own, the bus reports final failures to
// slog.Default(), so that they are never silent; its other records are
// discarded.
func TestDefaultErrorHandlerWithoutLoggerUsesSlogDefault(t *testing.T) {
	logger, buf := jsonLogger(slog.LevelDebug)
	oldDefault, oldOutput, oldFlags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(logger)
	t.Cleanup(func() {
		slog.SetDefault(oldDefault)
		log.SetOutput(oldOutput)
		log.SetFlags(oldFlags)
	})

	bus := newBusWithDefaults(t, WithLogger(nil))
	topic, err := NewTopic[int](bus, "hook.nologger")
	require.NoError(t, err)
	failing := func(context.Context, *Event[int]) error { return errFlaky }
	plain, err := topic.Subscribe("plain", failing)
	require.NoError(t, err)
	// A dead letter nobody subscribed to makes a warning on the bus's own
	// logger, which is discarded.
	dead, err := topic.Subscribe("dead", failing, WithSubscriptionMiddleware(newDeadLetter(t)))
	require.NoError(t, err)

	require.NoError(t, topic.Publish(testCtx(t), 1))
	closeBus(t, bus)

	assert.EqualValues(t, 1, plain.Stats().Failed)
	assert.EqualValues(t, 1, dead.Stats().DeadLettered)
	recs := buf.records(t)
	require.Len(t, recs, 1, "only the failure, not the bus's other records: %v", recs)
	assert.Equal(t, "eventbus: delivery failed", recs[0]["msg"])
	assert.Equal(t, "ERROR", recs[0]["level"])
	assert.Equal(t, "hook.nologger", recs[0]["topic"])
	assert.Equal(t, "plain", recs[0]["subscriber"])
	assert.Equal(t, errFlaky.Error(), recs[0]["error"])
}

func TestWithErrorHandlerNil(t *testing.T) {
	bus, err := New(WithErrorHandler(nil))
	assert.ErrorIs(t, err, ErrInvalidOption)
	assert.Nil(t, bus)
}

func TestErrorHandlerMayPublish(t *testing.T) {
	alertsCh := make(chan *Event[string], 1)
	var alerts *Topic[string]
	bus := newBus(t, WithErrorHandler(func(ctx context.Context, err *DeliveryError) {
		// The handler's ctx continues the failed event's chain.
		_ = alerts.Publish(ctx, err.Subscriber)
	}))
	var err error
	alerts, err = NewTopic[string](bus, "hook.alerts")
	require.NoError(t, err)
	_, err = alerts.Subscribe("pager", func(_ context.Context, e *Event[string]) error {
		alertsCh <- e
		return nil
	})
	require.NoError(t, err)
	topic, err := NewTopic[int](bus, "hook.source")
	require.NoError(t, err)
	ids := make(chan uuid.UUID, 1)
	_, err = topic.Subscribe("failing", func(_ context.Context, e *Event[int]) error {
		ids <- e.ID
		return errFlaky
	})
	require.NoError(t, err)

	require.NoError(t, topic.Publish(testCtx(t), 1, WithCorrelationID("incident-1")))
	id := recv(t, ids, "the failed event's ID")
	alert := recv(t, alertsCh, "the alert")
	assert.Equal(t, "failing", alert.Payload)
	assert.Equal(t, id, alert.CausationID)
	assert.Equal(t, "incident-1", alert.CorrelationID)
}
