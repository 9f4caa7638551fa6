package eventbustest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/busline/eventbus"
)

// patternTests returns the pattern cases if h declares that its transports
// take pattern subscriptions, and none otherwise. It connects once to
// check that they implement eventbus.PatternTransport, and fails t if not.
func patternTests(t *testing.T, h Harness) []conformanceTest {
	t.Helper()
	if !h.Patterns {
		return nil
	}
	tr := probeTransport(t, h)
	if _, ok := tr.(eventbus.PatternTransport); !ok {
		t.Fatalf("eventbustest: the Harness sets Patterns, but the transport %T does not implement eventbus.PatternTransport", tr)
	}
	return []conformanceTest{
		{"PatternAcrossTopics", testPatternAcrossTopics},
		{"PatternGroupApartFromPlainGroup", testPatternGroupApartFromPlainGroup},
		{"PatternCompetingConsumers", testPatternCompetingConsumers},
		{"PatternRedeliveryAfterError", testPatternRedeliveryAfterError},
		{"PatternUnknownTopicDeadLettered", testPatternUnknownTopicDeadLettered},
	}
}

// Note is the payload of the suite's events of a second type, for the
// pattern cases, which match topics of several payload types.
type Note struct {
	Text string `json:"text"`
}

// messages returns a MessageHandler that records each message in r as an
// event of payload type any.
func messages(r *record[any]) eventbus.MessageHandler {
	return func(_ context.Context, m eventbus.Message) error {
		r.add(&eventbus.Event[any]{Envelope: *m.EventEnvelope(), Payload: m.AnyPayload()})
		return nil
	}
}

func subscribePattern(t *testing.T, b *eventbus.Bus, pattern, name string, h eventbus.MessageHandler, opts ...eventbus.SubscribeOption) *eventbus.PatternSubscription {
	t.Helper()
	ps, err := b.SubscribePattern(pattern, name, h, opts...)
	if err != nil {
		t.Fatalf("SubscribePattern(%q, %q): %v", pattern, name, err)
	}
	return ps
}

func noteTopic(t *testing.T, b *eventbus.Bus, name string) *eventbus.Topic[Note] {
	t.Helper()
	tp, err := eventbus.NewTopic[Note](b, name)
	if err != nil {
		t.Fatalf("NewTopic[Note](%q): %v", name, err)
	}
	return tp
}

func publishNote(t *testing.T, tp *eventbus.Topic[Note], text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tp.Publish(ctx, Note{Text: text}); err != nil {
		t.Fatalf("Publish(%q) on %s: %v", text, tp.Name(), err)
	}
}

// payloadsByTopic returns the payload of each recorded event by topic,
// failing t if a topic has more than one.
func payloadsByTopic(t *testing.T, evs []*eventbus.Event[any]) map[string]any {
	t.Helper()
	out := make(map[string]any, len(evs))
	for _, e := range evs {
		if prev, ok := out[e.Topic]; ok {
			t.Fatalf("topic %s: events %v and %v, want one", e.Topic, prev, e.Payload)
		}
		out[e.Topic] = e.Payload
	}
	return out
}

// testPatternAcrossTopics: a pattern subscription gets the events that
// another process publishes on every matching topic, of whatever payload
// type, including a topic created after it subscribed, each decoded with
// its topic's type.
func testPatternAcrossTopics(t *testing.T, s *suite) {
	base := topicName(t)
	orders, notes, later := base+".orders", base+".notes.new", base+".later"
	reader := s.newBus(t, s.connect(t))
	topic(t, reader, orders)
	noteTopic(t, reader, notes)
	got := newRecord[any]()
	ps := subscribePattern(t, reader, base+".>", "pattern-reader", messages(got))
	noteTopic(t, reader, later)

	writer := s.newBus(t, s.connect(t))
	publish(t, topic(t, writer, orders), Payload{N: 1, Text: "order"})
	publishNote(t, noteTopic(t, writer, notes), "note")
	publishNote(t, noteTopic(t, writer, later), "late")
	evs := got.waitCount(t, s.h.Timeout, 3)
	want := map[string]any{orders: Payload{N: 1, Text: "order"}, notes: Note{Text: "note"}, later: Note{Text: "late"}}
	if byTopic := payloadsByTopic(t, evs); fmt.Sprint(byTopic) != fmt.Sprint(want) {
		t.Errorf("payloads by topic = %v, want %v", byTopic, want)
	}
	for _, e := range evs {
		if _, ok := want[e.Topic]; ok && fmt.Sprintf("%T", e.Payload) != fmt.Sprintf("%T", want[e.Topic]) {
			t.Errorf("topic %s: payload of type %T, want %T", e.Topic, e.Payload, want[e.Topic])
		}
	}
	wantTopics := []string{later, notes, orders}
	slices.Sort(wantTopics)
	if topics := ps.Topics(); !slices.Equal(topics, wantTopics) {
		t.Errorf("Topics() = %v, want %v", topics, wantTopics)
	}
}

