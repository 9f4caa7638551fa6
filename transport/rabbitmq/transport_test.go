package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// testCtx returns a ctx that bounds one step of a test.
func testCtx(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// uniqueTopic returns a topic name no other test uses.
func uniqueTopic(prefix string) string {
	return prefix + "." + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
}

// inbox collects the messages a consumer delivers, for tests that settle
// them by hand.
type inbox struct {
	ch chan delivered
}

type delivered struct {
	topic string
	m     eventbus.InboundMessage
	at    time.Time
}

func newInbox() *inbox { return &inbox{ch: make(chan delivered, 1000)} }

func (in *inbox) deliver(_ context.Context, m eventbus.InboundMessage) {
	in.ch <- delivered{m: m, at: time.Now()}
}

func (in *inbox) deliverPattern(_ context.Context, topic string, m eventbus.InboundMessage) {
	in.ch <- delivered{topic: topic, m: m, at: time.Now()}
}

// next waits for the next delivery.
func (in *inbox) next(tb testing.TB) delivered {
	tb.Helper()
	select {
	case d := <-in.ch:
		return d
	case <-time.After(20 * time.Second):
		tb.Fatal("timed out waiting for a delivery")
		return delivered{}
	}
}

// subscribeRaw subscribes deliver to topic under group through tr, and
// stops the consumer when the test ends.
func subscribeRaw(tb testing.TB, tr *Transport, topic, group string, in *inbox, maxInFlight int) eventbus.Consumer {
	tb.Helper()
	c, err := tr.Subscribe(testCtx(tb, 20*time.Second), eventbus.ConsumerConfig{Topic: topic, Group: group, MaxInFlight: maxInFlight}, in.deliver)
	if err != nil {
		tb.Fatalf("Subscribe(%s, %s): %v", topic, group, err)
	}
	tb.Cleanup(func() { stopConsumer(tb, c) })
	return c
}

func stopConsumer(tb testing.TB, c eventbus.Consumer) {
	tb.Helper()
	c.Stop()
	select {
	case <-c.Done():
	case <-time.After(20 * time.Second):
		tb.Error("consumer did not stop")
	}
}

func publishRaw(tb testing.TB, tr *Transport, topic, body string) {
	tb.Helper()
	if err := tr.Publish(testCtx(tb, 10*time.Second), eventbus.OutgoingMessage{Topic: topic, ID: uuid.New(), Data: []byte(body)}); err != nil {
		tb.Fatalf("Publish(%s, %s): %v", topic, body, err)
	}
}

func ack(tb testing.TB, m eventbus.InboundMessage) {
	tb.Helper()
	if err := m.Ack(testCtx(tb, 10*time.Second)); err != nil {
		tb.Fatalf("Ack: %v", err)
	}
}

func TestConnectRefusesBadInput(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	closedPort := closedPort(t)
	for _, tc := range []struct {
		name string
		url  string
		opts []Option
		want error
	}{
		{"empty URL", "", nil, ErrInvalidOption},
		{"bad scheme", "http://127.0.0.1:5672/", nil, ErrInvalidOption},
		{"nil option", testNode.URL(), []Option{nil}, ErrInvalidOption},
		{"bad exchange", testNode.URL(), []Option{WithExchange("a..b")}, ErrInvalidOption},
		{"long exchange", testNode.URL(), []Option{WithExchange(strings.Repeat("x", 101))}, ErrInvalidOption},
		{"bad reconnect wait", testNode.URL(), []Option{WithReconnectWait(time.Second, time.Millisecond)}, ErrInvalidOption},
		{"zero reconnect wait", testNode.URL(), []Option{WithReconnectWait(0, time.Second)}, ErrInvalidOption},
		{"client recovery", testNode.URL(), []Option{WithAMQPConfig(amqp.Config{Recovery: &amqp.Recovery{}})}, ErrInvalidOption},
		{"nothing listens", fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", closedPort), nil, ErrConnect},
		{"wrong password", strings.Replace(testNode.URL(), "guest:guest", "guest:wrong", 1), nil, ErrConnect},
		{"unknown vhost", testNode.URL() + "nowhere", nil, ErrConnect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Connect(ctx, tc.url, tc.opts...)
			if err == nil {
				closeTransport(t, tr)
				t.Fatal("Connect succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Connect: %v, want an error matching %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "eventbus/rabbitmq: ") {
				t.Errorf("error %q lacks the package's prefix", err)
			}
		})
	}
}

func TestConnectHonoursCtx(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Connect(ctx, testNode.URL()); !errors.Is(err, ErrConnect) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Connect with a cancelled ctx: %v, want ErrConnect and context.Canceled", err)
	}
}

func TestExchangeOfAnotherType(t *testing.T) {
	name := uniqueTopic("direct")
	declareRaw(t, func(ch *amqp.Channel) error {
		return ch.ExchangeDeclare(name, amqp.ExchangeDirect, false, true, false, false, nil)
	})
	tr, err := Connect(testCtx(t, 10*time.Second), testNode.URL(), WithExchange(name))
	if err == nil {
		closeTransport(t, tr)
		t.Fatal("Connect to an exchange of another type succeeded")
	}
	if !errors.Is(err, ErrRefused) || !errors.Is(err, eventbus.ErrTransport) {
		t.Fatalf("Connect: %v, want ErrRefused and eventbus.ErrTransport", err)
	}
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Code != amqp.PreconditionFailed {
		t.Errorf("Connect: %v does not wrap the server's PRECONDITION_FAILED", err)
	}
}

// declareRaw runs declare on a channel of a plain client connection.
func declareRaw(tb testing.TB, declare func(ch *amqp.Channel) error) {
	tb.Helper()
	conn, err := amqp.Dial(testNode.URL())
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		tb.Fatalf("channel: %v", err)
	}
	if err := declare(ch); err != nil {
		tb.Fatalf("declare: %v", err)
	}
}

