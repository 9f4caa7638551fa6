// Command chat-distributed is the chat service of examples/chat split over
// two processes that share topics through a message broker: NATS JetStream
// (-broker nats, the default), Apache Kafka (-broker kafka), Redis
// Streams (-broker redis) or RabbitMQ (-broker rabbitmq).
//
// The chat service process publishes a short conversation on
// "message.sent" and shows the AI's replies. The workers process runs the
// subscribers: analytics (made effectively-once with the Idempotent
// middleware), notification (whose push gateway fails at first, so the
// broker delivers the event again after a backoff), the AI responder (which
// publishes replies on "ai.reply.generated", and whose failure on an
// attachment is dead-lettered at once) and an operations inbox reading the
// dead letters. Every event is published with its conversation as the
// ordering key, and each subscriber handles one event at a time, so the AI
// replies of a conversation reach the service in the order of the messages
// they answer.
//
// Every line of output starts with the role of the process that wrote it,
// [service] or [workers] (or [nats], [kafka], [redis] or [rabbitmq] for
// the embedded broker), and each process ends with the delivery stats of its own bus.
//
// Run the whole demo, an embedded broker and both processes, with one
// command:
//
//	go run . -role demo                  # over an embedded NATS server
//	go run . -role demo -broker kafka    # over an embedded Kafka cluster
//	go run . -role demo -broker redis    # over a redis-server child process
//	go run . -role demo -broker rabbitmq # over a RabbitMQ node of its own
//
// or each part yourself, the workers first (they create the durable
// consumer groups; events published before a group exists are not kept for
// it):
//
//	go run . -role workers -embedded   # terminal 1: NATS on 127.0.0.1:4222, and the workers
//	go run . -role service             # terminal 2: the chat service
//
//	go run . -role workers -embedded -broker kafka   # terminal 1: Kafka on 127.0.0.1:9092, and the workers
//	go run . -role service -broker kafka             # terminal 2: the chat service
//
//	go run . -role workers -embedded -broker redis   # terminal 1: redis-server on 127.0.0.1:6379, and the workers
//	go run . -role service -broker redis             # terminal 2: the chat service
//
//	go run . -role workers -embedded -broker rabbitmq        # terminal 1: a RabbitMQ node, and the workers
//	go run . -role service -broker rabbitmq -amqp URL        # terminal 2: the chat service
//
// The embedded RabbitMQ node listens on a free port of 127.0.0.1 that it
// picks itself (the -amqp flag does not choose it): the workers print its
// URL on their [rabbitmq] line, and the service is pointed at it with
// -amqp and that URL.
//
// Without -embedded, -nats URL, -kafka host:port, -redis URL or -amqp URL
// points both processes at a broker of yours: a NATS server with JetStream
// enabled, a Kafka cluster (any of its brokers' addresses), a Redis server
// (7.0 or later; the -redis URL is "redis://[user:password@]host:port[/db]"
// or a bare host:port), or a RabbitMQ server (3.10 or later; the -amqp URL
// is "amqp://user:password@host:port/vhost").
//
// The embedded NATS server keeps its streams in a temporary directory. The
// embedded Kafka cluster is kfake, franz-go's Kafka cluster in a Go
// process, with one broker and its data in memory. The embedded Redis is a
// redis-server child process, which must be installed (on Debian or
// Ubuntu: apt-get install -y --no-install-recommends redis-server), with
// its append-only file in a temporary directory and no snapshots; the
// program kills it, and removes the directory, when it ends. The embedded
// RabbitMQ is a node of its own started by rabbitmqtest (of
// transport/rabbitmq): Debian's rabbitmq-server, which must be installed
// (apt-get install -y --no-install-recommends rabbitmq-server), run as a
// child process with its own node name, ports and epmd, and its data in a
// temporary directory; it takes some seconds to start, and the program
// stops it, and removes the directory, when it ends.
//
// # Kafka partitions
//
// Over Kafka each topic is created with 4 partitions. All of a key's
// events go to the partition its hash picks, and a group hands each
// partition's records to its subscriber in the order the broker stored
// them, so a conversation's events are handled in the order they were
// published, however many partitions there are (but for a redelivered
// event, which may come after others already on their way); the workers,
// one process, own them all. More than one partition lets a second
// workers process take a share of each group's partitions. Four put each
// of the demo's three conversations on a partition of its own (conv-1001
// on partition 1, conv-1002 on 0, conv-1003 on 3), which shows what a
// redelivery holds back: while a failed notification waits to be delivered
// again, the notification subscriber gets no later event of its partition,
// so the rest of that conversation's notifications wait behind it, in
// order, while the other conversations' go on.
//
// # Redis streams
//
// Over Redis each topic is one stream and each subscriber a consumer
// group of it. The group hands the stream's entries to its subscriber in
// the order the server stored them, and the bus keeps a conversation's
// events in order within the process, so the workers, one process, handle
// a conversation's events in the order they were published (but for a
// redelivered event, which comes after later ones: a failed notification
// does not hold back the rest of its conversation). A second workers
// process would share each group's entries with the first without regard
// to their conversation, so a conversation's events would no longer be
// handled in order. A failed event is delivered again once its backoff
// has passed and a subscriber of its group next looks for such entries,
// which the processes do every 100ms here.
//
// # RabbitMQ queues
//
// Over RabbitMQ each subscriber is a durable quorum queue bound to the
// topic, which hands its messages to the subscriber in the order it stored
// them, and the bus keeps a conversation's events in order within the
// process, so the workers handle a conversation's events in the order they
// were published (but for a redelivered event: a failed notification is
// copied to a delay queue and comes back after the backoff, behind later
// ones, so it does not hold back the rest of its conversation). The queues
// are declared with single active consumer (the transport's
// WithSingleActiveConsumer): the replies of a conversation must reach the
// service in the order of the messages they answer, and without it a second
// workers process would be a competing consumer of each queue, taking
// every other event without regard to its conversation. With it the
// server delivers a queue's events to one process at a time, and a second
// workers process stands by, taking over, in queue order, when the first
// stops. The flag is fixed when a queue is created, so a server of yours
// that has these queues without it refuses the subscriptions.
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
	"net"
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
	kafkatransport "github.com/busline/eventbus/transport/kafka"
	natstransport "github.com/busline/eventbus/transport/nats"
	rabbitmqtransport "github.com/busline/eventbus/transport/rabbitmq"
	"github.com/busline/eventbus/transport/rabbitmq/rabbitmqtest"
	redistransport "github.com/busline/eventbus/transport/redis"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Lines the workers print (after their role's prefix) that the demo waits
// for.
const (
	readyLine = "ready"
	doneLine  = "every event handled"
)

func main() {
	role := flag.String("role", "demo", "what to run: service, workers, or demo (an embedded broker and both processes)")
	kind := flag.String("broker", brokerNATS, "the broker the processes share topics through: nats, kafka, redis or rabbitmq")
	natsURL := flag.String("nats", "nats://127.0.0.1:4222", "URL of the NATS server, with -broker nats")
	kafkaAddr := flag.String("kafka", "127.0.0.1:9092", "host:port of a Kafka broker, with -broker kafka")
	redisAddr := flag.String("redis", "redis://127.0.0.1:6379", "URL (or host:port) of the Redis server, with -broker redis")
	amqpURL := flag.String("amqp", "amqp://guest:guest@127.0.0.1:5672/", "AMQP URL of the RabbitMQ server, with -broker rabbitmq")
	embedded := flag.Bool("embedded", false, "start an embedded broker on the -nats, -kafka or -redis address: a NATS server with JetStream storing in a temporary directory, a Kafka cluster of one broker keeping its data in memory, a redis-server child process with its append-only file in a temporary directory, or a RabbitMQ node of its own on a free port it picks and prints (not -amqp), with its data in a temporary directory")
	flag.Parse()

	b := broker{kind: *kind, addr: *natsURL}
	switch *kind {
	case brokerKafka:
		b.addr = *kafkaAddr
	case brokerRedis:
		b.addr = *redisAddr
	case brokerRabbitMQ:
		b.addr = *amqpURL
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *role, b, *embedded, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chat-distributed:", err)
		os.Exit(1)
	}
}

// The brokers the processes can share topics through.
const (
	brokerNATS     = "nats"
	brokerKafka    = "kafka"
	brokerRedis    = "redis"
	brokerRabbitMQ = "rabbitmq"
)

// broker names the broker the processes share topics through: its kind,
// brokerNATS, brokerKafka, brokerRedis or brokerRabbitMQ, and its address,
// a NATS URL, a Kafka broker's host:port, a Redis URL or an AMQP URL.
type broker struct {
	kind string
	addr string
}

// kafkaPartitions is the partition count of the Kafka topics the
// processes create; see the package documentation.
const kafkaPartitions = 4

// redisClaimInterval is how often each Redis subscription looks for
// entries of its group that are due again, such as the notifications
// delivered again after a backoff; see the package documentation.
const redisClaimInterval = 100 * time.Millisecond

// transport is what the processes use of a broker's transport.
type transport interface {
	eventbus.Transport
	Close(ctx context.Context) error
}

// connect returns a transport to the broker.
func (b broker) connect(ctx context.Context) (transport, error) {
	switch b.kind {
	case brokerKafka:
		return kafkatransport.Connect(ctx, []string{b.addr}, kafkatransport.WithPartitions(kafkaPartitions))
	case brokerRedis:
		return redistransport.Connect(ctx, b.addr, redistransport.WithClaimInterval(redisClaimInterval))
	case brokerRabbitMQ:
		// See the package documentation on RabbitMQ queues.
		return rabbitmqtransport.Connect(ctx, b.addr, rabbitmqtransport.WithSingleActiveConsumer())
	}
	return natstransport.Connect(ctx, b.addr)
}

// args are the command-line flags that point another process of this
// program at the broker.
func (b broker) args() []string {
	addrFlag := "-" + b.kind
	if b.kind == brokerRabbitMQ {
		addrFlag = "-amqp"
	}
	return []string{"-broker", b.kind, addrFlag, b.addr}
}

// embed starts the broker on its address (port 0: any free port), in this
// process or, for Redis, as a child process of it; for RabbitMQ it starts
// a node of its own with rabbitmqtest on a port the node picks, whatever
// the address. It writes a line saying where the broker listens to w, and
// returns the broker at the address it listens on and a function that
// stops it.
func (b broker) embed(w io.Writer) (broker, func(), error) {
	switch b.kind {
	case brokerNATS:
		srv, err := startNATS(b.addr)
		if err != nil {
			return b, nil, err
		}
		b.addr = srv.ClientURL()
		newRoleWriter(w, "nats").printf("embedded NATS server with JetStream listening on %s", b.addr)
		return b, srv.shutdown, nil
	case brokerKafka:
		cluster, err := startKafka(b.addr)
		if err != nil {
			return b, nil, err
		}
		b.addr = cluster.ListenAddrs()[0]
		newRoleWriter(w, "kafka").printf("embedded Kafka cluster (kfake, one broker) listening on %s", b.addr)
		return b, cluster.Close, nil
	case brokerRedis:
		srv, err := startRedis(b.addr)
		if err != nil {
			return b, nil, err
		}
		b.addr = srv.url
		newRoleWriter(w, "redis").printf("redis-server child process (pid %d, append-only file in a temporary directory) listening on %s", srv.pid, b.addr)
		return b, srv.stop, nil
	case brokerRabbitMQ:
		node, err := rabbitmqtest.Start()
		if err != nil {
			return b, nil, err
		}
		b.addr = node.URL()
		newRoleWriter(w, "rabbitmq").printf("RabbitMQ node of its own (%s, data in a temporary directory) listening on %s; point the service at it with -amqp %s", node.Name(), b.addr, b.addr)
		return b, func() {
			if err := node.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "chat-distributed: close the RabbitMQ node:", err)
			}
		}, nil
	}
	return b, nil, b.unknown()
}

