package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"
)

const waitLong = 10 * time.Second

// subscribeRaw starts a consumer of tr with c, whose deliveries go to the
// returned channel unsettled; the consumer is stopped when the test ends.
func subscribeRaw(tb testing.TB, tr *Transport, c eventbus.ConsumerConfig) (eventbus.Consumer, <-chan eventbus.InboundMessage) {
	tb.Helper()
	got := make(chan eventbus.InboundMessage, 64)
	cons, err := tr.Subscribe(testCtx(tb, waitLong), c, func(ctx context.Context, m eventbus.InboundMessage) {
		select {
		case got <- m:
		case <-ctx.Done():
		}
	})
	if err != nil {
		tb.Fatalf("Subscribe(%+v): %v", c, err)
	}
	tb.Cleanup(func() {
		cons.Stop()
		<-cons.Done()
	})
	return cons, got
}

func receive(tb testing.TB, ch <-chan eventbus.InboundMessage, within time.Duration, what string) eventbus.InboundMessage {
	tb.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(within):
		tb.Fatalf("timed out after %v waiting for %s", within, what)
		return nil
	}
}

func publishRaw(tb testing.TB, tr *Transport, topic, data string) {
	tb.Helper()
	if err := tr.Publish(testCtx(tb, waitLong), eventbus.OutgoingMessage{Topic: topic, ID: uuid.Must(uuid.NewV7()), Data: []byte(data)}); err != nil {
		tb.Fatalf("Publish(%q): %v", data, err)
	}
}

