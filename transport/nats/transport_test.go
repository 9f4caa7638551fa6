package nats

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitLong bounds every wait for a delivery or a state change.
const waitLong = 15 * time.Second

// inbox returns a deliver func that passes every message to the returned
// channel, blocking (back-pressure) until the test takes it or the consumer
// stops; a message it could not pass on is handed back with Nak, as the bus
// does.
func inbox() (<-chan eventbus.InboundMessage, func(context.Context, eventbus.InboundMessage)) {
	ch := make(chan eventbus.InboundMessage)
	return ch, func(ctx context.Context, m eventbus.InboundMessage) {
		select {
		case ch <- m:
		case <-ctx.Done():
			_ = m.Nak(context.Background(), 0)
		}
	}
}

func receive(t *testing.T, ch <-chan eventbus.InboundMessage) eventbus.InboundMessage {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(waitLong):
		t.Fatalf("no message within %v", waitLong)
		return nil
	}
}

func publish(t *testing.T, tr *Transport, topic, data string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	err := tr.Publish(testCtx(t, waitLong), eventbus.OutgoingMessage{Topic: topic, ID: id, Data: []byte(data)})
	require.NoError(t, err)
	return id
}

func subscribe(t *testing.T, tr *Transport, c eventbus.ConsumerConfig, deliver func(context.Context, eventbus.InboundMessage)) eventbus.Consumer {
	t.Helper()
	cons, err := tr.Subscribe(testCtx(t, waitLong), c, deliver)
	require.NoError(t, err)
	t.Cleanup(func() { stopAndWait(t, cons) })
	return cons
}

func stopAndWait(t *testing.T, c eventbus.Consumer) {
	t.Helper()
	c.Stop()
	select {
	case <-c.Done():
	case <-time.After(waitLong):
		t.Errorf("consumer not done within %v of Stop", waitLong)
	}
}

func ack(t *testing.T, m eventbus.InboundMessage) {
	t.Helper()
	require.NoError(t, m.Ack(testCtx(t, waitLong)))
}

func TestRoundTrip(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	ch, deliver := inbox()
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "orders.created", Group: "billing", MaxInFlight: 8}, deliver)

	for i := range 5 {
		publish(t, tr, "orders.created", fmt.Sprint("event ", i))
	}
	for i := range 5 {
		m := receive(t, ch)
		assert.Equal(t, fmt.Sprint("event ", i), string(m.Data()), "stream order to one consumer")
		assert.Equal(t, 1, m.Deliveries())
		ack(t, m)
	}
}

func TestPublishBeforeSubscribeIsNotDelivered(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	publish(t, tr, "t", "before")
	ch, deliver := inbox()
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliver)
	publish(t, tr, "t", "after")
	m := receive(t, ch)
	assert.Equal(t, "after", string(m.Data()), "a new group starts with events published after Subscribe")
	ack(t, m)
}

func TestGroupsFanOut(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	ch1, d1 := inbox()
	ch2, d2 := inbox()
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "t", Group: "one"}, d1)
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "t", Group: "two"}, d2)

	const n = 10
	for i := range n {
		publish(t, tr, "t", fmt.Sprint(i))
	}
	for _, ch := range []<-chan eventbus.InboundMessage{ch1, ch2} {
		for i := range n {
			m := receive(t, ch)
			assert.Equal(t, fmt.Sprint(i), string(m.Data()))
			ack(t, m)
		}
	}
}

