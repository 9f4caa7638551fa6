package eventbusotel_test

import (
	"context"
	"testing"
	"time"

	natstransport "github.com/busline/eventbus/transport/nats"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
)

// startNATS starts a NATS server with JetStream inside the test process,
// on a free port of 127.0.0.1, shut down when the test ends.
func startNATS(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	})
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	require.True(t, s.ReadyForConnections(10*time.Second), "NATS server ready")
	return s
}

// connectNATS returns a transport with opts over a connection of its own
// to s, closed when the test ends (after the buses made later).
func connectNATS(t *testing.T, s *server.Server, opts ...natstransport.Option) *natstransport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tr, err := natstransport.Connect(ctx, s.ClientURL(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, tr.Close(ctx))
	})
	return tr
}

// The chat's trace crosses a real broker: the chat service and the
// workers each have their own connection to a NATS server, and the trace
// context travels in the CloudEvents document stored in JetStream.
func TestTraceFollowsAChainThroughNATS(t *testing.T) {
	s := startNATS(t)
	c := newChat(t, connectNATS(t, s), connectNATS(t, s), nil)
	requireChainTraced(t, c)
}

// In CloudEvents binary content mode the trace context travels in the
// ce-traceparent and ce-tracestate headers: the service publishes in
// binary mode, the workers in structured mode, and the trace is whole.
func TestTraceFollowsAChainThroughNATSInBinaryMode(t *testing.T) {
	s := startNATS(t)
	c := newChat(t, connectNATS(t, s, natstransport.WithBinaryMode()), connectNATS(t, s), nil)
	requireChainTraced(t, c)
}