func TestConnectErrors(t *testing.T) {
	ctx := testCtx(t, waitLong)
	port := freePort(t) // nobody listens there
	_, err := Connect(ctx, "127.0.0.1:"+strconv.Itoa(port))
	if !errors.Is(err, ErrConnect) {
		t.Errorf("Connect to a closed port: %v, want ErrConnect", err)
	}
	for _, url := range []string{"", "redis://127.0.0.1:1/notanumber", "http://127.0.0.1:6379"} {
		if _, err := Connect(ctx, url); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("Connect(%q): %v, want ErrInvalidOption", url, err)
		}
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Connect(cancelled, "127.0.0.1:"+strconv.Itoa(port)); !errors.Is(err, ErrConnect) || !errors.Is(err, context.Canceled) {
		t.Errorf("Connect with a cancelled ctx: %v, want ErrConnect and context.Canceled", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	for name, opt := range map[string]Option{
		"nil":                  nil,
		"prefix":               WithKeyPrefix("bad prefix"),
		"empty prefix":         WithKeyPrefix(""),
		"max len":              WithMaxLen(-1),
		"max age":              WithMaxAge(-time.Second),
		"sub-millisecond age":  WithMaxAge(time.Microsecond),
		"ack timeout":          WithAckTimeout(0),
		"claim interval":       WithClaimInterval(time.Microsecond),
		"nil redis option fun": WithRedisOptions(nil),
	} {
		if _, err := Connect(context.Background(), "127.0.0.1:1", opt); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
}

func TestBadInput(t *testing.T) {
	s := startServer(t)
	tr := connect(t, s)
	ctx := testCtx(t, waitLong)
	deliver := func(context.Context, eventbus.InboundMessage) {}
	if err := tr.Publish(ctx, eventbus.OutgoingMessage{Topic: "bad topic"}); !errors.Is(err, eventbus.ErrInvalidTopic) {
		t.Errorf("Publish to a bad topic: %v", err)
	}
	for _, tc := range []struct {
		cfg  eventbus.ConsumerConfig
		d    func(context.Context, eventbus.InboundMessage)
		want error
	}{
		{eventbus.ConsumerConfig{Topic: "a..b", Group: "g"}, deliver, eventbus.ErrInvalidTopic},
		{eventbus.ConsumerConfig{Topic: "a", Group: "bad group"}, deliver, eventbus.ErrInvalidSubscriber},
		{eventbus.ConsumerConfig{Topic: "a", Group: "g"}, nil, ErrInvalidOption},
		{eventbus.ConsumerConfig{Topic: "a", Group: "g", MaxInFlight: -1}, deliver, ErrInvalidOption},
		{eventbus.ConsumerConfig{Topic: "a", Group: "g", AckTimeout: -time.Second}, deliver, ErrInvalidOption},
		{eventbus.ConsumerConfig{Topic: "a", Group: "g", Start: eventbus.FromSequence(0)}, deliver, ErrInvalidOption},
		{eventbus.ConsumerConfig{Topic: "a", Group: "g", Start: eventbus.FromTime(time.Time{})}, deliver, ErrInvalidOption},
	} {
		if _, err := tr.Subscribe(ctx, tc.cfg, tc.d); !errors.Is(err, tc.want) {
			t.Errorf("Subscribe(%+v): %v, want %v", tc.cfg, err, tc.want)
		}
	}

	// A key of another type where the topic's stream would be.
	if err := s.client(t).Set(ctx, tr.StreamKey("taken"), "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Publish(ctx, eventbus.OutgoingMessage{Topic: "taken", Data: []byte("{}")}); !errors.Is(err, ErrStreamConflict) {
		t.Errorf("Publish over a string key: %v, want ErrStreamConflict", err)
	}
	if _, err := tr.Subscribe(ctx, eventbus.ConsumerConfig{Topic: "taken", Group: "g"}, deliver); !errors.Is(err, ErrStreamConflict) {
		t.Errorf("Subscribe over a string key: %v, want ErrStreamConflict", err)
	}
	b, err := eventbus.New(eventbus.WithTransport(tr))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	tp, err := eventbus.NewTopic[int](b, "taken")
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Publish(ctx, 1); !errors.Is(err, eventbus.ErrTransport) || !errors.Is(err, ErrStreamConflict) {
		t.Errorf("bus Publish over a string key: %v, want ErrTransport and ErrStreamConflict", err)
	}

	// Closed.
	if err := tr.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.Publish(ctx, eventbus.OutgoingMessage{Topic: "a"}); !errors.Is(err, eventbus.ErrBrokerClosed) {
		t.Errorf("Publish after Close: %v", err)
	}
	if _, err := tr.Subscribe(ctx, eventbus.ConsumerConfig{Topic: "a", Group: "g"}, deliver); !errors.Is(err, eventbus.ErrBrokerClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
}

// TestOutageAndReconnect: Publish while the server is down honours its ctx
// with an error matching eventbus.ErrTransport; once the server is back,
// the subscription reads again without help.
func TestOutageAndReconnect(t *testing.T) {
	s := startServer(t)
	tr := connect(t, s)
	b, err := eventbus.New(eventbus.WithTransport(tr), eventbus.WithErrorHandler(func(context.Context, *eventbus.DeliveryError) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	tp, err := eventbus.NewTopic[int](b, "outage")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 16)
	if _, err := tp.Subscribe("reader", func(_ context.Context, e *eventbus.Event[int]) error {
		got <- e.Payload
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := tp.Publish(testCtx(t, waitLong), 1); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != 1 {
		t.Fatalf("got %d", n)
	}

	s.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	err = tp.Publish(ctx, 2)
	if !errors.Is(err, eventbus.ErrTransport) {
		t.Fatalf("Publish during the outage: %v, want an error matching ErrTransport", err)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("Publish during the outage took %v with a ctx of 300ms", took)
	}

	s.start(t)
	if err := tp.Publish(testCtx(t, waitLong), 3); err != nil {
		t.Fatalf("Publish after the restart: %v", err)
	}
	// 1 may come again: its acknowledgement goes with the consumer's next
	// read, which the stop may have cut off, and at least once allows it.
	// 2 comes if the failed Publish stored it after all.
	for {
		select {
		case n := <-got:
			switch n {
			case 1:
				continue
			case 2, 3:
				return
			}
			t.Fatalf("after the restart got %d", n)
		case <-time.After(waitLong):
			t.Fatal("the subscription did not resume after the restart")
		}
	}
}

// TestCrashedConsumerClaimed: the entries a consumer read and never
// settled (its process died) are claimed by a live consumer of the group
// after the ack timeout, with their delivery count raised; once they are
// settled the dead consumer, idle and with no pending entries, is removed.
func TestCrashedConsumerClaimed(t *testing.T) {
	s := startServer(t)
	tr := connect(t, s)
	rdb := s.client(t)
	ctx := testCtx(t, waitLong)
	key := tr.StreamKey("crash")
	if err := rdb.XGroupCreateMkStream(ctx, key, "g", "$").Err(); err != nil {
		t.Fatal(err)
	}
	publishRaw(t, tr, "crash", "lost-with-its-reader")
	if _, err := rdb.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: "g", Consumer: "dead", Streams: []string{key, ">"}, Count: 1}).Result(); err != nil {
		t.Fatal(err)
	}
	const ackTimeout = 400 * time.Millisecond
	read := time.Now()
	cons, got := subscribeRaw(t, tr, eventbus.ConsumerConfig{Topic: "crash", Group: "g", AckTimeout: ackTimeout})
	m := receive(t, got, waitLong, "the dead consumer's entry")
	if since := time.Since(read); since < ackTimeout {
		t.Errorf("claimed after %v, before the ack timeout %v", since, ackTimeout)
	}
	if string(m.Data()) != "lost-with-its-reader" || m.Deliveries() != 2 {
		t.Errorf("claimed %q with %d deliveries, want the entry with 2", m.Data(), m.Deliveries())
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	cons.(*consumer).removeIdle(ctx, rdb)
	consumers, err := rdb.XInfoConsumers(ctx, key, "g").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range consumers {
		if c.Name == "dead" {
			t.Errorf("the dead consumer is still in the group: %+v", consumers)
		}
	}
}

// TestConsumerLeavesOnlyWithoutPending: a stopped consumer stays in its
// group while an entry it delivered is unsettled, and leaves once it is
// acknowledged.
func TestConsumerLeavesOnlyWithoutPending(t *testing.T) {
	s := startServer(t)
	tr := connect(t, s)
	rdb := s.client(t)
	ctx := testCtx(t, waitLong)
	cons, got := subscribeRaw(t, tr, eventbus.ConsumerConfig{Topic: "leave", Group: "g"})
	publishRaw(t, tr, "leave", "x")
	m := receive(t, got, waitLong, "the entry")
	cons.Stop()
	<-cons.Done()
	key := tr.StreamKey("leave")
	consumers, err := rdb.XInfoConsumers(ctx, key, "g").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(consumers) != 1 || consumers[0].Pending != 1 {
		t.Fatalf("consumers of a stopped consumer with an unsettled entry: %+v, want it with 1 pending", consumers)
	}
	if err := m.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if consumers, err = rdb.XInfoConsumers(ctx, key, "g").Result(); err != nil || len(consumers) != 0 {
		t.Fatalf("consumers once the entry was acknowledged: %+v, %v; want none", consumers, err)
	}
	if err := m.Ack(ctx); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("second Ack: %v, want ErrInvalidOption", err)
	}
}

// TestNakDelay: a Nak'ed entry comes back after its delay, not before,
// with its delivery count raised and the same position.
func TestNakDelay(t *testing.T) {
	s := startServer(t)
	tr := connect(t, s)
	_, got := subscribeRaw(t, tr, eventbus.ConsumerConfig{Topic: "nak", Group: "g", AckTimeout: 5 * time.Second})
	publishRaw(t, tr, "nak", "again")
	first := receive(t, got, waitLong, "the first delivery")
	const delay = 300 * time.Millisecond
	nakked := time.Now()
	if err := first.Nak(testCtx(t, waitLong), delay); err != nil {
		t.Fatal(err)
	}
	second := receive(t, got, waitLong, "the redelivery")
	if since := time.Since(nakked); since < delay-5*time.Millisecond {
		t.Errorf("redelivered %v after a Nak with delay %v", since, delay)
	}
	if second.Deliveries() != 2 || string(second.Data()) != "again" {
		t.Errorf("redelivery: %q with %d deliveries", second.Data(), second.Deliveries())
	}
	if p1, p2 := first.(eventbus.Positioned).Position(), second.(eventbus.Positioned).Position(); p1 != p2 || p1 == 0 {
		t.Errorf("positions %d then %d", p1, p2)
	}
	if err := second.Nak(testCtx(t, waitLong), -time.Second); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Nak with a negative delay: %v", err)
	}
	if err := second.Ack(testCtx(t, waitLong)); err != nil {
		t.Fatal(err)
	}
}

// TestNakAfterStopGoesToOthers: an entry Nak'ed (delay 0) after its
// consumer stopped is delivered at once to another consumer of the group,
// not after the ack timeout.
func TestNakAfterStopGoesToOthers(t *testing.T) {
	s := startServer(t)
	tr := connect(t, s)
	cfg := eventbus.ConsumerConfig{Topic: "handback", Group: "g", AckTimeout: time.Minute}
	first, got := subscribeRaw(t, tr, cfg)
	publishRaw(t, tr, "handback", "x")
	m := receive(t, got, waitLong, "the entry")
	_, other := subscribeRaw(t, tr, cfg)
	first.Stop()
	<-first.Done()
	if err := m.Nak(testCtx(t, waitLong), 0); err != nil {
		t.Fatal(err)
	}
	again := receive(t, other, waitLong, "the entry given back")
	if again.Deliveries() != 2 {
		t.Errorf("deliveries %d, want 2", again.Deliveries())
	}
}

// TestGroupRecreated: a group deleted while a subscription runs is created
// again by it, for new entries.
func TestGroupRecreated(t *testing.T) {
	s := startServer(t)
	recreated := make(chan struct{}, 1)
	log := slog.New(signalHandler{msg: "created it again", ch: recreated})
	tr := connect(t, s, WithLogger(log))
	_, got := subscribeRaw(t, tr, eventbus.ConsumerConfig{Topic: "regroup", Group: "g"})
	ctx := testCtx(t, waitLong)
	if err := s.client(t).XGroupDestroy(ctx, tr.StreamKey("regroup"), "g").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-recreated:
	case <-time.After(waitLong):
		t.Fatal("the group was not created again")
	}
	publishRaw(t, tr, "regroup", "after")
	if m := receive(t, got, waitLong, "an entry after the group came back"); string(m.Data()) != "after" {
		t.Errorf("got %q", m.Data())
	}
}

// signalHandler is a slog handler that signals ch on each record whose
// message contains msg.
type signalHandler struct {
	msg string
	ch  chan struct{}
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.msg) {
		select {
		case h.ch <- struct{}{}:
		default:
		}
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// TestFromTimeWithinMillisecond: FromTime tells apart the entries of one
// millisecond by their FieldTime.
func TestFromTimeWithinMillisecond(t *testing.T) {
	s := startServer(t)
	tr := connect(t, s)
	rdb := s.client(t)
	ctx := testCtx(t, waitLong)
	base := time.UnixMilli(time.Now().Add(-time.Hour).UnixMilli())
	key := tr.StreamKey("ms")
	for i := range 3 {
		at := base.Add(time.Duration(i) * 100 * time.Microsecond)
		if err := rdb.XAdd(ctx, &goredis.XAddArgs{Stream: key, ID: fmt.Sprintf("%d-%d", base.UnixMilli(), i),
			Values: []any{FieldData, strconv.Itoa(i), FieldTime, strconv.FormatInt(at.UnixNano(), 10)}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	_, got := subscribeRaw(t, tr, eventbus.ConsumerConfig{Topic: "ms", Group: "g", Start: eventbus.FromTime(base.Add(50 * time.Microsecond))})
	publishRaw(t, tr, "ms", "live")
	for _, want := range []string{"1", "2", "live"} {
		if m := receive(t, got, waitLong, "entry "+want); string(m.Data()) != want {
			t.Fatalf("got %q, want %q", m.Data(), want)
		}
	}
}

// TestRetention: WithMaxLen and WithMaxAge trim the stream as Publish adds
// to it, in whole blocks of entries.
func TestRetention(t *testing.T) {
	s := startServer(t)
	rdb := s.client(t)
	ctx := testCtx(t, waitLong)

	byLen := connect(t, s, WithMaxLen(100))
	for i := range 1000 {
		publishRaw(t, byLen, "bylen", strconv.Itoa(i))
	}
	if n := rdb.XLen(ctx, byLen.StreamKey("bylen")).Val(); n < 100 || n >= 1000 {
		t.Errorf("stream of 1000 entries with WithMaxLen(100) holds %d", n)
	}

	for _, tc := range []struct {
		topic string
		opts  []Option
	}{
		{"byage", []Option{WithMaxAge(time.Hour)}},
		{"byboth", []Option{WithMaxAge(time.Hour), WithMaxLen(100000)}},
	} {
		tr := connect(t, s, tc.opts...)
		key := tr.StreamKey(tc.topic)
		const old = 250 // more than a block of the stream's radix tree
		for i := 1; i <= old; i++ {
			if err := rdb.XAdd(ctx, &goredis.XAddArgs{Stream: key, ID: fmt.Sprintf("1-%d", i), Values: []any{FieldData, "old"}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		publishRaw(t, tr, tc.topic, "new")
		if n := rdb.XLen(ctx, key).Val(); n > old {
			t.Errorf("%s: %d old entries and a new one: %d left", tc.topic, old, n)
		}
	}
}