func (b broker) unknown() error {
	return fmt.Errorf("unknown broker %q: want nats, kafka, redis or rabbitmq", b.kind)
}

func run(ctx context.Context, role string, b broker, embedded bool, w io.Writer) error {
	if b.kind != brokerNATS && b.kind != brokerKafka && b.kind != brokerRedis && b.kind != brokerRabbitMQ {
		return b.unknown()
	}
	if role != "service" && role != "workers" && role != "demo" {
		return fmt.Errorf("unknown role %q: want service, workers or demo", role)
	}
	// In the demo, the service and the copy of the workers' output write to
	// w from two goroutines.
	w = &lockedWriter{w: w}
	if role == "demo" {
		embedded = true
		b.addr = "127.0.0.1:0" // any free port
		if b.kind == brokerNATS || b.kind == brokerRedis {
			b.addr = b.kind + "://" + b.addr
		}
	}
	if embedded {
		var stop func()
		var err error
		if b, stop, err = b.embed(w); err != nil {
			return err
		}
		defer stop()
	}
	switch role {
	case "service":
		return runServiceProcess(ctx, b, w)
	case "workers":
		return runWorkers(ctx, b, w, nil)
	default:
		return runDemo(ctx, b, w)
	}
}

// withBus runs fn with a bus over a transport to the broker, closing both
// after. It returns the bus, closed, for its stats, or nil if it could not
// make one.
func withBus(ctx context.Context, b broker, source string, fn func(*eventbus.Bus) error) (*eventbus.Bus, error) {
	tr, err := b.connect(ctx)
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
func runServiceProcess(ctx context.Context, b broker, w io.Writer) error {
	out := newRoleWriter(w, "service")
	var subs []*eventbus.Subscription
	bus, err := withBus(ctx, b, "/chat-service", func(bus *eventbus.Bus) (err error) {
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
func runWorkers(ctx context.Context, b broker, w io.Writer, done chan<- struct{}) error {
	wk := newWorkers(newRoleWriter(w, "workers"))
	wk.done = done
	bus, err := withBus(ctx, b, "/chat-workers", func(bus *eventbus.Bus) error {
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
func runDemo(ctx context.Context, b broker, w io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.CommandContext(ctx, exe, append([]string{"-role", "workers"}, b.args()...)...)
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

	err = runServiceProcess(ctx, b, w)
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

// startKafka starts a Kafka cluster of one broker in this process, kfake,
// listening on addr (host:port; port 0: any free port) and keeping its data
// in memory. Stop it with Close.
func startKafka(addr string) (*kfake.Cluster, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("-kafka: %w", err)
	}
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		// kfake listens on 127.0.0.1; this listens on addr's host instead.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }),
	)
	if err != nil {
		return nil, fmt.Errorf("embedded Kafka cluster on %s: %w", addr, err)
	}
	return cluster, nil
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
