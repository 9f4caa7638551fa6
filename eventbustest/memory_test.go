package eventbustest_test

import (
	"testing"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/eventbustest"
	"github.com/busline/eventbus/transport/memory"
)

// TestMemoryBroker runs the suite against the core's in-process broker, so
// that the suite itself is tested without a real broker.
func TestMemoryBroker(t *testing.T) {
	broker := memory.NewBroker()
	t.Cleanup(func() {
		if err := broker.Close(); err != nil {
			t.Errorf("closing the broker: %v", err)
		}
	})
	eventbustest.Run(t, eventbustest.Harness{
		// Every "process" shares the broker, as connections to a real one
		// would; closing a connection is a no-op.
		Connect: func(*testing.T) (eventbus.Transport, func()) { return broker, func() {} },
		Restart: func(*testing.T) { broker.Restart() },
		Discard: func(_ *testing.T, topic string, before uint64) { broker.DiscardBefore(topic, before) },
	})
}