func TestCompetingConsumers(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	trA, trB := connect(t, s), connect(t, s)

	var mu sync.Mutex
	got := map[string][]string{} // transport → data received
	bGotOne := make(chan struct{})
	var bOnce sync.Once
	mk := func(name string) func(context.Context, eventbus.InboundMessage) {
		return func(ctx context.Context, m eventbus.InboundMessage) {
			if name == "A" {
				// A holds its first message until B got one: with A's
				// deliver blocked, A fetches nothing more, so B must be
				// handed the rest of the group's events.
				select {
				case <-bGotOne:
				case <-ctx.Done():
				}
			}
			mu.Lock()
			got[name] = append(got[name], string(m.Data()))
			mu.Unlock()
			if name == "B" {
				bOnce.Do(func() { close(bGotOne) })
			}
			assert.NoError(t, m.Ack(ctx))
		}
	}
	cfg := eventbus.ConsumerConfig{Topic: "jobs", Group: "workers", MaxInFlight: 2}
	subscribe(t, trA, cfg, mk("A"))
	subscribe(t, trB, cfg, mk("B"))

	const n = 30
	want := map[string]bool{}
	for i := range n {
		want[fmt.Sprint(i)] = true
		publish(t, trA, "jobs", fmt.Sprint(i))
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got["A"])+len(got["B"]) >= n
	}, waitLong, 5*time.Millisecond)

	mu.Lock()
	defer mu.Unlock()
	assert.NotEmpty(t, got["A"])
	assert.NotEmpty(t, got["B"])
	seen := map[string]int{}
	for _, list := range got {
		for _, d := range list {
			seen[d]++
		}
	}
	assert.Len(t, seen, n)
	for d, k := range seen {
		assert.True(t, want[d], "unexpected %q", d)
		assert.Equal(t, 1, k, "event %q delivered %d times", d, k)
	}
}

func TestNakWithDelayRedelivers(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	ch, deliver := inbox()
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliver)
	publish(t, tr, "t", "x")

	m := receive(t, ch)
	require.Equal(t, 1, m.Deliveries())
	const delay = 200 * time.Millisecond
	nakAt := time.Now()
	require.NoError(t, m.Nak(context.Background(), delay))

	m2 := receive(t, ch)
	assert.GreaterOrEqual(t, time.Since(nakAt), delay, "redelivered before the delay")
	assert.Equal(t, 2, m2.Deliveries())
	assert.Equal(t, "x", string(m2.Data()))
	ack(t, m2)

	assert.ErrorIs(t, m2.Nak(context.Background(), -time.Second), ErrInvalidOption)
}

func TestSettleAfterStop(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	ch, deliver := inbox()
	// The server may still hold the stopped consumer's last pull request,
	// and then redelivers the Nak'ed message to it, where nobody reads it;
	// the message comes back once its ack wait ends, which a short ack wait
	// keeps within the test's wait (the default is 30s).
	cfg := eventbus.ConsumerConfig{Topic: "t", Group: "g", AckTimeout: time.Second}
	cons := subscribe(t, tr, cfg, deliver)
	publish(t, tr, "t", "acked")
	publish(t, tr, "t", "nakked")

	acked, nakked := receive(t, ch), receive(t, ch)
	stopAndWait(t, cons)

	require.NoError(t, acked.Ack(testCtx(t, waitLong)))
	require.NoError(t, nakked.Nak(testCtx(t, waitLong), 0))
	assert.Error(t, acked.Ack(testCtx(t, waitLong)), "a message is settled once")

	// The Ack reached the server: only the Nak'ed message comes back.
	stream := streamNameFor(subjectFor(DefaultSubjectPrefix, "t"))
	require.Eventually(t, func() bool {
		jc, err := js.Consumer(testCtx(t, waitLong), stream, "g")
		if err != nil {
			return false
		}
		info, err := jc.Info(testCtx(t, waitLong))
		return err == nil && info.AckFloor.Stream >= 1
	}, waitLong, 5*time.Millisecond)

	ch2, deliver2 := inbox()
	subscribe(t, tr, cfg, deliver2)
	m := receive(t, ch2)
	assert.Equal(t, "nakked", string(m.Data()))
	// 2, or 3 when the redelivery went to the stale pull request first.
	assert.Contains(t, []int{2, 3}, m.Deliveries())
	ack(t, m)
}