// testPatternGroupApartFromPlainGroup: a pattern subscription and a plain
// subscription of the same name, in two processes, are two groups: each
// gets every event.
func testPatternGroupApartFromPlainGroup(t *testing.T, s *suite) {
	base := topicName(t)
	name := base + ".a"
	plainBus := s.newBus(t, s.connect(t))
	patternBus := s.newBus(t, s.connect(t))
	plain, pattern := newRecord[Payload](), newRecord[any]()
	tp := topic(t, plainBus, name)
	subscribe(t, tp, "audit", plain.handler())
	topic(t, patternBus, name)
	subscribePattern(t, patternBus, base+".*", "audit", messages(pattern))
	const n = 5
	for i := range n {
		publish(t, tp, Payload{N: i})
	}
	plain.waitFor(t, s.h.Timeout, "every event by the plain group", func(evs []*eventbus.Event[Payload]) bool { return len(distinct(evs)) == n })
	pattern.waitFor(t, s.h.Timeout, "every event by the pattern group", func(evs []*eventbus.Event[any]) bool {
		seen := map[any]bool{}
		for _, e := range evs {
			seen[e.Payload] = true
		}
		return len(seen) == n
	})
}

// testPatternCompetingConsumers: the pattern subscriptions of one name in
// two processes share the events of the matching topics: each is handled
// once.
func testPatternCompetingConsumers(t *testing.T, s *suite) {
	base := topicName(t)
	names := []string{base + ".x", base + ".y"}
	shared := newRecord[any]()
	for range 2 {
		b := s.newBus(t, s.connectShared(t))
		for _, name := range names {
			topic(t, b, name)
		}
		subscribePattern(t, b, base+".*", "workers", messages(shared))
	}
	writer := s.newBus(t, s.connectShared(t))
	const perTopic = 10
	for i, name := range names {
		tp := topic(t, writer, name)
		for j := range perTopic {
			publish(t, tp, Payload{N: i*perTopic + j})
		}
	}
	count := func(evs []*eventbus.Event[any]) map[any]int {
		seen := map[any]int{}
		for _, e := range evs {
			seen[e.Payload]++
		}
		return seen
	}
	evs := shared.waitFor(t, s.h.Timeout, "every event", func(evs []*eventbus.Event[any]) bool {
		return len(count(evs)) == len(names)*perTopic
	})
	for p, times := range count(evs) {
		if times != 1 {
			t.Errorf("event %v handled %d times within one name", p, times)
		}
	}
}

// testPatternRedeliveryAfterError: an event whose handler fails is
// delivered again through the pattern group.
func testPatternRedeliveryAfterError(t *testing.T, s *suite) {
	base := topicName(t)
	b := s.newBus(t, s.connect(t))
	tp := topic(t, b, base+".flaky")
	calls := newRecord[any]()
	var mu sync.Mutex
	attempts := 0
	subscribePattern(t, b, base+".*", "flaky", func(ctx context.Context, m eventbus.Message) error {
		mu.Lock()
		attempts++
		a := attempts
		mu.Unlock()
		if err := messages(calls)(ctx, m); err != nil {
			return err
		}
		if a < 2 {
			return fmt.Errorf("transient failure %d", a)
		}
		return nil
	})
	publish(t, tp, Payload{N: 7})
	evs := calls.waitCount(t, s.h.Timeout, 2)
	if evs[0].ID != evs[1].ID || evs[1].Payload != (Payload{N: 7}) {
		t.Errorf("redelivery: %v (%v) then %v (%v)", evs[0].ID, evs[0].Payload, evs[1].ID, evs[1].Payload)
	}
}

// testPatternUnknownTopicDeadLettered: an event of a matching topic that
// the subscribing process never created is dead-lettered with its bytes,
// and does not hold back the events of the topics it knows.
func testPatternUnknownTopicDeadLettered(t *testing.T, s *suite) {
	base := topicName(t)
	known, unknown := base+".known", base+".unknown"
	reader := s.newBus(t, s.connect(t))
	topic(t, reader, known)
	letters := deadLettersOf(t, reader, unknown)
	got := newRecord[any]()
	subscribePattern(t, reader, base+".*", "reader", messages(got))

	writer := s.newBus(t, s.connect(t))
	publish(t, topic(t, writer, unknown), Payload{N: 1})
	publish(t, topic(t, writer, known), Payload{N: 2})
	if evs := got.waitCount(t, s.h.Timeout, 1); evs[0].Topic != known {
		t.Errorf("handled an event of %s, want one of %s", evs[0].Topic, known)
	}
	dl := letters.waitCount(t, s.h.Timeout, 1)[0].Payload
	if dl.Subscriber != "reader" || dl.Envelope.Topic != unknown || dl.Error == "" || dl.Payload != nil {
		t.Errorf("dead letter of the event of the unknown topic = %+v", dl)
	}
	e, err := eventbus.DecodeCloudEvent[Payload](dl.Data, eventbus.JSONCodec{})
	if err != nil || e.Topic != unknown || e.Payload.N != 1 {
		t.Errorf("the dead letter's Data decodes to %+v, %v; want the event of %s", e, err, unknown)
	}
}
