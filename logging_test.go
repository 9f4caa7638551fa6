package eventbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logBuffer is an io.Writer safe for the concurrent use a slog handler
// makes of it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records parses every JSON record written so far.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	data := append([]byte(nil), b.buf.Bytes()...)
	b.mu.Unlock()
	var out []map[string]any
	for line := range bytes.Lines(data) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(line, &rec), "log line %q", line)
		out = append(out, rec)
	}
	return out
}

// withMsg returns the records whose message is msg.
func (b *logBuffer) withMsg(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range b.records(t) {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// jsonLogger returns a JSON logger at level writing to a new buffer.
func jsonLogger(level slog.Level) (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: level})), buf
}

const (
	msgHandled = "eventbus: event handled"
	msgFailed  = "eventbus: handler failed"
)

func TestLoggingSuccessWritesADebugRecord(t *testing.T) {
	logger, buf := jsonLogger(slog.LevelDebug)
	bus := newBus(t)
	topic, err := NewTopic[string](bus, "log.success")
	require.NoError(t, err)
	ids := make(chan string, 1)
	_, err = topic.Subscribe("logged", func(_ context.Context, e *Event[string]) error {
		ids <- e.ID.String()
		return nil
	}, WithSubscriptionMiddleware(Logging(logger)))
	require.NoError(t, err)

	require.NoError(t, topic.PublishSync(testCtx(t), "hello"))
	id := recv(t, ids, "the event ID")

	recs := buf.records(t)
	require.Len(t, recs, 1)
	r := recs[0]
	assert.Equal(t, "DEBUG", r["level"])
	assert.Equal(t, msgHandled, r["msg"])
	assert.Equal(t, "log.success", r["topic"])
	assert.Equal(t, "logged", r["subscriber"])
	assert.Equal(t, id, r["event_id"])
	assert.EqualValues(t, 1, r["attempt"])
	assert.EqualValues(t, 1, r["sequence"])
	require.Contains(t, r, "duration")
	d, ok := r["duration"].(float64)
	require.True(t, ok, "duration is a number of nanoseconds, got %T", r["duration"])
	assert.GreaterOrEqual(t, d, 0.0)
	assert.NotContains(t, r, "error")
}

func TestLoggingFailureWritesAnErrorRecord(t *testing.T) {
	errBad := errors.New("bad payload")
	logger, buf := jsonLogger(slog.LevelDebug)
	bus := newBus(t)
	topic, err := NewTopic[string](bus, "log.failure")
	require.NoError(t, err)
	ids := make(chan string, 1)
	_, err = topic.Subscribe("logged", func(_ context.Context, e *Event[string]) error {
		ids <- e.ID.String()
		return errBad
	}, WithSubscriptionMiddleware(Logging(logger)))
	require.NoError(t, err)

	err = topic.PublishSync(testCtx(t), "hello")
	assert.ErrorIs(t, err, errBad, "Logging returns the error it logs")
	id := recv(t, ids, "the event ID")

	recs := buf.records(t)
	require.Len(t, recs, 1)
	r := recs[0]
	assert.Equal(t, "ERROR", r["level"])
	assert.Equal(t, msgFailed, r["msg"])
	assert.Equal(t, "log.failure", r["topic"])
	assert.Equal(t, "logged", r["subscriber"])
	assert.Equal(t, id, r["event_id"])
	assert.EqualValues(t, 1, r["attempt"])
	assert.Equal(t, errBad.Error(), r["error"])
	assert.Contains(t, r, "duration")
}

func TestLoggingAPanicSaysWhere(t *testing.T) {
	logger, buf := jsonLogger(slog.LevelDebug)
	bus := newBus(t)
	topic := mustTopic[string](t, bus, "log.panic")
	mustSubscribe(t, topic, "logged", func(context.Context, *Event[string]) error {
		explode(nil)
		return nil
	}, WithSubscriptionMiddleware(Logging(logger), Recover()))

	var pe *PanicError
	require.ErrorAs(t, topic.PublishSync(testCtx(t), "hello"), &pe)
	recs := buf.records(t)
	require.Len(t, recs, 1)
	assert.Equal(t, msgFailed, recs[0]["msg"])
	assert.Contains(t, recs[0]["panic_at"], "/recover_test.go:")
	stack, _ := recs[0]["stack"].([]any)
	require.NotEmpty(t, stack)
	assert.True(t, strings.HasPrefix(stack[0].(string), "github.com/busline/eventbus.explode "), "stack %v", stack)
}