func TestStopHandsBackFetchedMessages(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	// One message is stuck in deliver, the others are fetched ahead; Stop
	// hands them back. A message the server sends at the very moment of
	// Stop is lost to the client and comes back only after the ack wait,
	// which on a loaded machine does happen: the ack wait is short enough
	// for that case to end within the test's wait too, but nothing may be
	// lost.
	cfg := eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 4, AckTimeout: 3 * time.Second}
	ch, deliver := inbox()
	cons := subscribe(t, tr, cfg, deliver)
	const n = 5
	for i := range n {
		publish(t, tr, "t", fmt.Sprint(i))
	}
	first := receive(t, ch)
	stopAndWait(t, cons)
	require.NoError(t, first.Nak(context.Background(), 0))

	ch2, deliver2 := inbox()
	subscribe(t, tr, cfg, deliver2)
	seen := map[string]bool{}
	for range n {
		m := receive(t, ch2)
		seen[string(m.Data())] = true
		ack(t, m)
	}
	assert.Len(t, seen, n)
}

func TestServerRestartLosesNothing(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir, -1)
	port := serverPort(t, s)
	tr := connect(t, s, WithReconnectWait(50*time.Millisecond))

	var mu sync.Mutex
	got := map[string]bool{}
	// Nothing is consumed before the restart: the first message waits in
	// deliver, a few more in the client's buffer, the rest in the stream.
	gate := make(chan struct{})
	deliver := func(ctx context.Context, m eventbus.InboundMessage) {
		select {
		case <-gate:
		case <-ctx.Done():
			_ = m.Nak(context.Background(), 0)
			return
		}
		mu.Lock()
		got[string(m.Data())] = true
		mu.Unlock()
		_ = m.Ack(ctx) // a lost ack only means a duplicate
	}
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 4}, deliver)

	const n, m = 50, 50
	for i := range n {
		publish(t, tr, "t", fmt.Sprint(i))
	}
	stopServer(s)
	startServer(t, dir, port)
	close(gate)

	for i := n; i < n+m; i++ {
		// Until the client has reconnected a publish may time out; the
		// same ID makes the retry safe.
		msg := eventbus.OutgoingMessage{Topic: "t", ID: uuid.New(), Data: []byte(fmt.Sprint(i))}
		deadline := time.Now().Add(waitLong)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := tr.Publish(ctx, msg)
			cancel()
			if err == nil {
				break
			}
			require.True(t, time.Now().Before(deadline), "publish after restart: %v", err)
		}
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == n+m
	}, waitLong, 10*time.Millisecond, "got %d of %d", func() int { mu.Lock(); defer mu.Unlock(); return len(got) }(), n+m)
	mu.Lock()
	defer mu.Unlock()
	for i := range n + m {
		assert.True(t, got[fmt.Sprint(i)], "event %d lost", i)
	}
}

func TestPublishDeduplicatesByID(t *testing.T) {
	for _, c := range []struct {
		name   string
		opts   []Option
		stored uint64
	}{
		{"default", nil, 1},
		{"without deduplication", []Option{WithoutDeduplication()}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t, t.TempDir(), -1)
			tr := connect(t, s, c.opts...)
			msg := eventbus.OutgoingMessage{Topic: "t", ID: uuid.New(), Data: []byte("twice")}
			require.NoError(t, tr.Publish(testCtx(t, waitLong), msg))
			require.NoError(t, tr.Publish(testCtx(t, waitLong), msg))

			js, err := jetstream.New(tr.nc)
			require.NoError(t, err)
			st, err := js.Stream(testCtx(t, waitLong), streamNameFor("eventbus.t"))
			require.NoError(t, err)
			assert.Equal(t, c.stored, st.CachedInfo().State.Msgs)
		})
	}
}

func TestPublishRecreatesDeletedStream(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	publish(t, tr, "t", "one")
	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	require.NoError(t, js.DeleteStream(testCtx(t, waitLong), streamNameFor("eventbus.t")))
	publish(t, tr, "t", "two")
}

func TestConnectUnreachable(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	url := s.ClientURL()
	stopServer(s) // nothing listens on that port any more

	start := time.Now()
	_, err := Connect(testCtx(t, waitLong), url)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrConnect)
	assert.ErrorIs(t, err, natsgo.ErrNoServers)
	assert.Less(t, time.Since(start), waitLong)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Connect(ctx, url)
	assert.ErrorIs(t, err, ErrConnect)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestJetStreamDisabled(t *testing.T) {
	s := startPlainServer(t)
	_, err := Connect(testCtx(t, waitLong), s.ClientURL())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrJetStream)
	assert.ErrorIs(t, err, jetstream.ErrJetStreamNotEnabled)

	nc, err := natsgo.Connect(s.ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = New(testCtx(t, waitLong), js)
	assert.ErrorIs(t, err, ErrJetStream)
}