func TestSubscribeRefusesBadInput(t *testing.T) {
	tr := connect(t)
	in := newInbox()
	ctx := testCtx(t, 10*time.Second)
	topic := uniqueTopic("bad")
	for _, tc := range []struct {
		name string
		cfg  eventbus.ConsumerConfig
		want error
	}{
		{"bad topic", eventbus.ConsumerConfig{Topic: "a..b", Group: "g"}, eventbus.ErrInvalidTopic},
		{"wildcard topic", eventbus.ConsumerConfig{Topic: "a.*", Group: "g"}, eventbus.ErrInvalidTopic},
		{"bad group", eventbus.ConsumerConfig{Topic: topic, Group: "g.h"}, eventbus.ErrInvalidSubscriber},
		{"negative in flight", eventbus.ConsumerConfig{Topic: topic, Group: "g", MaxInFlight: -1}, ErrInvalidOption},
		{"prefetch too large", eventbus.ConsumerConfig{Topic: topic, Group: "g", MaxInFlight: MaxPrefetch + 1}, ErrInvalidOption},
		{"negative deliveries", eventbus.ConsumerConfig{Topic: topic, Group: "g", MaxDeliveries: -1}, ErrInvalidOption},
		{"negative ack timeout", eventbus.ConsumerConfig{Topic: topic, Group: "g", AckTimeout: -time.Second}, ErrInvalidOption},
		{"start in the past", eventbus.ConsumerConfig{Topic: topic, Group: "g", Start: eventbus.FromOldest()}, errors.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tr.Subscribe(ctx, tc.cfg, in.deliver); !errors.Is(err, tc.want) {
				t.Fatalf("Subscribe: %v, want an error matching %v", err, tc.want)
			}
		})
	}
	if _, err := tr.Subscribe(ctx, eventbus.ConsumerConfig{Topic: topic, Group: "g"}, nil); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Subscribe with a nil deliver: %v", err)
	}
	if _, err := tr.SubscribePattern(ctx, eventbus.ConsumerConfig{Topic: "a.>.b", Group: "g"}, in.deliverPattern); !errors.Is(err, eventbus.ErrInvalidPattern) {
		t.Errorf("SubscribePattern(a.>.b): %v", err)
	}
	if err := tr.Publish(ctx, eventbus.OutgoingMessage{Topic: "a b"}); !errors.Is(err, eventbus.ErrInvalidTopic) {
		t.Errorf("Publish to an invalid topic: %v", err)
	}

	closed := dial(t)
	closeTransport(t, closed)
	if _, err := closed.Subscribe(ctx, eventbus.ConsumerConfig{Topic: topic, Group: "g"}, in.deliver); !errors.Is(err, eventbus.ErrBrokerClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	if err := closed.Publish(ctx, eventbus.OutgoingMessage{Topic: topic}); !errors.Is(err, eventbus.ErrBrokerClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
}

func TestQueueArgumentConflict(t *testing.T) {
	topic := uniqueTopic("sac")
	in := newInbox()
	subscribeRaw(t, connect(t, WithSingleActiveConsumer()), topic, "workers", in, 1)
	plain := connect(t)
	_, err := plain.Subscribe(testCtx(t, 10*time.Second), eventbus.ConsumerConfig{Topic: topic, Group: "workers"}, in.deliver)
	if !errors.Is(err, ErrRefused) || !errors.Is(err, eventbus.ErrTransport) {
		t.Fatalf("Subscribe to a single-active-consumer queue without the option: %v, want ErrRefused", err)
	}
	// The refusal closed one channel, not the connection: the transport
	// goes on working.
	subscribeRaw(t, plain, topic, "others", in, 1)
	publishRaw(t, plain, topic, "after the refusal")
	for range 2 {
		ack(t, in.next(t).m)
	}
}

func TestMandatoryPublish(t *testing.T) {
	tr := connect(t, WithMandatory())
	topic := uniqueTopic("mandatory")
	err := tr.Publish(testCtx(t, 10*time.Second), eventbus.OutgoingMessage{Topic: topic, ID: uuid.New(), Data: []byte("nobody")})
	if !errors.Is(err, ErrUnroutable) || !errors.Is(err, eventbus.ErrTransport) {
		t.Fatalf("Publish to a topic without a group: %v, want ErrUnroutable", err)
	}
	in := newInbox()
	subscribeRaw(t, tr, topic, "g", in, 1)
	publishRaw(t, tr, topic, "somebody")
	d := in.next(t)
	if string(d.m.Data()) != "somebody" {
		t.Fatalf("got %q", d.m.Data())
	}
	ack(t, d.m)

	// Without the option the message is dropped and Publish succeeds.
	publishRaw(t, connect(t), uniqueTopic("optional"), "nobody")
}

func TestPublishNackedByTheServer(t *testing.T) {
	tr := connect(t)
	topic := uniqueTopic("full")
	queue := topic + ".full"
	declareRaw(t, func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclare(queue, false, true, false, false, amqp.Table{
			amqp.QueueMaxLenArg: 0, amqp.QueueOverflowArg: amqp.QueueOverflowRejectPublish,
		}); err != nil {
			return err
		}
		return ch.QueueBind(queue, topic, DefaultExchange, false, nil)
	})
	t.Cleanup(func() {
		declareRaw(t, func(ch *amqp.Channel) error { _, err := ch.QueueDelete(queue, false, false, false); return err })
	})
	err := tr.Publish(testCtx(t, 10*time.Second), eventbus.OutgoingMessage{Topic: topic, ID: uuid.New(), Data: []byte("x")})
	if !errors.Is(err, ErrNacked) || !errors.Is(err, eventbus.ErrTransport) {
		t.Fatalf("Publish to a full queue: %v, want ErrNacked", err)
	}
}

