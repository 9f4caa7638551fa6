// Package eventbustest is the conformance suite for eventbus transports.
// A broker adapter runs it from one of its tests:
//
//	func TestConformance(t *testing.T) {
//		eventbustest.Run(t, eventbustest.Harness{
//			Connect: func(t *testing.T) (eventbus.Transport, func()) { ... },
//			Restart: func(t *testing.T) { ... },
//		})
//	}
//
// The suite checks, through the bus's public API, what the eventbus.Transport
// documentation promises: a publish/subscribe round trip that keeps the
// whole envelope, fan-out to different subscriber names, competing consumers
// within a name, per-key ordering within one process, redelivery after a
// handler error, dead-lettering after the maximum number of deliveries and
// of a message that does not decode, no loss across a broker restart in the
// middle of a stream, ctx cancellation, Close draining in-flight work, and no
// goroutine left behind. For a transport that implements
// eventbus.ReplayTransport it also checks replay (see Harness.Discard):
// new groups that start at the oldest event, at a broker position or at a
// time, the hand-off from the past to the live events while a publisher
// runs, and the error for a start before the oldest event kept. For a
// transport that takes pattern subscriptions (see Harness.Patterns) it
// checks eventbus.Bus.SubscribePattern: topics of several payload types
// published by another process, topics created after the subscription,
// a pattern group apart from the plain group of the same name, competing
// consumers and redelivery within a pattern group, and the dead letter of
// an event whose topic the subscribing process does not know.
//
// It uses only the standard library, so that adapters import it cheaply. Its subtests run one after another on the
// broker the harness provides; each uses topics of its own, so a broker that
// is shared with other tests is fine.
package eventbustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/busline/eventbus"
)

// Harness describes the broker under test.
type Harness struct {
	// Connect returns a new transport to the broker, as a new process would
	// make, and a function that closes it. It is called several times by
	// some subtests; the suite closes every transport it got.
	Connect func(t *testing.T) (eventbus.Transport, func())
	// Restart stops the broker and starts it again with the state it had
	// stored, as after a crash; transports connected before must reconnect
	// on their own.
	Restart func(t *testing.T)
	// ConnectShared, when set, is Connect for the cases whose processes
	// compete for one topic's events under one subscriber name
	// (CompetingConsumers, PatternCompetingConsumers). A broker that shares
	// a topic among a group's processes part by part (Kafka's partitions)
	// needs topics of several parts there, and, elsewhere, topics of one
	// part, where the suite reads every event back in publish order (the
	// replay cases). Unset, those cases use Connect.
	ConnectShared func(t *testing.T) (eventbus.Transport, func())
	// Timeout bounds each wait for an event. Zero means 20 seconds.
	Timeout time.Duration
	// Discard makes the broker drop the messages of the topic at positions
	// below before (the broker's positions, see eventbus.Positioned), and
	// none at or above it, as its retention limits would once they are old
	// enough. A broker that numbers the messages of several topics in one
	// log may drop the other topics' messages below before too, as its
	// limits would. It is required when Connect's transports implement
	// eventbus.ReplayTransport: the suite uses it to check that a start
	// before the oldest message kept fails.
	Discard func(t *testing.T, topic string, before uint64)
	// Patterns says that Connect's transports take pattern subscriptions:
	// they implement eventbus.PatternTransport and, configured as Connect
	// configures them, do not refuse patterns (with errors.ErrUnsupported).
	// The suite then runs its pattern cases; Run fails if Patterns is set
	// and the transports do not implement eventbus.PatternTransport.
	Patterns bool
	// ServerPackages lists import paths of a broker that runs inside the
	// test process (an embedded server): when the suite checks that closing
	// the buses and transports left no goroutine behind, goroutines whose
	// stack mentions one of them belong to the server and are not counted.
	ServerPackages []string
}

