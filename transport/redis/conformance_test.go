package redis

import (
	"context"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/eventbustest"
)

// TestConformance runs the core's transport conformance suite against a
// redis-server child process (see server_test.go). Its restart kills the
// server and starts it again on the same port and data directory; the
// server's append-only file, fsynced on every write, holds everything it
// acknowledged. Discard trims the topic's stream (XTRIM MINID).
func TestConformance(t *testing.T) {
	runConformance(t)
}

// TestConformanceBinaryMode runs the suite with events written in
// CloudEvents binary content mode (WithBinaryMode).
func TestConformanceBinaryMode(t *testing.T) {
	runConformance(t, WithBinaryMode())
}

func runConformance(t *testing.T, extra ...Option) {
	s := startServer(t)
	eventbustest.Run(t, eventbustest.Harness{
		Connect: func(t *testing.T) (eventbus.Transport, func()) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tr, err := Connect(ctx, s.URL(), append(testOptions(), extra...)...)
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
		Restart: func(t *testing.T) { s.Restart(t) },
		Discard: func(t *testing.T, topic string, before uint64) { s.discard(t, topic, before) },
		Timeout: 20 * time.Second,
	})
}
