package nats

import (
	"context"
	"fmt"
	"strings"
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
	// Done waits until the server has ended the stopped consumer's last
	// pull request, so the Nak'ed message can only go to the next
	// subscriber's, at once: the ack wait (30s) is longer than the test
	// waits.
	cfg := eventbus.ConsumerConfig{Topic: "t", Group: "g"}
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
	assert.Equal(t, 2, m.Deliveries())
	ack(t, m)
}

func TestStopHandsBackFetchedMessages(t *testing.T) {
	s := startServer(t, t.TempDir(), -1)
	tr := connect(t, s)
	// One message is stuck in deliver, the others are fetched ahead; Stop
	// hands them back, and deliver Naks its own. None of them may wait for
	// the ack wait (30s), which is longer than the test waits.
	cfg := eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: 4}
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

// The hand-back tests publish handBackTotal events to a group of two
// subscribers, stop the first while it holds fetched messages that it has
// not passed on, and require every event that it did not acknowledge to
// reach the second within handBackBound, far below the ack wait.
const (
	handBackTotal    = 5000
	handBackInFlight = 1024 // the bus's default queue capacity
	handBackAckWait  = 30 * time.Second
	handBackBound    = 2 * time.Second
)

// TestStopHandsBackEveryFetchedMessage runs the hand-back tests with the
// second subscriber started before the first stops or once it is done, and
// on a connection of its own or on the first one's Transport. The first is
// stopped in two ways: while the server is still sending it a whole batch,
// and, as the bus stops a subscription, with part of a batch in its queue
// that it Naks right after Stop, while its pull request still has room.
func TestStopHandsBackEveryFetchedMessage(t *testing.T) {
	for _, sc := range []struct {
		name string
		run  func(t *testing.T, r *handBackRig, otherFirst bool)
	}{
		{"mid-batch", stopMidBatch},
		{"queue", stopWithQueue},
	} {
		for _, shared := range []bool{false, true} {
			for _, otherFirst := range []bool{true, false} {
				name := fmt.Sprintf("%s/shared=%v/other first=%v", sc.name, shared, otherFirst)
				t.Run(name, func(t *testing.T) { sc.run(t, newHandBackRig(t, shared), otherFirst) })
			}
		}
	}
}

// stopMidBatch stops the first subscriber as its second pull begins, with
// every event published already, so that the server is sending it a whole
// batch of large events. The first pull's events are acknowledged.
func stopMidBatch(t *testing.T, r *handBackRig, otherFirst bool) {
	published := make(chan struct{})
	secondPull := make(chan struct{})
	n := 0 // only deliver, on the consumer's goroutine, uses it
	consA := subscribe(t, r.trA, r.cfg, func(ctx context.Context, m eventbus.InboundMessage) {
		n++
		if n == 1 {
			// Wait for the backlog, so that the second pull is served
			// from it at once.
			select {
			case <-published:
			case <-ctx.Done():
				_ = m.Nak(context.Background(), 0)
				return
			}
		}
		if n <= handBackInFlight {
			r.settle(m)
			return
		}
		if n == handBackInFlight+1 {
			close(secondPull)
		}
		<-ctx.Done()
		_ = m.Nak(context.Background(), 0)
	})
	publishRange(t, r.trA, "t", 0, handBackTotal, 4<<10)
	otherGate := make(chan struct{})
	if otherFirst {
		// It takes a batch of its own and holds it until the first stops.
		r.subscribeOther(t, otherGate)
	}
	close(published)
	waitFor(t, secondPull, "the first subscriber's second pull")
	consA.Stop()
	if otherFirst {
		close(otherGate)
		r.waitAll(t, "the first subscriber's Stop")
		return
	}
	stopAndWait(t, consA)
	r.subscribeOther(t, nil)
	r.waitAll(t, "the second subscriber's start")
}