// Run runs every conformance test against h as subtests of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Connect == nil || h.Restart == nil {
		t.Fatal("eventbustest: Harness needs both Connect and Restart")
	}
	if h.Timeout <= 0 {
		h.Timeout = 20 * time.Second
	}
	tests := []conformanceTest{
		{"RoundTrip", testRoundTrip},
		{"FanOutToNames", testFanOutToNames},
		{"CompetingConsumers", testCompetingConsumers},
		{"PerKeyOrdering", testPerKeyOrdering},
		{"PublishBatch", testPublishBatch},
		{"RedeliveryAfterError", testRedeliveryAfterError},
		{"DeadLetterAfterMaxDeliveries", testDeadLetterAfterMaxDeliveries},
		{"UndecodableMessage", testUndecodableMessage},
		{"RestartMidStream", testRestartMidStream},
		{"ContextCancellation", testContextCancellation},
		{"CloseDrainsInFlight", testCloseDrainsInFlight},
		{"NoLeakedGoroutines", testNoLeakedGoroutines},
	}
	tests = append(tests, replayTests(t, h)...)
	tests = append(tests, patternTests(t, h)...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &suite{h: h}
			tt.run(t, s)
		})
	}
}

// conformanceTest is one subtest of Run.
type conformanceTest struct {
	name string
	run  func(t *testing.T, s *suite)
}

// Payload is the payload of the suite's events.
type Payload struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

// suite holds one subtest's transports and buses.
type suite struct {
	h Harness
}

// connect returns a new transport, closed when the test ends (after the
// buses using it, which are closed first because their cleanups were
// registered later).
func (s *suite) connect(t *testing.T) eventbus.Transport {
	t.Helper()
	tr, closeTransport := s.h.Connect(t)
	if tr == nil {
		t.Fatal("eventbustest: Connect returned a nil transport")
	}
	t.Cleanup(closeTransport)
	return tr
}

// connectShared is connect for the competing-consumers cases (see
// Harness.ConnectShared).
func (s *suite) connectShared(t *testing.T) eventbus.Transport {
	t.Helper()
	if s.h.ConnectShared == nil {
		return s.connect(t)
	}
	tr, closeTransport := s.h.ConnectShared(t)
	if tr == nil {
		t.Fatal("eventbustest: ConnectShared returned a nil transport")
	}
	t.Cleanup(closeTransport)
	return tr
}

// probeTransport connects to h's broker, closes the transport at once and
// returns it, for Run to find out which optional interfaces it implements.
func probeTransport(t *testing.T, h Harness) eventbus.Transport {
	t.Helper()
	tr, closeTransport := h.Connect(t)
	if tr == nil {
		t.Fatal("eventbustest: Connect returned a nil transport")
	}
	closeTransport()
	return tr
}

// newBus returns a bus over tr with quick redeliveries, closed when the
// test ends.
func (s *suite) newBus(t *testing.T, tr eventbus.Transport, opts ...eventbus.Option) *eventbus.Bus {
	t.Helper()
	opts = append([]eventbus.Option{
		eventbus.WithTransport(tr),
		eventbus.WithRedelivery(eventbus.RetryPolicy{MaxAttempts: 3, InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond}),
		eventbus.WithErrorHandler(func(context.Context, *eventbus.DeliveryError) {}),
	}, opts...)
	b, err := eventbus.New(opts...)
	if err != nil {
		t.Fatalf("eventbus.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// topicName returns a topic name no other test uses.
func topicName(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "conformance." + hex.EncodeToString(b[:])
}

func topic(t *testing.T, b *eventbus.Bus, name string) *eventbus.Topic[Payload] {
	t.Helper()
	tp, err := eventbus.NewTopic[Payload](b, name)
	if err != nil {
		t.Fatalf("NewTopic(%q): %v", name, err)
	}
	return tp
}

func subscribe[T any](t *testing.T, tp *eventbus.Topic[T], name string, h eventbus.Handler[T], opts ...eventbus.SubscribeOption) *eventbus.Subscription {
	t.Helper()
	sub, err := tp.Subscribe(name, h, opts...)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", name, err)
	}
	return sub
}

func publish(t *testing.T, tp *eventbus.Topic[Payload], p Payload, opts ...eventbus.PublishOption) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tp.Publish(ctx, p, opts...); err != nil {
		t.Fatalf("Publish(%+v): %v", p, err)
	}
}

// record collects the events handlers saw, for waits on them.
type record[T any] struct {
	mu      sync.Mutex
	events  []*eventbus.Event[T]
	changed chan struct{}
}

func newRecord[T any]() *record[T] { return &record[T]{changed: make(chan struct{}, 1)} }

func (r *record[T]) add(e *eventbus.Event[T]) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *record[T]) handler() eventbus.Handler[T] {
	return func(_ context.Context, e *eventbus.Event[T]) error {
		r.add(e)
		return nil
	}
}

