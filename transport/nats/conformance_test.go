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

// TestConformance runs the core's transport conformance suite against a
// NATS server with JetStream embedded in the test process; its restart
// shuts the server down and starts it again on the same port and store.
func TestConformance(t *testing.T) {
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
	eventbustest.Run(t, eventbustest.Harness{
		Connect: func(t *testing.T) (eventbus.Transport, func()) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tr, err := Connect(ctx, current().ClientURL(), WithAckWait(5*time.Second), WithReconnectWait(50*time.Millisecond))
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
		Discard: func(t *testing.T, topic string, before uint64) {
			purgeBefore(t, current(), topic, before)
		},
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
