package main

import (
	"bytes"
	"context"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/busline/eventbus/transport/rabbitmq/rabbitmqtest"
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
	testServiceAndWorkers(t, broker{kind: brokerNATS, addr: srv.ClientURL()})
}

// TestServiceAndWorkersOverKafka runs both halves of the demo against an
// embedded Kafka cluster, each with its own transport and bus as if in its
// own process.
func TestServiceAndWorkersOverKafka(t *testing.T) {
	cluster, err := startKafka("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	testServiceAndWorkers(t, broker{kind: brokerKafka, addr: cluster.ListenAddrs()[0]})
}

// TestServiceAndWorkersOverRedis runs both halves of the demo against a
// redis-server child process, each with its own transport and bus as if in
// its own process.
func TestServiceAndWorkersOverRedis(t *testing.T) {
	srv, err := startRedis("redis://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	testServiceAndWorkers(t, broker{kind: brokerRedis, addr: srv.url})
}

// TestServiceAndWorkersOverRabbitMQ runs both halves of the demo against a
// RabbitMQ node of the test's own, each with its own transport and bus as
// if in its own process.
func TestServiceAndWorkersOverRabbitMQ(t *testing.T) {
	node, err := rabbitmqtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := node.Close(); err != nil {
			t.Errorf("close the RabbitMQ node: %v", err)
		}
	}()
	testServiceAndWorkers(t, broker{kind: brokerRabbitMQ, addr: node.URL()})
}

// Without redis-server on the PATH, starting the embedded Redis fails with
// the command that installs it.
func TestStartRedisWithoutServerNamesInstallCommand(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	srv, err := startRedis("redis://127.0.0.1:0")
	if err == nil {
		srv.stop()
		t.Fatal("startRedis succeeded without redis-server on the PATH")
	}
	if !strings.Contains(err.Error(), redisInstallCommand) {
		t.Errorf("error %q does not name %q", err, redisInstallCommand)
	}
}

// testServiceAndWorkers runs the workers, then the service, against the
// broker b, and checks what each wrote.
func testServiceAndWorkers(t *testing.T, b broker) {
	workersOut := &watchWriter{want: "[workers] " + readyLine, found: make(chan struct{})}
	ready := workersOut.found
	ctx, stopWorkers := context.WithCancel(context.Background())
	defer stopWorkers()
	done := make(chan struct{})
	workersErr := make(chan error, 1)
	go func() { workersErr <- runWorkers(ctx, b, workersOut, done) }()
	select {
	case <-ready:
	case err := <-workersErr:
		t.Fatalf("workers: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("workers not ready")
	}

	var serviceOut bytes.Buffer
	if err := runServiceProcess(context.Background(), b, &serviceOut); err != nil {
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
	everyLineStartsWith(t, service, "[service] ")
	everyLineStartsWith(t, workers, "[workers] ")
	for _, want := range []string{
		"[service] publishing 7 messages\n",
		"[service] [conv-1001] alice: Hi! My order #4411 still hasn't arrived.\n",
		"[service] [conv-1003] AI assistant: Refunds reach your account within 5 business days.\n",
		"[service] all 5 AI replies received\n",
	} {
		if !strings.Contains(service, want) {
			t.Errorf("service output lacks %q:\n%s", want, service)
		}
	}
	// Every reply answers a root message: its link names the message once.
	links := regexp.MustCompile(`(?m)^\[service\] +(caused by .*)$`).FindAllStringSubmatch(service, -1)
	rootLink := regexp.MustCompile(`^caused by root event [0-9a-f-]{36}, whose ID is the chain's correlation ID$`)
	if len(links) != 5 {
		t.Errorf("want a link under each of the 5 replies, got %d:\n%s", len(links), service)
	}
	for _, l := range links {
		if !rootLink.MatchString(l[1]) {
			t.Errorf("link %q does not name its root event once", l[1])
		}
	}
	for _, want := range []string{
		"[workers] analytics: conv-1001 has 1 message\n",
		"[workers] analytics: conv-1001 has 3 messages\n",
		"[workers] analytics: conv-1001: 3 messages in all\n",
		"[workers] analytics: conv-1002: 2 messages in all\n",
		"[workers] analytics: conv-1003: 2 messages in all\n",
		"failed: push gateway unavailable\n",
		`[workers] ops-inbox: dead letter from ai-responder after 1 delivery: ai-responder cannot read attachment "statement.pdf"` + "\n",
	} {
		if !strings.Contains(workers, want) {
			t.Errorf("workers output lacks %q:\n%s", want, workers)
		}
	}

	// The gateway fails twice: either two notifications fail once each or
	// one fails twice, and the broker delivers them again.
	redelivered := regexp.MustCompile(`(?m)^\[workers\] notification: \w+ alerted about \w+'s message on delivery [23]$`)
	if !redelivered.MatchString(workers) {
		t.Errorf("workers output lacks a notification sent on a redelivery:\n%s", workers)
	}

	// The replies of a conversation arrive in the order of the messages
	// they answer: every event is published with its conversation as the
	// ordering key.
	want := map[string][]string{}
	for _, m := range script {
		if !m.FromAgent && m.Attachment == "" {
			want[m.ConversationID] = append(want[m.ConversationID], cannedReply(m.Text))
		}
	}
	got := map[string][]string{}
	for _, r := range regexp.MustCompile(`(?m)^\[service\] \[(conv-\d+)\] AI assistant: (.*)$`).FindAllStringSubmatch(service, -1) {
		got[r[1]] = append(got[r[1]], r[2])
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("AI replies by conversation %q, want %q", got, want)
	}

	// Each process ends with the stats of its bus.
	endsWith(t, "service", service, ""+
		"[service] Delivery stats\n"+
		"[service] TOPIC               SUBSCRIBER    ENQUEUED  DELIVERED  FAILED  RETRIED  DEAD-LETTERED  DROPPED  PENDING\n"+
		"[service] ai.reply.generated  chat-service  5         5          0       0        0              0        0\n"+
		"[service] TOTAL                             5         5          0       0        0              0        0\n"+
		"[service] Published 7 events on 2 topics.\n")
	// Over a broker the counts are of deliveries: notification failed its
	// first two, which the broker delivered again.
	endsWith(t, "workers", workers, ""+
		"[workers] Delivery stats\n"+
		"[workers] TOPIC         SUBSCRIBER    ENQUEUED  DELIVERED  FAILED  RETRIED  DEAD-LETTERED  DROPPED  PENDING\n"+
		"[workers] deadletter    ops-inbox     1         1          0       0        0              0        0\n"+
		"[workers] message.sent  ai-responder  7         6          0       0        1              0        0\n"+
		"[workers] message.sent  analytics     7         7          0       0        0              0        0\n"+
		"[workers] message.sent  notification  9         7          2       0        0              0        0\n"+
		"[workers] TOTAL                       24        21         2       0        1              0        0\n"+
		"[workers] Published 6 events on 3 topics.\n")
}

func everyLineStartsWith(t *testing.T, text, prefix string) {
	t.Helper()
	for _, line := range strings.SplitAfter(text, "\n") {
		if line != "" && !strings.HasPrefix(line, prefix) {
			t.Errorf("line %q does not start with %q", line, prefix)
		}
	}
}

func endsWith(t *testing.T, what, text, suffix string) {
	t.Helper()
	if !strings.HasSuffix(text, suffix) {
		t.Errorf("%s output does not end with\n%s\nit is:\n%s", what, suffix, text)
	}
}

// A line reaches the writer under a roleWriter whole, with its prefix,
// however it was split into writes.
func TestRoleWriterWritesWholePrefixedLines(t *testing.T) {
	var writes []string
	r := newRoleWriter(writerFunc(func(p []byte) (int, error) {
		writes = append(writes, string(p))
		return len(p), nil
	}), "workers")
	for _, p := range []string{"one", " line\ntwo\nthr", "ee", "\n"} {
		n, err := io.WriteString(r, p)
		if err != nil || n != len(p) {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	want := []string{"[workers] one line\n", "[workers] two\n", "[workers] three\n"}
	if !slices.Equal(writes, want) {
		t.Errorf("writes %q, want %q", writes, want)
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