func (r *record[T]) snapshot() []*eventbus.Event[T] {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// waitFor waits until done is true of the recorded events, failing the test
// after timeout.
func (r *record[T]) waitFor(t *testing.T, timeout time.Duration, what string, done func([]*eventbus.Event[T]) bool) []*eventbus.Event[T] {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if evs := r.snapshot(); done(evs) {
			return evs
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s; have %d events", timeout, what, len(r.snapshot()))
		}
	}
}

func (r *record[T]) waitCount(t *testing.T, timeout time.Duration, n int) []*eventbus.Event[T] {
	t.Helper()
	return r.waitFor(t, timeout, fmt.Sprintf("%d events", n), func(evs []*eventbus.Event[T]) bool { return len(evs) >= n })
}

// distinct returns the payload numbers seen, each once.
func distinct(evs []*eventbus.Event[Payload]) map[int]int {
	seen := make(map[int]int, len(evs))
	for _, e := range evs {
		seen[e.Payload.N]++
	}
	return seen
}

// quiet checks that nothing more arrives at r for a short while, for the
// tests that assert the absence of a redelivery.
func quiet[T any](t *testing.T, r *record[T], settle <-chan struct{}) {
	t.Helper()
	before := len(r.snapshot())
	<-settle
	if after := len(r.snapshot()); after != before {
		t.Fatalf("%d unexpected events arrived", after-before)
	}
}

// The trace context that testRoundTrip's publish hook sets on its first
// event.
const (
	suiteTraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	suiteTraceState  = "suite=1"
)