func TestStreamConflicts(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	ctx := testCtx(t, waitLong)
	noop := func(context.Context, eventbus.InboundMessage) {}

	// Same name and subject, other storage: cannot be changed.
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name: streamNameFor("eventbus.mem"), Subjects: []string{"eventbus.mem"}, Storage: jetstream.MemoryStorage,
	})
	require.NoError(t, err)
	err = tr.Publish(ctx, eventbus.OutgoingMessage{Topic: "mem", ID: uuid.New(), Data: []byte("x")})
	assert.ErrorIs(t, err, ErrStreamConflict)
	_, err = tr.Subscribe(ctx, eventbus.ConsumerConfig{Topic: "mem", Group: "g"}, noop)
	assert.ErrorIs(t, err, ErrStreamConflict)

	// Same name, other subjects: not the topic's stream.
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name: streamNameFor("eventbus.other"), Subjects: []string{"elsewhere"},
	})
	require.NoError(t, err)
	err = tr.Publish(ctx, eventbus.OutgoingMessage{Topic: "other", ID: uuid.New(), Data: []byte("x")})
	assert.ErrorIs(t, err, ErrStreamConflict)

	// Another stream already captures the subject.
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "CATCHALL", Subjects: []string{"eventbus.captured.>"}})
	require.NoError(t, err)
	err = tr.Publish(ctx, eventbus.OutgoingMessage{Topic: "captured.x", ID: uuid.New(), Data: []byte("x")})
	assert.ErrorIs(t, err, ErrStreamConflict)
	_, err = tr.Subscribe(ctx, eventbus.ConsumerConfig{Topic: "captured.x", Group: "g"}, noop)
	assert.ErrorIs(t, err, ErrStreamConflict)
}

func TestStreamLimitsUpdated(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	publish(t, connect(t, s), "t", "x")
	tr := connect(t, s, WithMaxAge(time.Hour), WithMaxBytes(1<<20))
	publish(t, tr, "t", "y")

	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	st, err := js.Stream(testCtx(t, waitLong), streamNameFor("eventbus.t"))
	require.NoError(t, err)
	cfg := st.CachedInfo().Config
	assert.Equal(t, time.Hour, cfg.MaxAge)
	assert.Equal(t, int64(1<<20), cfg.MaxBytes)
	assert.Equal(t, DefaultDuplicateWindow, cfg.Duplicates)
	assert.Equal(t, uint64(2), st.CachedInfo().State.Msgs)
}

