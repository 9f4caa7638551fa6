// Command chat-distributed is the chat service of examples/chat split over
// two processes that share topics through NATS JetStream.
//
// The chat service process publishes a short conversation on
// "message.sent" and shows the AI's replies. The workers process runs the
// subscribers: analytics (made effectively-once with the Idempotent
// middleware), notification (whose push gateway fails at first, so NATS
// delivers the event again after a backoff), the AI responder (which
// publishes replies on "ai.reply.generated", and whose failure on an
// attachment is dead-lettered at once) and an operations inbox reading the
// dead letters.
//
// Every line of output starts with the role of the process that wrote it,
// [service] or [workers] (or [nats] for the embedded server), and each
// process ends with the delivery stats of its own bus.
//
// Run the whole demo, an embedded NATS server and both processes, with one
// command:
//
//	go run . -role demo
//
// or each part yourself, the workers first (they create the durable
// consumer groups; events published before a group exists are not kept for
// it):
//
//	go run . -role workers -embedded   # terminal 1: NATS on 127.0.0.1:4222, and the workers
//	go run . -role service             # terminal 2: the chat service
//
// Stop the workers with Ctrl-C: they finish what they fetched and print
// their analytics and delivery stats.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/busline/eventbus"
	natstransport "github.com/busline/eventbus/transport/nats"
	"github.com/nats-io/nats-server/v2/server"
)

// Lines the workers print (after their role's prefix) that the demo waits
// for.
const (
	readyLine = "ready"
	doneLine  = "every event handled"
)

func main() {
	role := flag.String("role", "demo", "what to run: service, workers, or demo (an embedded NATS server and both processes)")
	natsURL := flag.String("nats", "nats://127.0.0.1:4222", "URL of the NATS server")
	embedded := flag.Bool("embedded", false, "start an embedded NATS server with JetStream on the -nats address, storing in a temporary directory")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *role, *natsURL, *embedded, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chat-distributed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, role, natsURL string, embedded bool, w io.Writer) error {
	// In the demo, the service and the copy of the workers' output write to
	// w from two goroutines.
	w = &lockedWriter{w: w}
	if role == "demo" {
		embedded = true
		natsURL = "nats://127.0.0.1:0" // any free port
	}
	if embedded {
		srv, err := startNATS(natsURL)
		if err != nil {
			return err
		}
		defer srv.shutdown()
		natsURL = srv.ClientURL()
		newRoleWriter(w, "nats").printf("embedded NATS server with JetStream listening on %s", natsURL)
	}
	switch role {
	case "service":
		return runServiceProcess(ctx, natsURL, w)
	case "workers":
		return runWorkers(ctx, natsURL, w, nil)
	case "demo":
		return runDemo(ctx, natsURL, w)
	}
	return fmt.Errorf("unknown role %q: want service, workers or demo", role)
}

// withBus runs fn with a bus over a NATS transport, closing both after. It
// returns the bus, closed, for its stats, or nil if it could not make one.
func withBus(ctx context.Context, natsURL, source string, fn func(*eventbus.Bus) error) (*eventbus.Bus, error) {
	tr, err := natstransport.Connect(ctx, natsURL)
	if err != nil {
		return nil, err
	}
	bus, err := eventbus.New(
		eventbus.WithTransport(tr),
		eventbus.WithSource(source),
		eventbus.WithRedelivery(eventbus.RetryPolicy{MaxAttempts: 5, InitialInterval: 50 * time.Millisecond}),
	)
	if err == nil {
		err = fn(bus)
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		err = errors.Join(err, bus.Close(closeCtx))
	}
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return bus, errors.Join(err, tr.Close(closeCtx))
}

// runServiceProcess runs the chat service on its own bus, writing lines
// that start with "[service] " to w, and ends with the bus's delivery
// stats.
func runServiceProcess(ctx context.Context, natsURL string, w io.Writer) error {
	out := newRoleWriter(w, "service")
	var subs []*eventbus.Subscription
	bus, err := withBus(ctx, natsURL, "/chat-service", func(bus *eventbus.Bus) (err error) {
		subs, err = runService(ctx, bus, out)
		return err
	})
	if bus != nil {
		err = errors.Join(err, writeStats(out, bus, subs))
	}
	return err
}