// stopWithQueue stops the first subscriber as the bus stops a subscription
// whose handler is busy: it queues what it is handed, acknowledges 1000
// events of the first 1500, and Naks the other 500 right after Stop, while
// the pull that brought them still has room. The remaining events are
// published after Stop.
func stopWithQueue(t *testing.T, r *handBackRig, otherFirst bool) {
	const first, taken = 1500, 1000
	queue := make(chan eventbus.InboundMessage, handBackInFlight)
	allQueued := make(chan struct{})
	queued := 0 // only deliver, on the consumer's goroutine, uses it
	consA := subscribe(t, r.trA, r.cfg, func(ctx context.Context, m eventbus.InboundMessage) {
		select {
		case queue <- m:
		case <-ctx.Done():
			_ = m.Nak(context.Background(), 0)
			return
		}
		if queued++; queued == first {
			close(allQueued)
		}
	})
	handlerDone := make(chan struct{})
	quit := make(chan struct{})
	defer func() { close(quit); <-handlerDone }()
	go func() {
		defer close(handlerDone)
		for range taken {
			select {
			case m := <-queue:
				r.settle(m)
			case <-quit:
				return
			}
		}
	}()
	nakQueued := func() {
		for {
			select {
			case m := <-queue:
				require.NoError(t, m.Nak(context.Background(), 0))
			default:
				return
			}
		}
	}

	publishRange(t, r.trA, "t", 0, first, 0)
	waitFor(t, allQueued, "the first subscriber to be handed every event published")
	waitFor(t, handlerDone, "the first subscriber to acknowledge its share")
	if otherFirst {
		r.subscribeOther(t, nil)
	}
	consA.Stop()
	nakQueued()
	publishRange(t, r.trA, "t", first, handBackTotal, 0)
	stopAndWait(t, consA)
	nakQueued() // what deliver queued as Stop came
	if !otherFirst {
		r.subscribeOther(t, nil)
	}
	r.waitAll(t, "the last publish")
}

// handBackRig holds the two subscribers' transports and the events that
// the group acknowledged.
type handBackRig struct {
	trA, trB *Transport
	cfg      eventbus.ConsumerConfig

	mu    sync.Mutex
	acked map[string]bool
	all   chan struct{} // closed once every event is acknowledged
}

func newHandBackRig(t *testing.T, shared bool) *handBackRig {
	s := startServer(t, t.TempDir(), -1)
	r := &handBackRig{
		trA:   connect(t, s),
		cfg:   eventbus.ConsumerConfig{Topic: "t", Group: "g", MaxInFlight: handBackInFlight, AckTimeout: handBackAckWait},
		acked: make(map[string]bool, handBackTotal),
		all:   make(chan struct{}),
	}
	r.trB = r.trA
	if !shared {
		r.trB = connect(t, s)
	}
	return r
}

// settle acknowledges m and records its event; deliver funcs call it.
func (r *handBackRig) settle(m eventbus.InboundMessage) {
	if err := m.Ack(context.Background()); err != nil {
		return // delivered again later
	}
	id, _, _ := strings.Cut(string(m.Data()), " ")
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.acked[id] {
		r.acked[id] = true
		if len(r.acked) == handBackTotal {
			close(r.all)
		}
	}
}

// subscribeOther starts the second subscriber, which acknowledges what it
// gets; its first delivery waits until gate is closed, if gate is not nil.
func (r *handBackRig) subscribeOther(t *testing.T, gate <-chan struct{}) {
	t.Helper()
	subscribe(t, r.trB, r.cfg, func(ctx context.Context, m eventbus.InboundMessage) {
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				_ = m.Nak(context.Background(), 0)
				return
			}
		}
		r.settle(m)
	})
}

// waitAll fails the test unless every event is acknowledged within
// handBackBound from now, which is just after since.
func (r *handBackRig) waitAll(t *testing.T, since string) {
	t.Helper()
	start := time.Now()
	select {
	case <-r.all:
		t.Logf("every event acknowledged %v after %s", time.Since(start), since)
	case <-time.After(handBackBound):
		r.mu.Lock()
		n := len(r.acked)
		r.mu.Unlock()
		t.Fatalf("%d of %d events acknowledged %v after %s; the others wait for the ack wait (%v)",
			n, handBackTotal, handBackBound, since, handBackAckWait)
	}
}

// publishRange publishes the events from to to-1 on topic, from several
// goroutines at once. An event's data is its number, a space, and pad
// bytes.
func publishRange(t *testing.T, tr *Transport, topic string, from, to, pad int) {
	t.Helper()
	const publishers = 8
	ctx := testCtx(t, waitLong)
	padding := strings.Repeat("x", pad)
	errs := make(chan error, publishers)
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := from + p; i < to; i += publishers {
				data := []byte(fmt.Sprint(i, " ", padding))
				if err := tr.Publish(ctx, eventbus.OutgoingMessage{Topic: topic, ID: uuid.New(), Data: data}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLong):
		t.Fatalf("timed out after %v waiting for %s", waitLong, what)
	}
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
		"max pending pubs":   {WithMaxPendingPublishes(0)},
		"reconnect wait":     {WithReconnectWait(0)},
		"nil nats option":    {WithNATSOptions(nil)},
		"empty stream name":  {WithSharedStream("")},
		"dotted stream name": {WithSharedStream("a.b")},
		"long stream name":   {WithSharedStream(strings.Repeat("s", 201))},
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
		assert.Regexp(t, "^eventbus/nats: [a-z]", err.Error())
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