func TestPublishHonoursContext(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	msg := eventbus.OutgoingMessage{Topic: "t", ID: uuid.New(), Data: []byte("x")}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, tr.Publish(ctx, msg), context.Canceled)

	// With the server gone the publish cannot be acknowledged: it must
	// give up when ctx does, not when the client does.
	require.NoError(t, tr.Publish(testCtx(t, waitLong), msg)) // the stream exists
	stopServer(s)
	start := time.Now()
	err := tr.Publish(testCtx(t, 200*time.Millisecond), eventbus.OutgoingMessage{Topic: "t", ID: uuid.New()})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestClose(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	nc, err := natsgo.Connect(s.ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	tr, err := New(testCtx(t, waitLong), js)
	require.NoError(t, err)

	ch, deliver := inbox()
	cons, err := tr.Subscribe(testCtx(t, waitLong), eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliver)
	require.NoError(t, err)
	publish(t, tr, "t", "x")
	m := receive(t, ch)

	require.NoError(t, tr.Close(testCtx(t, waitLong)))
	select {
	case <-cons.Done():
	default:
		t.Fatal("Close returned before the consumer was done")
	}
	require.NoError(t, tr.Close(testCtx(t, waitLong)), "Close is idempotent")
	assert.True(t, nc.IsConnected(), "Close left the caller's connection open")
	ack(t, m) // settling still works on the caller's connection

	err = tr.Publish(testCtx(t, waitLong), eventbus.OutgoingMessage{Topic: "t", ID: uuid.New()})
	assert.ErrorIs(t, err, eventbus.ErrBrokerClosed)
	_, err = tr.Subscribe(testCtx(t, waitLong), eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliver)
	assert.ErrorIs(t, err, eventbus.ErrBrokerClosed)
}

func TestCloseClosesOwnConnection(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr, err := Connect(testCtx(t, waitLong), s.ClientURL())
	require.NoError(t, err)
	_, deliver := inbox()
	_, err = tr.Subscribe(testCtx(t, waitLong), eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliver)
	require.NoError(t, err)
	require.NoError(t, tr.Close(testCtx(t, waitLong)))
	assert.True(t, tr.nc.IsClosed())
}

func TestSubscribeRejectsBadInput(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	_, deliver := inbox()
	ctx := testCtx(t, waitLong)
	cases := []struct {
		name    string
		cfg     eventbus.ConsumerConfig
		deliver func(context.Context, eventbus.InboundMessage)
		want    error
	}{
		{"empty topic", eventbus.ConsumerConfig{Group: "g"}, deliver, eventbus.ErrInvalidTopic},
		{"wildcard topic", eventbus.ConsumerConfig{Topic: "a.>", Group: "g"}, deliver, eventbus.ErrInvalidTopic},
		{"dotted group", eventbus.ConsumerConfig{Topic: "t", Group: "a.b"}, deliver, eventbus.ErrInvalidSubscriber},
		{"nil deliver", eventbus.ConsumerConfig{Topic: "t", Group: "g"}, nil, ErrInvalidOption},
		{"negative in flight", eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: -1}, deliver, ErrInvalidOption},
		{"negative deliveries", eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxDeliveries: -1}, deliver, ErrInvalidOption},
		{"negative ack timeout", eventbus.ConsumerConfig{Topic: "t", Group: "g", AckTimeout: -1}, deliver, ErrInvalidOption},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tr.Subscribe(ctx, tc.cfg, tc.deliver)
			assert.ErrorIs(t, err, tc.want)
		})
	}
	err := tr.Publish(ctx, eventbus.OutgoingMessage{Topic: "bad topic", ID: uuid.New()})
	assert.ErrorIs(t, err, eventbus.ErrInvalidTopic)
}

func TestOptionsRejectBadValues(t *testing.T) {
	cases := map[string][]Option{
		"nil option":         {nil},
		"empty prefix":       {WithSubjectPrefix("")},
		"wildcard prefix":    {WithSubjectPrefix("a.*")},
		"storage":            {WithStorage(jetstream.StorageType(7))},
		"max age":            {WithMaxAge(-time.Second)},
		"max bytes":          {WithMaxBytes(-1)},
		"replicas low":       {WithReplicas(0)},
		"replicas high":      {WithReplicas(6)},
		"duplicate window":   {WithDuplicateWindow(0)},
		"window over maxage": {WithMaxAge(time.Minute), WithDuplicateWindow(time.Hour)},
		"ack wait":           {WithAckWait(0)},
		"max ack pending":    {WithMaxAckPending(0)},
		"reconnect wait":     {WithReconnectWait(0)},
		"nil nats option":    {WithNATSOptions(nil)},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := newConfig(opts)
			assert.ErrorIs(t, err, ErrInvalidOption)
			_, err = Connect(context.Background(), "nats://127.0.0.1:1", opts...)
			assert.ErrorIs(t, err, ErrInvalidOption, "Connect validates options before dialling")
		})
	}

	s := startServer(t, t.TempDir(), -1)
	nc, err := natsgo.Connect(s.ClientURL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = New(testCtx(t, waitLong), js, WithReconnectWait(time.Second))
	assert.ErrorIs(t, err, ErrInvalidOption, "Connect-only option given to New")
	_, err = New(testCtx(t, waitLong), nil)
	assert.ErrorIs(t, err, ErrInvalidOption)

	cfg, err := newConfig([]Option{WithMaxAge(30 * time.Second)})
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, cfg.duplicateWindow, "the duplicate window defaults to at most the max age")
}