func TestLoggingAboveDebugSkipsSuccesses(t *testing.T) {
	errBad := errors.New("bad")
	logger, buf := jsonLogger(slog.LevelInfo)
	bus := newBus(t)
	topic, err := NewTopic[bool](bus, "log.level")
	require.NoError(t, err)
	_, err = topic.Subscribe("logged", func(_ context.Context, e *Event[bool]) error {
		if e.Payload {
			return errBad
		}
		return nil
	}, WithSubscriptionMiddleware(Logging(logger)))
	require.NoError(t, err)

	ctx := testCtx(t)
	require.NoError(t, topic.PublishSync(ctx, false))
	assert.Error(t, topic.PublishSync(ctx, true))
	recs := buf.records(t)
	require.Len(t, recs, 1)
	assert.Equal(t, "ERROR", recs[0]["level"])
	assert.EqualValues(t, 2, recs[0]["sequence"])
}

func TestLoggingNilLogger(t *testing.T) {
	errBad := errors.New("bad")
	bus := newBus(t)
	topic, err := NewTopic[bool](bus, "log.nil")
	require.NoError(t, err)
	var calls atomic.Int32
	_, err = topic.Subscribe("quiet", func(_ context.Context, e *Event[bool]) error {
		calls.Add(1)
		if e.Payload {
			return errBad
		}
		return nil
	}, WithSubscriptionMiddleware(Logging(nil)))
	require.NoError(t, err)

	ctx := testCtx(t)
	assert.NoError(t, topic.PublishSync(ctx, false))
	assert.ErrorIs(t, topic.PublishSync(ctx, true), errBad)
	assert.EqualValues(t, 2, calls.Load())
}

func TestLoggingInsideRetryLogsEveryAttempt(t *testing.T) {
	logger, buf := jsonLogger(slog.LevelDebug)
	bus := newBus(t)
	topic, err := NewTopic[int](bus, "log.retry")
	require.NoError(t, err)
	var calls atomic.Int32
	_, err = topic.Subscribe("retried", func(context.Context, *Event[int]) error {
		if calls.Add(1) < 3 {
			return errFlaky
		}
		return nil
	}, WithSubscriptionMiddleware(newRetry(t, RetryPolicy{MaxAttempts: 3, InitialInterval: msec}), Logging(logger)))
	require.NoError(t, err)

	require.NoError(t, topic.PublishSync(testCtx(t), 7))
	recs := buf.records(t)
	require.Len(t, recs, 3)
	for i, want := range []struct {
		level, msg string
	}{{"ERROR", msgFailed}, {"ERROR", msgFailed}, {"DEBUG", msgHandled}} {
		assert.Equal(t, want.level, recs[i]["level"], "record %d", i)
		assert.Equal(t, want.msg, recs[i]["msg"], "record %d", i)
		assert.EqualValues(t, i+1, recs[i]["attempt"], "record %d", i)
		assert.Equal(t, recs[0]["event_id"], recs[i]["event_id"], "record %d", i)
	}
	assert.Equal(t, errFlaky.Error(), recs[0]["error"])
}

func TestLoggingOutsideRetryLogsTheOutcome(t *testing.T) {
	logger, buf := jsonLogger(slog.LevelDebug)
	bus := newBus(t)
	topic, err := NewTopic[int](bus, "log.outcome")
	require.NoError(t, err)
	_, err = topic.Subscribe("retried", func(context.Context, *Event[int]) error {
		return errFlaky
	}, WithSubscriptionMiddleware(Logging(logger), newRetry(t, RetryPolicy{MaxAttempts: 3, InitialInterval: msec})))
	require.NoError(t, err)

	assert.ErrorIs(t, topic.PublishSync(testCtx(t), 7), errFlaky)
	recs := buf.records(t)
	require.Len(t, recs, 1)
	assert.Equal(t, "ERROR", recs[0]["level"])
	assert.EqualValues(t, 3, recs[0]["attempt"], "the final attempt number")
}