// testRoundTrip: every part of the envelope crosses the broker, the trace
// context set by a publish hook included.
func testRoundTrip(t *testing.T, s *suite) {
	traced := func(_ context.Context, env *eventbus.Envelope) func(eventbus.Message, error) {
		if env.Key == "k1" {
			env.SetTraceContext(suiteTraceParent, suiteTraceState)
		}
		return nil
	}
	b := s.newBus(t, s.connect(t), eventbus.WithSource("/conformance"), eventbus.WithPublishHook(traced))
	tp := topic(t, b, topicName(t))
	got := newRecord[Payload]()
	subscribe(t, tp, "reader", got.handler())

	ctx := eventbus.ContextWithCorrelationID(context.Background(), "corr-1")
	if err := tp.Publish(ctx, Payload{N: 1, Text: "héllo"}, eventbus.WithKey("k1"), eventbus.WithMetadata("origin", "suite")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	publish(t, tp, Payload{N: 2, Text: "second"})
	evs := got.waitCount(t, s.h.Timeout, 2)
	slices.SortFunc(evs, func(a, b *eventbus.Event[Payload]) int { return a.Payload.N - b.Payload.N })
	e := evs[0]
	if e.Payload != (Payload{N: 1, Text: "héllo"}) {
		t.Errorf("payload = %+v", e.Payload)
	}
	if e.Topic != tp.Name() || e.Key != "k1" || e.CorrelationID != "corr-1" || e.Metadata["origin"] != "suite" {
		t.Errorf("envelope = %+v", e.Envelope)
	}
	if e.ID.Version() != 7 || e.Time.IsZero() || e.Sequence == 0 {
		t.Errorf("envelope lacks its stamp: %+v", e.Envelope)
	}
	if parent, state := e.TraceContext(); parent != suiteTraceParent || state != suiteTraceState {
		t.Errorf("trace context = %q %q, want %q %q", parent, state, suiteTraceParent, suiteTraceState)
	}
	if parent, state := evs[1].TraceContext(); parent != "" || state != "" {
		t.Errorf("second event's trace context = %q %q, want none", parent, state)
	}
	if evs[1].ID == e.ID || evs[1].Sequence <= e.Sequence {
		t.Errorf("second event's ID/sequence %v/%d after %v/%d", evs[1].ID, evs[1].Sequence, e.ID, e.Sequence)
	}
	if evs[1].CorrelationID != evs[1].ID.String() {
		t.Errorf("root event's correlation ID = %q, want its own ID", evs[1].CorrelationID)
	}
}

func testFanOutToNames(t *testing.T, s *suite) {
	name := topicName(t)
	b1 := s.newBus(t, s.connect(t))
	b2 := s.newBus(t, s.connect(t))
	analytics, notify := newRecord[Payload](), newRecord[Payload]()
	subscribe(t, topic(t, b1, name), "analytics", analytics.handler())
	subscribe(t, topic(t, b2, name), "notifications", notify.handler())
	tp := topic(t, b1, name)
	const n = 20
	for i := range n {
		publish(t, tp, Payload{N: i})
	}
	for _, r := range []*record[Payload]{analytics, notify} {
		evs := r.waitFor(t, s.h.Timeout, "every event", func(evs []*eventbus.Event[Payload]) bool { return len(distinct(evs)) == n })
		if len(evs) != n {
			t.Errorf("%d deliveries of %d events without any failure", len(evs), n)
		}
	}
}

func testCompetingConsumers(t *testing.T, s *suite) {
	name := topicName(t)
	b1 := s.newBus(t, s.connectShared(t))
	b2 := s.newBus(t, s.connectShared(t))
	shared := newRecord[Payload]()
	var mu sync.Mutex
	byBus := map[string]int{}
	started := map[string]chan struct{}{"b1": make(chan struct{}), "b2": make(chan struct{})}
	var onces [2]sync.Once
	handlerOf := func(bus, other string, once *sync.Once) eventbus.Handler[Payload] {
		return func(ctx context.Context, e *eventbus.Event[Payload]) error {
			mu.Lock()
			byBus[bus]++
			mu.Unlock()
			shared.add(e)
			once.Do(func() { close(started[bus]) })
			// Each process holds its events until the other has started
			// one: with at most a few events in flight per process, the
			// broker must give the other some of the work, whichever
			// process's consumer comes first.
			select {
			case <-started[other]:
			case <-ctx.Done():
			}
			return nil
		}
	}
	subscribe(t, topic(t, b1, name), "workers", handlerOf("b1", "b2", &onces[0]), eventbus.WithQueueCapacity(1))
	subscribe(t, topic(t, b2, name), "workers", handlerOf("b2", "b1", &onces[1]), eventbus.WithQueueCapacity(1))
	tp := topic(t, b1, name)
	const n = 40
	for i := range n {
		publish(t, tp, Payload{N: i})
	}
	evs := shared.waitFor(t, s.h.Timeout, "every event", func(evs []*eventbus.Event[Payload]) bool { return len(distinct(evs)) == n })
	for n, times := range distinct(evs) {
		if times != 1 {
			t.Errorf("event %d handled %d times within one name", n, times)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if byBus["b1"] == 0 || byBus["b2"] == 0 {
		t.Errorf("work was not shared: %v", byBus)
	}
}

func testPerKeyOrdering(t *testing.T, s *suite) {
	b := s.newBus(t, s.connect(t))
	tp := topic(t, b, topicName(t))
	got := newRecord[Payload]()
	subscribe(t, tp, "ordered", got.handler(), eventbus.WithConcurrency(4))
	const keys, perKey = 4, 25
	for i := range keys * perKey {
		publish(t, tp, Payload{N: i, Text: fmt.Sprintf("k%d", i%keys)}, eventbus.WithKey(fmt.Sprintf("k%d", i%keys)))
	}
	evs := got.waitCount(t, s.h.Timeout, keys*perKey)
	last := map[string]int{}
	for _, e := range evs {
		if prev, ok := last[e.Key]; ok && e.Payload.N <= prev {
			t.Fatalf("key %s: event %d handled after %d", e.Key, e.Payload.N, prev)
		}
		last[e.Key] = e.Payload.N
	}
}

func testRedeliveryAfterError(t *testing.T, s *suite) {
	b := s.newBus(t, s.connect(t))
	tp := topic(t, b, topicName(t))
	calls := newRecord[Payload]()
	var mu sync.Mutex
	attempts := map[int]int{}
	subscribe(t, tp, "flaky", func(ctx context.Context, e *eventbus.Event[Payload]) error {
		mu.Lock()
		attempts[e.Payload.N]++
		a := attempts[e.Payload.N]
		mu.Unlock()
		calls.add(e)
		if a < 3 {
			return fmt.Errorf("transient failure %d", a)
		}
		return nil
	})
	publish(t, tp, Payload{N: 7})
	evs := calls.waitCount(t, s.h.Timeout, 3)
	for _, e := range evs {
		if e.ID != evs[0].ID {
			t.Fatalf("redelivery changed the event: %v then %v", evs[0].ID, e.ID)
		}
	}
	// The third delivery succeeded: nothing more may come, not even after
	// the broker's ack deadline for a tiny test.
	settled := make(chan struct{})
	time.AfterFunc(200*time.Millisecond, func() { close(settled) })
	quiet(t, calls, settled)
	if st := b.Stats().Totals; st.Delivered != 1 || st.Failed != 2 {
		t.Errorf("stats: delivered %d, failed %d; want 1 and 2", st.Delivered, st.Failed)
	}
}

// deadLetters subscribes, under a name of its own, to the dead letters of
// tp's events: the dead-letter topic is shared by every test.
func deadLetters(t *testing.T, b *eventbus.Bus, tp *eventbus.Topic[Payload]) *record[eventbus.FailedDelivery] {
	t.Helper()
	return deadLettersOf(t, b, tp.Name())
}

// deadLettersOf subscribes, under a name of its own, to the dead letters
// of the events of the topic named name.
func deadLettersOf(t *testing.T, b *eventbus.Bus, name string) *record[eventbus.FailedDelivery] {
	t.Helper()
	dead, err := eventbus.NewTopic[eventbus.FailedDelivery](b, eventbus.DefaultDeadLetterTopic)
	if err != nil {
		t.Fatal(err)
	}
	letters := newRecord[eventbus.FailedDelivery]()
	subscribe(t, dead, "dlq-"+strings.ReplaceAll(strings.TrimPrefix(name, "conformance."), ".", "-"), letters.handler(),
		eventbus.WithFilter(func(e *eventbus.Event[eventbus.FailedDelivery]) bool { return e.Payload.Envelope.Topic == name }))
	return letters
}

func testDeadLetterAfterMaxDeliveries(t *testing.T, s *suite) {
	b := s.newBus(t, s.connect(t))
	tp := topic(t, b, topicName(t))
	letters := deadLetters(t, b, tp)
	calls := newRecord[Payload]()
	subscribe(t, tp, "broken", func(ctx context.Context, e *eventbus.Event[Payload]) error {
		calls.add(e)
		return errors.New("always fails")
	})
	publish(t, tp, Payload{N: 1}, eventbus.WithKey("poison"))
	evs := letters.waitCount(t, s.h.Timeout, 1)
	dl := evs[0]
	if n := len(calls.snapshot()); n != 3 {
		t.Errorf("handler called %d times before the dead letter, want 3", n)
	}
	first := calls.snapshot()[0]
	if dl.Payload.Subscriber != "broken" || dl.Payload.Attempts != 3 || dl.Payload.Error != "always fails" ||
		dl.Payload.Envelope.ID != first.ID || dl.CausationID != first.ID || dl.CorrelationID != first.CorrelationID {
		t.Errorf("dead letter = %+v (envelope %+v)", dl.Payload, dl.Envelope)
	}
	if err := eventbus.Republish(context.Background(), tp, dl.Payload); err != nil {
		t.Errorf("Republish: %v", err)
	}
}

func testUndecodableMessage(t *testing.T, s *suite) {
	tr := s.connect(t)
	b := s.newBus(t, tr)
	tp := topic(t, b, topicName(t))
	letters := deadLetters(t, b, tp)
	got := newRecord[Payload]()
	subscribe(t, tp, "reader", got.handler())

	ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
	defer cancel()
	garbage := []byte(`{"specversion":"1.0","id":"not-a-uuid","data":`)
	if err := tr.Publish(ctx, eventbus.OutgoingMessage{Topic: tp.Name(), Data: garbage}); err != nil {
		t.Fatalf("raw publish: %v", err)
	}
	publish(t, tp, Payload{N: 2})
	got.waitCount(t, s.h.Timeout, 1) // the bad message did not block the good one
	dl := letters.waitCount(t, s.h.Timeout, 1)[0].Payload
	if string(dl.Data) != string(garbage) || dl.Subscriber != "reader" || dl.Error == "" || dl.Payload != nil {
		t.Errorf("dead letter of the undecodable message = %+v", dl)
	}
	if evs := got.snapshot(); len(evs) != 1 || evs[0].Payload.N != 2 {
		t.Errorf("handler got %d events", len(evs))
	}
}

func testRestartMidStream(t *testing.T, s *suite) {
	name := topicName(t)
	b := s.newBus(t, s.connect(t))
	got := newRecord[Payload]()
	subscribe(t, topic(t, b, name), "durable", got.handler())
	tp := topic(t, b, name)
	const half = 25
	publishRetrying := func(n int) {
		t.Helper()
		deadline := time.Now().Add(s.h.Timeout)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := tp.Publish(ctx, Payload{N: n})
			cancel()
			if err == nil {
				return
			}
			if !errors.Is(err, eventbus.ErrTransport) {
				t.Fatalf("Publish(%d) during a restart: %v, want an error matching ErrTransport", n, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("Publish(%d) kept failing after the restart: %v", n, err)
			}
		}
	}
	for i := range half {
		publishRetrying(i)
	}
	got.waitCount(t, s.h.Timeout, 1)
	s.h.Restart(t)
	for i := half; i < 2*half; i++ {
		publishRetrying(i)
	}
	got.waitFor(t, s.h.Timeout, "every event published before and after the restart", func(evs []*eventbus.Event[Payload]) bool {
		return len(distinct(evs)) == 2*half
	})
}

func testContextCancellation(t *testing.T, s *suite) {
	b := s.newBus(t, s.connect(t))
	tp := topic(t, b, topicName(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tp.Publish(ctx, Payload{N: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled ctx = %v, want context.Canceled", err)
	}

	// A handler's ctx ends when its subscription is stopped.
	started := make(chan struct{})
	ended := make(chan error, 1)
	var once sync.Once
	sub := subscribe(t, tp, "stoppable", func(ctx context.Context, e *eventbus.Event[Payload]) error {
		once.Do(func() { close(started) })
		<-ctx.Done()
		select {
		case ended <- ctx.Err():
		default:
		}
		return ctx.Err()
	})
	publish(t, tp, Payload{N: 2})
	waitClosed(t, s.h.Timeout, started, "the handler to start")
	sub.Unsubscribe()
	select {
	case err := <-ended:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler ctx ended with %v", err)
		}
	case <-time.After(s.h.Timeout):
		t.Fatal("handler ctx not cancelled by Unsubscribe")
	}
	waitClosed(t, s.h.Timeout, sub.Done(), "the subscription to stop")
}

func testCloseDrainsInFlight(t *testing.T, s *suite) {
	name := topicName(t)
	tr := s.connect(t)
	b, err := eventbus.New(eventbus.WithTransport(tr), eventbus.WithErrorHandler(func(context.Context, *eventbus.DeliveryError) {}))
	if err != nil {
		t.Fatal(err)
	}
	tp := topic(t, b, name)
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	handled := newRecord[Payload]()
	subscribe(t, tp, "drainer", func(ctx context.Context, e *eventbus.Event[Payload]) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
		handled.add(e)
		return nil
	})
	const n = 5
	for i := range n {
		publish(t, tp, Payload{N: i})
	}
	waitClosed(t, s.h.Timeout, started, "the first handler")
	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
		defer cancel()
		closed <- b.Close(ctx)
	}()
	close(release)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(s.h.Timeout):
		t.Fatal("Close did not return")
	}
	before := distinct(handled.snapshot())
	if before[0] != 1 {
		t.Fatalf("the event in flight when Close began was not finished: %v", before)
	}

	// A new process with the same subscriber name gets what the first did
	// not handle, and nothing that it acknowledged.
	b2 := s.newBus(t, s.connect(t))
	after := newRecord[Payload]()
	tp2 := topic(t, b2, name)
	subscribe(t, tp2, "drainer", after.handler())
	const marker = 1000
	publish(t, tp2, Payload{N: marker})
	after.waitFor(t, s.h.Timeout, "the rest of the events and a marker", func(evs []*eventbus.Event[Payload]) bool {
		seen := distinct(evs)
		return seen[marker] > 0 && len(before)+len(seen)-1 >= n
	})
	for k := range distinct(after.snapshot()) {
		if before[k] > 0 {
			t.Errorf("event %d was handled before Close and delivered again after it", k)
		}
	}
}

func testNoLeakedGoroutines(t *testing.T, s *suite) {
	baseline := goroutines()
	func() {
		tr, closeTransport := s.h.Connect(t)
		defer closeTransport()
		b, err := eventbus.New(eventbus.WithTransport(tr))
		if err != nil {
			t.Fatal(err)
		}
		name := topicName(t)
		got := newRecord[Payload]()
		for _, sub := range []string{"one", "two"} {
			subscribe(t, topic(t, b, name), sub, got.handler(), eventbus.WithConcurrency(2))
		}
		publish(t, topic(t, b, name), Payload{N: 1})
		got.waitCount(t, s.h.Timeout, 2)
		ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}()
	// Goroutines may take a moment to exit after Close returned: look
	// again until none is left or the wait is over.
	deadline := time.Now().Add(s.h.Timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		left := newGoroutines(baseline, s.h.ServerPackages)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutine(s) left after closing the bus and its transport:\n\n%s", len(left), strings.Join(left, "\n\n"))
		}
		<-tick.C
	}
}

// goroutines returns the stack of every goroutine, by goroutine header
// ("goroutine 12").
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := make(map[string]string)
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, _, _ := strings.Cut(g, " [")
		out[header] = g
	}
	return out
}

// newGoroutines returns the stacks of the goroutines not in baseline,
// except the caller's own and those of the given packages.
func newGoroutines(baseline map[string]string, ignore []string) []string {
	var left []string
	for header, stack := range goroutines() {
		if _, old := baseline[header]; old || strings.Contains(stack, "eventbustest.newGoroutines") {
			continue
		}
		if slices.ContainsFunc(ignore, func(pkg string) bool { return strings.Contains(stack, pkg) }) {
			continue
		}
		left = append(left, stack)
	}
	return left
}

func waitClosed(t *testing.T, timeout time.Duration, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(timeout):
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}