func TestSubjectPrefixAndMemoryStorage(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s, WithSubjectPrefix("acme.events"), WithStorage(jetstream.MemoryStorage))
	ch, deliver := inbox()
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliver)
	publish(t, tr, "t", "x")
	ack(t, receive(t, ch))

	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	st, err := js.Stream(testCtx(t, waitLong), streamNameFor("acme.events.t"))
	require.NoError(t, err)
	assert.Equal(t, []string{"acme.events.t"}, st.CachedInfo().Config.Subjects)
	assert.Equal(t, jetstream.MemoryStorage, st.CachedInfo().Config.Storage)
}

func TestStreamNames(t *testing.T) {
	names := map[string]string{}
	for _, subject := range []string{"eventbus.a.b", "eventbus.a_b", "eventbus.a-b", "x.a.b", "eventbus.A.b"} {
		name := streamNameFor(subject)
		assert.NotContains(t, name, ".")
		if prev, ok := names[name]; ok {
			t.Errorf("%q and %q share the stream name %q", prev, subject, name)
		}
		names[name] = subject
	}
	long := streamNameFor("eventbus." + string(make([]byte, 300)))
	assert.LessOrEqual(t, len(long), 255)
	assert.Equal(t, streamNameFor("eventbus.a.b"), streamNameFor("eventbus.a.b"), "stable")
}

func TestErrorsMatch(t *testing.T) {
	for _, err := range []error{ErrInvalidOption, ErrConnect, ErrJetStream, ErrStreamConflict} {
		assert.Regexp(t, "^nats: [a-z]", err.Error())
	}
}

func TestConsumerSetsUpAgainWhenDeleted(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	js, err := jetstream.New(tr.nc)
	require.NoError(t, err)
	ch, deliver := inbox()
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliver)
	stream := streamNameFor("eventbus.t")

	// Waiting until the group is back is needed: a new group starts with
	// the events published after it is created.
	groupBack := func() bool {
		_, err := js.Consumer(testCtx(t, waitLong), stream, "g")
		return err == nil
	}
	for i, drop := range []func() error{
		func() error { return js.DeleteConsumer(testCtx(t, waitLong), stream, "g") },
		func() error { return js.DeleteStream(testCtx(t, waitLong), stream) },
	} {
		require.NoError(t, drop())
		require.Eventually(t, groupBack, waitLong, 10*time.Millisecond)
		publish(t, tr, "t", fmt.Sprint("after ", i))
		m := receive(t, ch)
		assert.Equal(t, fmt.Sprint("after ", i), string(m.Data()))
		ack(t, m)
	}
}

func TestDoubleAck(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s, WithDoubleAck())
	ch, deliver := inbox()
	subscribe(t, tr, eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliver)
	publish(t, tr, "t", "x")
	m := receive(t, ch)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, m.Ack(cancelled), context.Canceled, "a double ack waits for the server, bounded by ctx")
	ack(t, m)
}

func TestSettleOnClosedConnection(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr, err := Connect(testCtx(t, waitLong), s.ClientURL())
	require.NoError(t, err)
	ch, deliver := inbox()
	_, err = tr.Subscribe(testCtx(t, waitLong), eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliver)
	require.NoError(t, err)
	publish(t, tr, "t", "x")
	m := receive(t, ch)
	require.NoError(t, tr.Close(testCtx(t, waitLong)))
	assert.ErrorIs(t, m.Ack(context.Background()), eventbus.ErrBrokerClosed)
}

func TestSubscribeHonoursContext(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, deliver := inbox()
	_, err := tr.Subscribe(ctx, eventbus.ConsumerConfig{Topic: "t", Group: "g"}, deliver)
	assert.ErrorIs(t, err, context.Canceled)
	_, err = Connect(context.Background(), "")
	assert.ErrorIs(t, err, ErrInvalidOption)
}
