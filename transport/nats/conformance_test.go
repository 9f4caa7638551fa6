package nats

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/eventbustest"
	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

func runConformance(t *testing.T, shared bool) {
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
	opts := []Option{WithAckWait(5 * time.Second), WithReconnectWait(50 * time.Millisecond)}
	discard := func(t *testing.T, topic string, before uint64) { purgeBefore(t, current(), topic, before) }
	if shared {
		opts = append(opts, WithSharedStream(conformanceStream))
		// The stream's limits would discard the oldest messages of every
		// topic, the stream's positions being shared.
		discard = func(t *testing.T, _ string, before uint64) { purgeSharedBefore(t, current(), before) }
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

// purgeSharedBefore removes from the conformance's shared stream on s its
// messages at sequences below before, of every topic.
func purgeSharedBefore(tb testing.TB, s *server.Server, before uint64) {
	tb.Helper()
	nc, err := natsgo.Connect(s.ClientURL())
	if err != nil {
		tb.Fatalf("connect to purge: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	ctx := testCtx(tb, 10*time.Second)
	stream, err := js.Stream(ctx, conformanceStream)
	if err != nil {
		tb.Fatalf("look up the shared stream: %v", err)
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSequence(before)); err != nil {
		tb.Fatalf("purge the shared stream before %d: %v", before, err)
	}
}
