package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// watchWriter collects output and signals when a line has appeared.
type watchWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	found chan struct{}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.found != nil && strings.Contains(w.buf.String(), w.want+"\n") {
		close(w.found)
		w.found = nil
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestServiceAndWorkersOverNATS runs both halves of the demo against an
// embedded NATS server, each with its own connection and bus as if in its
// own process.
func TestServiceAndWorkersOverNATS(t *testing.T) {
	srv, err := startNATS("nats://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.shutdown()
	url := srv.ClientURL()

	workersOut := &watchWriter{want: readyLine, found: make(chan struct{})}
	ready := workersOut.found
	ctx, stopWorkers := context.WithCancel(context.Background())
	defer stopWorkers()
	done := make(chan struct{})
	workersErr := make(chan error, 1)
	go func() { workersErr <- runWorkers(ctx, url, workersOut, done) }()
	select {
	case <-ready:
	case err := <-workersErr:
		t.Fatalf("workers: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("workers not ready")
	}

	var serviceOut bytes.Buffer
	err = withBus(context.Background(), url, "/chat-service", func(bus *eventbus.Bus) error {
		return runService(context.Background(), bus, &serviceOut)
	})
	if err != nil {
		t.Fatalf("service: %v\n%s", err, serviceOut.String())
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("workers did not handle every event:\n%s", workersOut.String())
	}
	stopWorkers()
	if err := <-workersErr; err != nil {
		t.Fatalf("workers: %v", err)
	}

	service, workers := serviceOut.String(), workersOut.String()
	for _, want := range []string{
		"chat-service: all 5 AI replies received",
		"[conv-1003] AI assistant: Refunds reach your account within 5 business days.",
	} {
		if !strings.Contains(service, want) {
			t.Errorf("service output lacks %q:\n%s", want, service)
		}
	}
	for _, want := range []string{
		"analytics: conv-1001: 3 message(s)",
		"analytics: conv-1002: 2 message(s)",
		"analytics: conv-1003: 2 message(s)",
		"failed: push gateway unavailable",
		"on delivery 2", // the broker redelivered a failed notification
		`ops-inbox: dead letter from ai-responder after 1 delivery(ies): ai-responder cannot read attachment "statement.pdf"`,
	} {
		if !strings.Contains(workers, want) {
			t.Errorf("workers output lacks %q:\n%s", want, workers)
		}
	}
}