func TestSettleTwice(t *testing.T) {
	tr := connect(t)
	topic := uniqueTopic("twice")
	in := newInbox()
	subscribeRaw(t, tr, topic, "g", in, 1)
	publishRaw(t, tr, topic, "one")
	m := in.next(t).m
	ack(t, m)
	if err := m.Ack(testCtx(t, time.Second)); !errors.Is(err, ErrSettled) {
		t.Errorf("second Ack: %v, want ErrSettled", err)
	}
	if err := m.Nak(testCtx(t, time.Second), 0); !errors.Is(err, ErrSettled) {
		t.Errorf("Nak after Ack: %v, want ErrSettled", err)
	}
	// The channel is intact: the next message arrives and settles.
	publishRaw(t, tr, topic, "two")
	ack(t, in.next(t).m)
}

// Nak counts deliveries, with and without a delay, and the delay holds
// the message back at least that long.
func TestNakCountsDeliveries(t *testing.T) {
	tr := connect(t)
	topic := uniqueTopic("nak")
	in := newInbox()
	subscribeRaw(t, tr, topic, "g", in, 4)
	publishRaw(t, tr, topic, "again")
	for i, delay := range []time.Duration{80 * time.Millisecond, 0, 30 * time.Millisecond, 0} {
		d := in.next(t)
		if got := d.m.Deliveries(); got != i+1 {
			t.Fatalf("delivery %d: Deliveries() = %d", i+1, got)
		}
		naked := time.Now()
		if err := d.m.Nak(testCtx(t, 10*time.Second), delay); err != nil {
			t.Fatalf("Nak(%v): %v", delay, err)
		}
		if delay > 0 {
			next := in.next(t)
			if wait := next.at.Sub(naked); wait < delay {
				t.Fatalf("Nak(%v): delivered again after %v", delay, wait)
			}
			in.ch <- next // hand it to the next round
		}
	}
	d := in.next(t)
	if d.m.Deliveries() != 5 || string(d.m.Data()) != "again" {
		t.Fatalf("fifth delivery: %d deliveries, %q", d.m.Deliveries(), d.m.Data())
	}
	if err := d.m.Nak(testCtx(t, time.Second), -time.Second); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("Nak with a negative delay: %v", err)
	}
	ack(t, d.m)
}

