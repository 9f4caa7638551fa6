package kafka

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/busline/eventbus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPerKeyOrderAcrossProcesses: the events of a key are handled in
// publish order by a group whose second process joins mid-stream, taking
// partitions over from the first.
func TestPerKeyOrderAcrossProcesses(t *testing.T) {
	c := startCluster(t)
	type handled struct {
		key string
		n   int
	}
	var (
		mu  sync.Mutex
		log []handled
	)
	all := make(chan struct{})
	const keys, perKey = 8, 40
	handler := func(_ context.Context, e *eventbus.Event[int]) error {
		mu.Lock()
		defer mu.Unlock()
		log = append(log, handled{e.Key, e.Payload})
		if len(log) == keys*perKey {
			close(all)
		}
		return nil
	}
	newBus := func() *eventbus.Topic[int] {
		b, err := eventbus.New(eventbus.WithTransport(c.connect(t, WithPartitions(4))))
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, b.Close(testCtx(t, waitLong))) })
		tp, err := eventbus.NewTopic[int](b, "orders")
		require.NoError(t, err)
		return tp
	}
	first := newBus()
	_, err := first.Subscribe("workers", handler, eventbus.WithConcurrency(4))
	require.NoError(t, err)
	for i := range keys * perKey {
		if i == keys*perKey/2 {
			_, err := newBus().Subscribe("workers", handler, eventbus.WithConcurrency(4))
			require.NoError(t, err)
		}
		require.NoError(t, first.Publish(testCtx(t, waitLong), i, eventbus.WithKey(fmt.Sprintf("k%d", i%keys))))
	}
	select {
	case <-all:
	case <-testCtx(t, waitLong).Done():
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%d of %d events handled", len(log), keys*perKey)
	}
	mu.Lock()
	defer mu.Unlock()
	last := map[string]int{}
	for _, h := range log {
		if prev, ok := last[h.key]; ok && h.n <= prev {
			t.Fatalf("key %s: event %d handled after %d", h.key, h.n, prev)
		}
		last[h.key] = h.n
	}
}
