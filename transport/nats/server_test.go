package nats

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// serverStartTimeout bounds how long a test waits for an embedded server.
const serverStartTimeout = 10 * time.Second

// startServer starts an embedded NATS server with JetStream on 127.0.0.1,
// keeping its streams in dir, and waits until it accepts connections. A
// port of -1 picks a free one; pass a previous server's port and dir to
// restart it. The server is shut down when the test ends, if not before.
func startServer(tb testing.TB, dir string, port int) *server.Server {
	tb.Helper()
	return runServer(tb, &server.Options{
		Host:      "127.0.0.1",
		Port:      port,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	})
}

// startPlainServer starts an embedded NATS server without JetStream.
func startPlainServer(tb testing.TB) *server.Server {
	tb.Helper()
	return runServer(tb, &server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
}

func runServer(tb testing.TB, opts *server.Options) *server.Server {
	tb.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		tb.Fatalf("new server: %v", err)
	}
	s.Start()
	tb.Cleanup(func() { stopServer(s) })
	if !s.ReadyForConnections(serverStartTimeout) {
		tb.Fatalf("server on port %d not ready within %v", opts.Port, serverStartTimeout)
	}
	return s
}

// stopServer shuts s down and waits until it is gone; it may be called again.
func stopServer(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// serverPort returns the port that s listens on.
func serverPort(tb testing.TB, s *server.Server) int {
	tb.Helper()
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		tb.Fatalf("server address %v is not TCP", s.Addr())
	}
	return addr.Port
}

// testCtx returns a ctx that bounds one step of a test.
func testCtx(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// connect returns a Transport over a new connection to s, closed when the
// test ends.
func connect(tb testing.TB, s *server.Server, opts ...Option) *Transport {
	tb.Helper()
	t, err := Connect(testCtx(tb, 10*time.Second), s.ClientURL(), opts...)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := t.Close(ctx); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return t
}

// purgeBefore removes from the stream of topic (under the default subject
// prefix) on s its messages at sequences below before, through a
// connection of its own.
func purgeBefore(tb testing.TB, s *server.Server, topic string, before uint64) {
	tb.Helper()
	purgeStreamBefore(tb, s, streamNameFor(subjectFor(DefaultSubjectPrefix, topic)), before)
}

// purgeStreamBefore removes from the stream named stream on s its messages
// at sequences below before, of every subject, through a connection of
// its own.
func purgeStreamBefore(tb testing.TB, s *server.Server, stream string, before uint64) {
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
	st, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatalf("look up the stream %s: %v", stream, err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSequence(before)); err != nil {
		tb.Fatalf("purge %s before %d: %v", stream, before, err)
	}
}