// A pattern group's message handed back after a delay keeps its topic.
func TestPatternNakKeepsTopic(t *testing.T) {
	tr := connect(t)
	prefix := uniqueTopic("pat")
	in := newInbox()
	c, err := tr.SubscribePattern(testCtx(t, 10*time.Second), eventbus.ConsumerConfig{Topic: prefix + ".>", Group: "g"}, in.deliverPattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopConsumer(t, c) })
	// "prefix.>" matches one or more tokens after the prefix, never the
	// prefix itself.
	publishRaw(t, tr, prefix, "not matched")
	publishRaw(t, tr, prefix+".a.b", "matched")
	d := in.next(t)
	if d.topic != prefix+".a.b" {
		t.Fatalf("topic %q, want %q", d.topic, prefix+".a.b")
	}
	if err := d.m.Nak(testCtx(t, 10*time.Second), 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	d = in.next(t)
	if d.topic != prefix+".a.b" || d.m.Deliveries() != 2 || string(d.m.Data()) != "matched" {
		t.Fatalf("after the delay: topic %q, %d deliveries, %q", d.topic, d.m.Deliveries(), d.m.Data())
	}
	ack(t, d.m)
}

// With WithSingleActiveConsumer, one subscription of a group gets every
// message, in order, while the others wait, and the next takes over when
// it stops: it gets every message the first did not settle, those the
// first had fetched ahead and handed back coming after the ones still in
// the queue (see the package documentation on ordering).
func TestSingleActiveConsumer(t *testing.T) {
	topic := uniqueTopic("single")
	first, second := newInbox(), newInbox()
	a := subscribeRaw(t, connect(t, WithSingleActiveConsumer()), topic, "ordered", first, 4)
	subscribeRaw(t, connect(t, WithSingleActiveConsumer()), topic, "ordered", second, 4)
	pub := connect(t)
	const n = 20
	for i := range n {
		publishRaw(t, pub, topic, fmt.Sprint(i))
	}
	for i := range n / 2 {
		d := first.next(t)
		if string(d.m.Data()) != fmt.Sprint(i) {
			t.Fatalf("active consumer got %q, want %d", d.m.Data(), i)
		}
		ack(t, d.m)
	}
	if len(second.ch) != 0 {
		t.Fatalf("the waiting consumer got %d messages while the first was active", len(second.ch))
	}
	stopConsumer(t, a)
	for held := len(first.ch); held > 0; held-- {
		if err := (<-first.ch).m.Nak(testCtx(t, 10*time.Second), 0); err != nil {
			t.Fatalf("Nak after Stop: %v", err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < n/2 {
		d := second.next(t)
		body := string(d.m.Data())
		var i int
		if _, err := fmt.Sscan(body, &i); err != nil || i < n/2 || seen[body] {
			t.Fatalf("second consumer got %q again or out of range", body)
		}
		seen[body] = true
		ack(t, d.m)
	}
}

// closedPort returns a port of 127.0.0.1 that nothing listens on.
func closedPort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}