// runWorkers runs the workers until ctx ends, then drains them and prints
// their analytics and delivery stats, writing lines that start with
// "[workers] " to w. done, if not nil, is closed once every event the
// script causes has been handled.
func runWorkers(ctx context.Context, natsURL string, w io.Writer, done chan<- struct{}) error {
	wk := newWorkers(newRoleWriter(w, "workers"))
	wk.done = done
	bus, err := withBus(ctx, natsURL, "/chat-workers", func(bus *eventbus.Bus) error {
		if err := wk.subscribe(bus); err != nil {
			return err
		}
		wk.out.printf(readyLine)
		<-ctx.Done()
		wk.out.printf("stopping")
		return nil
	})
	// Close has drained the handlers: the counts are final.
	wk.printSummary()
	if bus != nil {
		err = errors.Join(err, writeStats(wk.out, bus, wk.subs))
	}
	return err
}

// writeStats writes the delivery stats of the closed bus: one row per
// subscription in subs, and the bus's totals.
func writeStats(w io.Writer, bus *eventbus.Bus, subs []*eventbus.Subscription) error {
	rows := make([]eventbus.SubscriptionStats, 0, len(subs))
	for _, s := range subs {
		rows = append(rows, s.Stats())
	}
	if _, err := fmt.Fprintln(w, "Delivery stats"); err != nil {
		return err
	}
	return eventbus.WriteStatsTable(w, rows, bus.Stats())
}

// runDemo runs the workers as a child process of this program and the chat
// service in this one. The child's lines already start with its role, and
// go to w as they are.
func runDemo(ctx context.Context, natsURL string, w io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.CommandContext(ctx, exe, "-role", "workers", "-nats", natsURL)
	child.Stderr = os.Stderr
	child.Cancel = func() error { return child.Process.Signal(os.Interrupt) }
	child.WaitDelay = 15 * time.Second
	stdout, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	ready, finished := make(chan struct{}), make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			line := lines.Text()
			fmt.Fprintln(w, line)
			switch strings.TrimPrefix(line, rolePrefix("workers")) {
			case readyLine:
				close(ready)
			case doneLine:
				close(finished)
			}
		}
	}()
	stopChild := func() error {
		_ = child.Process.Signal(os.Interrupt)
		<-copied
		return child.Wait()
	}
	select {
	case <-ready:
	case <-copied:
		return fmt.Errorf("workers exited early: %w", child.Wait())
	case <-time.After(30 * time.Second):
		return errors.Join(errors.New("workers not ready in time"), stopChild())
	}

	err = runServiceProcess(ctx, natsURL, w)
	if err == nil {
		select {
		case <-finished:
		case <-time.After(30 * time.Second):
			err = errors.New("the workers did not handle every event in time")
		}
	}
	return errors.Join(err, stopChild())
}

// embeddedNATS is a NATS server running inside this process.
type embeddedNATS struct {
	*server.Server
	storeDir string
}

// startNATS starts a NATS server with JetStream on the host and port of
// natsURL (port 0: any free port), storing in a new temporary directory.
func startNATS(natsURL string) (*embeddedNATS, error) {
	u, err := url.Parse(natsURL)
	if err != nil {
		return nil, fmt.Errorf("-nats: %w", err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return nil, fmt.Errorf("-nats %q: no port", natsURL)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	dir, err := os.MkdirTemp("", "chat-distributed-nats-")
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(&server.Options{
		Host: u.Hostname(), Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("embedded NATS server on %s did not start", natsURL)
	}
	return &embeddedNATS{Server: srv, storeDir: dir}, nil
}

func (s *embeddedNATS) shutdown() {
	s.Shutdown()
	s.WaitForShutdown()
	os.RemoveAll(s.storeDir)
}

// lockedWriter serialises the writes to w of several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// rolePrefix is what every line of the process with this role starts with.
func rolePrefix(role string) string { return "[" + role + "] " }

// roleWriter starts every line written to it with its role's prefix, and
// writes whole lines only, one Write each, so that the lines of several
// roles sharing a writer do not mix. A line is held until its newline.
// Several goroutines may use a roleWriter at once.
type roleWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	line   []byte // the line being written, after the prefix
}

func newRoleWriter(w io.Writer, role string) *roleWriter {
	return &roleWriter{w: w, prefix: rolePrefix(role)}
}

func (r *roleWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for n := 0; n < len(p); {
		if len(r.line) == 0 {
			r.line = append(r.line, r.prefix...)
		}
		i := bytes.IndexByte(p[n:], '\n')
		if i < 0 {
			r.line = append(r.line, p[n:]...)
			return len(p), nil
		}
		r.line = append(r.line, p[n:n+i+1]...)
		n += i + 1
		_, err := r.w.Write(r.line)
		r.line = r.line[:0]
		if err != nil {
			return n, err
		}
	}
	return len(p), nil
}

// printf writes one line.
func (r *roleWriter) printf(format string, args ...any) {
	fmt.Fprintf(r, format+"\n", args...)
}
