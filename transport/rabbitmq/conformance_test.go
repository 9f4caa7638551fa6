package rabbitmq

import (
	"context"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/eventbustest"
)

// testOptions are the options of the tests' transports: quick reconnects.
var testOptions = []Option{WithReconnectWait(20*time.Millisecond, 500*time.Millisecond)}

// TestConformance runs the core's transport conformance suite, pattern
// cases included, against the test binary's RabbitMQ node; its restart
// stops the node in order (SIGTERM) and starts it again on the same port
// and data. A crash (SIGKILL) is TestCrashLosesNothingConfirmed's: in about
// one crash in 170, RabbitMQ 3.10 confirmed events published in the first
// moments after the restart and never delivered them (see the package
// documentation), which would make the suite's restart case fail at
// random.
func TestConformance(t *testing.T) {
	runConformance(t)
}

// TestConformanceBinaryMode runs the suite with events written in
// CloudEvents binary content mode (WithBinaryMode).
func TestConformanceBinaryMode(t *testing.T) {
	runConformance(t, WithBinaryMode())
}

func runConformance(t *testing.T, extra ...Option) {
	eventbustest.Run(t, eventbustest.Harness{
		Connect: func(t *testing.T) (eventbus.Transport, func()) {
			tr := dial(t, extra...)
			return tr, func() { closeTransport(t, tr) }
		},
		Restart: func(t *testing.T) {
			if err := testNode.Restart(); err != nil {
				t.Fatalf("restart the node: %v", err)
			}
		},
		Patterns: true,
	})
}

// dial returns a new Transport to the test node, which the caller closes.
func dial(tb testing.TB, opts ...Option) *Transport {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := Connect(ctx, testNode.URL(), append(append([]Option(nil), testOptions...), opts...)...)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	return tr
}

// connect returns a new Transport to the test node, closed when the test
// ends.
func connect(tb testing.TB, opts ...Option) *Transport {
	tb.Helper()
	tr := dial(tb, opts...)
	tb.Cleanup(func() { closeTransport(tb, tr) })
	return tr
}

func closeTransport(tb testing.TB, tr *Transport) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := tr.Close(ctx); err != nil {
		tb.Errorf("close transport: %v", err)
	}
}
