package eventbus

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteStatsTable(t *testing.T) {
	subs := []SubscriptionStats{
		{Topic: "order.placed", Subscriber: "shipping", Enqueued: 3, Delivered: 3},
		{Topic: "deadletter", Subscriber: "ops-inbox", Enqueued: 1, Delivered: 1},
		{Topic: "order.placed", Subscriber: "billing", Enqueued: 5, Delivered: 2, Failed: 1, Retried: 4, DeadLettered: 1,
			Dropped: DropStats{Evicted: 1, QueueFull: 7}, QueueLength: 0, InFlight: 0},
		{Topic: "audit", Subscriber: "log", Enqueued: 12, Delivered: 9, QueueLength: 2, InFlight: 1},
	}
	original := append([]SubscriptionStats(nil), subs...)
	bus := BusStats{Published: 14, NoSubscribers: 2, Topics: 4, Subscriptions: 4, Totals: SubscriptionStats{
		Enqueued: 23, Delivered: 17, Failed: 1, Retried: 4, DeadLettered: 1,
		Dropped: DropStats{Evicted: 1, QueueFull: 7, Unsubscribed: 1}, QueueLength: 2, InFlight: 1,
	}}

	var out bytes.Buffer
	require.NoError(t, WriteStatsTable(&out, subs, bus))
	assert.Equal(t, ""+
		"TOPIC         SUBSCRIBER  ENQUEUED  DELIVERED  FAILED  RETRIED  DEAD-LETTERED  DROPPED  PENDING\n"+
		"audit         log         12        9          0       0        0              0        3\n"+
		"deadletter    ops-inbox   1         1          0       0        0              0        0\n"+
		"order.placed  billing     5         2          1       4        1              8        0\n"+
		"order.placed  shipping    3         3          0       0        0              0        0\n"+
		"TOTAL                     23        17         1       4        1              9        3\n"+
		"Published 14 events on 4 topics (2 with no subscriber).\n",
		out.String())
	assert.Equal(t, original, subs, "the caller's slice keeps its order")
}

func TestWriteStatsTableWithoutSubscriptions(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, WriteStatsTable(&out, nil, BusStats{Published: 1, Topics: 1}))
	assert.Equal(t, ""+
		"TOPIC  SUBSCRIBER  ENQUEUED  DELIVERED  FAILED  RETRIED  DEAD-LETTERED  DROPPED  PENDING\n"+
		"TOTAL              0         0          0       0        0              0        0\n"+
		"Published 1 event on 1 topic.\n",
		out.String())
}

// failingWriter accepts limit bytes, then fails every write.
type failingWriter struct {
	limit int
	err   error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n := w.limit
		w.limit = 0
		return n, w.err
	}
	w.limit -= len(p)
	return len(p), nil
}

func TestWriteStatsTableReturnsTheWritersError(t *testing.T) {
	subs := []SubscriptionStats{{Topic: "orders", Subscriber: "billing", Enqueued: 1, Delivered: 1}}
	bus := BusStats{Published: 1, Topics: 1, Totals: subs[0]}
	var full bytes.Buffer
	require.NoError(t, WriteStatsTable(&full, subs, bus))

	errFull := errors.New("disk full")
	// Fail in the table, and in the line after it.
	for _, limit := range []int{0, 10, full.Len() - 3} {
		err := WriteStatsTable(&failingWriter{limit: limit, err: errFull}, subs, bus)
		assert.ErrorIs(t, err, errFull, "writer failing after %d bytes", limit)
	}
}
