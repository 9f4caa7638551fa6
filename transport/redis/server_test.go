package redis

import (
	"bufio"
	"context"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// installCommand installs the server the tests start.
const installCommand = "apt-get install -y --no-install-recommends redis-server"

// serverStartTimeout bounds how long a test waits for redis-server to
// accept connections.
const serverStartTimeout = 15 * time.Second

// server is a redis-server child process on 127.0.0.1, with its data in a
// temp dir, append-only with an fsync per write (appendfsync always) and
// no snapshots: what it acknowledged survives a kill.
type server struct {
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	eof  chan struct{} // the log reader is done
	logs *strings.Builder
}

// startServer starts redis-server on a free port, stopped when the test
// ends. The test fails, with the command that installs it, if the binary
// is missing.
func startServer(tb testing.TB) *server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server is not installed; install it (as root) with: %s", installCommand)
	}
	s := &server{bin: bin, dir: tb.TempDir(), port: freePort(tb)}
	s.start(tb)
	tb.Cleanup(s.stop)
	return s
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// URL returns the server's URL.
func (s *server) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) }

// start starts the process and waits until its log says it accepts
// connections.
func (s *server) start(tb testing.TB) {
	tb.Helper()
	cmd := exec.Command(s.bin,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--daemonize", "no", "--logfile", "", "--protected-mode", "no")
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	ready, eof := make(chan struct{}), make(chan struct{})
	logs := &strings.Builder{}
	var logMu sync.Mutex
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			logMu.Lock()
			logs.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if !signalled && strings.Contains(sc.Text(), "Ready to accept connections") {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	s.mu.Lock()
	s.cmd, s.eof, s.logs = cmd, eof, logs
	s.mu.Unlock()
	timer := time.NewTimer(serverStartTimeout)
	defer timer.Stop()
	select {
	case <-ready:
	case <-eof:
		_ = cmd.Wait()
		logMu.Lock()
		defer logMu.Unlock()
		tb.Fatalf("redis-server on port %d exited at start:\n%s", s.port, logs.String())
	case <-timer.C:
		s.stop()
		tb.Fatalf("redis-server on port %d not ready within %v", s.port, serverStartTimeout)
	}
}

// stop kills the process, as a crash would, and waits until it is gone;
// it may be called again.
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.eof
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart kills the server and starts it again on the same port and data.
func (s *server) Restart(tb testing.TB) {
	tb.Helper()
	s.stop()
	s.start(tb)
}

// client returns a plain go-redis client of s, closed when the test ends.
func (s *server) client(tb testing.TB) *goredis.Client {
	tb.Helper()
	opts, err := goredis.ParseURL(s.URL())
	if err != nil {
		tb.Fatal(err)
	}
	c := goredis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// testCtx returns a ctx that bounds one step of a test.
func testCtx(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// connect returns a Transport to s, closed when the test ends.
func connect(tb testing.TB, s *server, opts ...Option) *Transport {
	tb.Helper()
	t, err := Connect(testCtx(tb, 10*time.Second), s.URL(), append(testOptions(), opts...)...)
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

// testOptions are the options of the tests' transports: an ack timeout
// short enough for the tests that wait for it, and quick claims.
func testOptions() []Option {
	return []Option{WithAckTimeout(3 * time.Second), WithClaimInterval(50 * time.Millisecond)}
}

// discard removes the entries of topic's stream (under the default key
// prefix) at positions below before.
func (s *server) discard(tb testing.TB, topic string, before uint64) {
	tb.Helper()
	if err := s.client(tb).XTrimMinID(testCtx(tb, 10*time.Second), streamKey(DefaultKeyPrefix, topic), idAt(before).String()).Err(); err != nil {
		tb.Fatalf("trim %s before %d: %v", topic, before, err)
	}
}
