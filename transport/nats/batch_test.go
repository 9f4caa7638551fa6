package nats

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchOf returns n messages for topic, with fresh IDs and the bodies
// "0", "1", ...
func batchOf(topic string, n int) []eventbus.OutgoingMessage {
	ms := make([]eventbus.OutgoingMessage, n)
	for i := range ms {
		ms[i] = eventbus.OutgoingMessage{Topic: topic, ID: uuid.New(), Data: []byte(fmt.Sprint(i))}
	}
	return ms
}

// storedBodies returns the bodies of the messages that the stream of topic
// holds, in the stream's order.
func storedBodies(t *testing.T, tr *Transport, topic string) []string {
	t.Helper()
	ctx := testCtx(t, waitLong)
	st, err := tr.js.Stream(ctx, streamNameFor(subjectFor(DefaultSubjectPrefix, topic)))
	require.NoError(t, err)
	info, err := st.Info(ctx)
	require.NoError(t, err)
	var out []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		require.NoError(t, err)
		out = append(out, string(m.Data))
	}
	return out
}

// bodies returns "from", ..., "to-1".
func bodies(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	return out
}

func batchErr(t *testing.T, err error) *eventbus.BatchError {
	t.Helper()
	require.Error(t, err)
	be, ok := errors.AsType[*eventbus.BatchError](err)
	require.True(t, ok, "error %v is not a *eventbus.BatchError", err)
	assert.ErrorIs(t, err, eventbus.ErrTransport)
	return be
}

func TestPublishBatchStoresInOrder(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []Option
	}{
		{"default", nil},
		{"binary mode", []Option{WithBinaryMode()}},
		{"without deduplication", []Option{WithoutDeduplication()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t, t.TempDir(), -1)
			tr := connect(t, s, c.opts...)
			require.NoError(t, tr.PublishBatch(testCtx(t, waitLong), batchOf("t", 20)))
			assert.Equal(t, bodies(0, 20), storedBodies(t, tr, "t"))
			require.NoError(t, tr.PublishBatch(testCtx(t, waitLong), nil), "an empty batch")
		})
	}
}

// A batch many times larger than the limit of messages awaiting their
// acknowledgement goes through, in order, without a stall or an error;
// two of them at once share the limit.
func TestPublishBatchLargerThanPendingLimit(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s, WithMaxPendingPublishes(4))
	const n = 500
	require.NoError(t, tr.PublishBatch(testCtx(t, waitLong), batchOf("t", n)))
	assert.Equal(t, bodies(0, n), storedBodies(t, tr, "t"))

	errs := make(chan error, 2)
	for _, topic := range []string{"a", "b"} {
		go func() { errs <- tr.PublishBatch(testCtx(t, waitLong), batchOf(topic, n)) }()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	assert.Equal(t, bodies(0, n), storedBodies(t, tr, "a"))
	assert.Equal(t, bodies(0, n), storedBodies(t, tr, "b"))
}

// When ctx ends midway, the messages acknowledged before are stored and
// the others are listed as failed, with ctx's error.
func TestPublishBatchContextEndsMidway(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s, WithMaxPendingPublishes(8))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n, at = 100, 50
	tr.beforeSend = func(i int) {
		if i != at {
			return
		}
		// Every message before this one acknowledged, then ctx ends.
		waitFor(t, tr.async.PublishAsyncComplete(), "the acknowledgements of the first messages")
		cancel()
	}
	err := tr.PublishBatch(ctx, batchOf("t", n))
	be := batchErr(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, "t", be.Topic)
	want := make([]int, 0, n-at)
	for i := at; i < n; i++ {
		want = append(want, i)
	}
	assert.Equal(t, want, be.Failed)
	assert.Equal(t, bodies(0, at), storedBodies(t, tr, "t"))
}

// With the server gone, nothing is acknowledged: the batch ends with ctx,
// listing every message.
func TestPublishBatchServerStopped(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	publish(t, tr, "t", "before") // the stream is set up
	stopServer(s)

	start := time.Now()
	err := tr.PublishBatch(testCtx(t, 300*time.Millisecond), batchOf("t", 10))
	be := batchErr(t, err)
	assert.Equal(t, indexes(10), be.Failed)
	assert.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrJetStream), "error %v", err)
	assert.Less(t, time.Since(start), 5*time.Second)
}

// A batch waiting for acknowledgements that will never come ends when the
// connection is closed, and a batch on a closed Transport sends nothing.
func TestPublishBatchClosed(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	publish(t, tr, "t", "before")
	stopServer(s)
	const n = 10
	tr.beforeSend = func(i int) {
		if i == n-1 {
			require.NoError(t, tr.Close(testCtx(t, waitLong)))
		}
	}
	err := tr.PublishBatch(testCtx(t, waitLong), batchOf("t", n))
	be := batchErr(t, err)
	assert.ErrorIs(t, err, eventbus.ErrBrokerClosed)
	assert.Equal(t, indexes(n), be.Failed)

	err = tr.PublishBatch(testCtx(t, waitLong), batchOf("t", 3))
	be = batchErr(t, err)
	assert.ErrorIs(t, err, eventbus.ErrBrokerClosed)
	assert.Equal(t, indexes(3), be.Failed)
}

func TestPublishBatchDeduplicatesByID(t *testing.T) {
	for _, c := range []struct {
		name   string
		opts   []Option
		stored uint64
	}{
		{"default", nil, 1},
		{"binary mode", []Option{WithBinaryMode()}, 1},
		{"without deduplication", []Option{WithoutDeduplication()}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t, t.TempDir(), -1)
			tr := connect(t, s, c.opts...)
			const n = 30
			ms := batchOf("t", n)
			require.NoError(t, tr.PublishBatch(testCtx(t, waitLong), ms))
			require.NoError(t, tr.PublishBatch(testCtx(t, waitLong), ms))
			st, err := tr.js.Stream(testCtx(t, waitLong), streamNameFor("eventbus.t"))
			require.NoError(t, err)
			assert.Equal(t, c.stored*n, st.CachedInfo().State.Msgs)
		})
	}
}

func TestPublishBatchRecreatesDeletedStream(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	require.NoError(t, tr.PublishBatch(testCtx(t, waitLong), batchOf("t", 5)))
	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	require.NoError(t, js.DeleteStream(testCtx(t, waitLong), streamNameFor("eventbus.t")))
	require.NoError(t, tr.PublishBatch(testCtx(t, waitLong), batchOf("t", 7)))
	assert.Equal(t, bodies(0, 7), storedBodies(t, tr, "t"))
}

func TestPublishBatchRejectsBadInput(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	ms := batchOf("t", 3)
	ms[1].Topic = "bad topic"
	err := tr.PublishBatch(testCtx(t, waitLong), ms)
	be := batchErr(t, err)
	assert.ErrorIs(t, err, eventbus.ErrInvalidTopic)
	assert.Equal(t, indexes(3), be.Failed)
	assert.Empty(t, be.Topic, "a batch of several topics")

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	err = tr.PublishBatch(ended, batchOf("t", 3))
	batchErr(t, err)
	assert.ErrorIs(t, err, context.Canceled)
}
