package nats

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/eventbustest"
	"github.com/nats-io/nats-server/v2/server"
)

// conformanceStream is the shared stream of TestConformanceSharedStream.
const conformanceStream = "conformance"

// TestConformance runs the core's transport conformance suite against a
// NATS server with JetStream embedded in the test process, in the default
// layout (one stream per topic); its restart shuts the server down and
// starts it again on the same port and store.
func TestConformance(t *testing.T) {
	runConformance(t, false)
}

// TestConformanceSharedStream runs the suite with every topic in one
// stream (WithSharedStream), the layout that takes pattern subscriptions,
// with the suite's pattern cases.
func TestConformanceSharedStream(t *testing.T) {
	runConformance(t, true)
}

// TestConformanceBinaryMode runs the suite with events written in
// CloudEvents binary content mode (WithBinaryMode), in the default layout.
func TestConformanceBinaryMode(t *testing.T) {
	runConformance(t, false, WithBinaryMode())
}

func runConformance(t *testing.T, shared bool, extra ...Option) {
	outer := t
	dir := t.TempDir()
	var mu sync.Mutex
	srv := startServer(t, dir, -1)
	port := serverPort(t, srv)
	current := func() *server.Server {
		mu.Lock()
		defer mu.Unlock()
		return srv
	}
	opts := append([]Option{WithAckWait(5 * time.Second), WithReconnectWait(50 * time.Millisecond)}, extra...)
	discard := func(t *testing.T, topic string, before uint64) { purgeBefore(t, current(), topic, before) }
	if shared {
		opts = append(opts, WithSharedStream(conformanceStream))
		// The stream's limits would discard the oldest messages of every
		// topic, the stream's positions being shared.
		discard = func(t *testing.T, _ string, before uint64) {
			purgeStreamBefore(t, current(), conformanceStream, before)
		}
	}
	eventbustest.Run(t, eventbustest.Harness{
		Connect: func(t *testing.T) (eventbus.Transport, func()) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tr, err := Connect(ctx, current().ClientURL(), opts...)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			return tr, func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := tr.Close(ctx); err != nil {
					t.Errorf("close transport: %v", err)
				}
			}
		},
		Discard:        discard,
		Patterns:       shared,
		ServerPackages: []string{"github.com/nats-io/nats-server/"},
		Restart: func(*testing.T) {
			mu.Lock()
			defer mu.Unlock()
			stopServer(srv)
			// The new server must outlive the subtest that restarts it.
			srv = startServer(outer, dir, port)
		},
	})
}
