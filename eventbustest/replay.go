package eventbustest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/busline/eventbus"
)

// replayTests returns the replay cases if h's transports implement
// eventbus.ReplayTransport, and none otherwise. It connects once to find
// out, and fails t if such a harness has no Discard.
func replayTests(t *testing.T, h Harness) []conformanceTest {
	t.Helper()
	tr := probeTransport(t, h)
	if _, replay := tr.(eventbus.ReplayTransport); !replay {
		return nil
	}
	if h.Discard == nil {
		t.Fatalf("eventbustest: the transport %T implements eventbus.ReplayTransport, so the Harness needs Discard", tr)
	}
	return []conformanceTest{
		{"ReplayFromOldest", testReplayFromOldest},
		{"ReplayFromPosition", testReplayFromPosition},
		{"ReplayFromTime", testReplayFromTime},
		{"ReplayHandOffToLive", testReplayHandOffToLive},
		{"ReplayStartBeforeOldestFails", testReplayStartBeforeOldestFails},
	}
}

// numbers returns from, from+1, ..., to-1.
func numbers(from, to int) []int {
	out := make([]int, 0, max(to-from, 0))
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// payloadNumbers returns the payload numbers of evs, in order.
func payloadNumbers(evs []*eventbus.Event[Payload]) []int {
	out := make([]int, len(evs))
	for i, e := range evs {
		out[i] = e.Payload.N
	}
	return out
}

// waitNumbers waits until r has as many events as want and checks that
// they carry exactly the payload numbers want, in that order: nothing
// missing, nothing twice, nothing else.
func waitNumbers(t *testing.T, s *suite, r *record[Payload], what string, want []int) {
	t.Helper()
	evs := r.waitFor(t, s.h.Timeout, what, func(evs []*eventbus.Event[Payload]) bool { return len(evs) >= len(want) })
	if got := payloadNumbers(evs); !slices.Equal(got, want) {
		t.Fatalf("%s: got events %v, want %v", what, got, want)
	}
}

// publishNumbers publishes the events numbered from to to-1 on tp.
func publishNumbers(t *testing.T, tp *eventbus.Topic[Payload], from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		publish(t, tp, Payload{N: i})
	}
}

// replayTransport returns a new transport that must replay.
func (s *suite) replayTransport(t *testing.T) eventbus.ReplayTransport {
	t.Helper()
	tr, ok := s.connect(t).(eventbus.ReplayTransport)
	if !ok {
		t.Fatal("eventbustest: Connect returned a transport that does not implement eventbus.ReplayTransport, unlike before")
	}
	return tr
}

// probed is one message as positions reads it.
type probed struct {
	n          int
	pos        uint64
	positioned bool
	err        error
}

// positions reads the first n events of the topic from the broker, through
// a group of its own that starts at the oldest message, and returns their
// broker positions by payload number. It fails t unless the messages are
// eventbus.Positioned and their positions grow in publish order.
func (s *suite) positions(t *testing.T, topic string, n int) []uint64 {
	t.Helper()
	tr := s.replayTransport(t)
	got := make(chan probed, n)
	ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
	defer cancel()
	cons, err := tr.Subscribe(ctx, eventbus.ConsumerConfig{Topic: topic, Group: "probe", MaxInFlight: n, Start: eventbus.FromOldest()},
		func(ctx context.Context, m eventbus.InboundMessage) {
			var p probed
			var pm eventbus.Positioned
			pm, p.positioned = m.(eventbus.Positioned)
			if p.positioned {
				p.pos = pm.Position()
			}
			e, err := eventbus.DecodeCloudEvent[Payload](m.Data(), eventbus.JSONCodec{})
			if err == nil {
				p.n = e.Payload.N
				ackCtx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
				err = m.Ack(ackCtx)
				cancel()
			}
			p.err = err
			select {
			case got <- p:
			case <-ctx.Done():
			}
		})
	if err != nil {
		t.Fatalf("probing the positions of %s: Subscribe: %v", topic, err)
	}
	defer func() {
		cons.Stop()
		waitClosed(t, s.h.Timeout, cons.Done(), "the probe consumer to stop")
	}()
	pos := make([]uint64, n)
	deadline := time.NewTimer(s.h.Timeout)
	defer deadline.Stop()
	for i := range n {
		var p probed
		select {
		case p = <-got:
		case <-deadline.C:
			t.Fatalf("timed out after %v probing the positions of %s: have %d of %d", s.h.Timeout, topic, i, n)
		}
		switch {
		case p.err != nil:
			t.Fatalf("probing the positions of %s: %v", topic, p.err)
		case !p.positioned:
			t.Fatalf("the messages of the ReplayTransport %T do not implement eventbus.Positioned", tr)
		case p.n != i:
			t.Fatalf("probing from the oldest message of %s: message %d is event %d, want %d", topic, i, p.n, i)
		case i > 0 && p.pos <= pos[i-1]:
			t.Fatalf("event %d of %s is at position %d, not after event %d at %d", i, topic, p.pos, i-1, pos[i-1])
		}
		pos[i] = p.pos
	}
	return pos
}

// testReplayFromOldest: a group that starts at the oldest event gets every
// event the broker keeps, published by another process before it existed,
// in order, then the live ones; a group that starts with new events gets
// none of the past.
func testReplayFromOldest(t *testing.T, s *suite) {
	name := topicName(t)
	tp := topic(t, s.newBus(t, s.connect(t)), name)
	const n, m = 10, 5
	publishNumbers(t, tp, 0, n)

	reader := topic(t, s.newBus(t, s.replayTransport(t)), name)
	news, past := newRecord[Payload](), newRecord[Payload]()
	subscribe(t, reader, "new-only", news.handler())
	subscribe(t, reader, "from-oldest", past.handler(), eventbus.WithStart(eventbus.FromOldest()))
	publishNumbers(t, tp, n, n+m)
	waitNumbers(t, s, past, "the past and the live events", numbers(0, n+m))
	waitNumbers(t, s, news, "the live events", numbers(n, n+m))
}

// testReplayFromPosition: a group that starts at a broker position gets
// the events from there on, then the live ones.
func testReplayFromPosition(t *testing.T, s *suite) {
	name := topicName(t)
	tp := topic(t, s.newBus(t, s.connect(t)), name)
	const n = 10
	publishNumbers(t, tp, 0, n)
	pos := s.positions(t, name, n)

	reader := topic(t, s.newBus(t, s.replayTransport(t)), name)
	got := newRecord[Payload]()
	subscribe(t, reader, "from-position", got.handler(), eventbus.WithStart(eventbus.FromSequence(pos[4])))
	publishNumbers(t, tp, n, n+1)
	waitNumbers(t, s, got, fmt.Sprintf("the events from position %d on", pos[4]), numbers(4, n+1))
}

// testReplayFromTime: a group that starts at a time gets the events
// published at or after it, then the live ones. The broker must stamp its
// messages with the test process's clock, as one on the same machine does.
func testReplayFromTime(t *testing.T, s *suite) {
	name := topicName(t)
	tp := topic(t, s.newBus(t, s.connect(t)), name)
	before := time.Now()
	publishNumbers(t, tp, 0, 5)
	mark := time.Now()
	publishNumbers(t, tp, 5, 10)

	reader := topic(t, s.newBus(t, s.replayTransport(t)), name)
	since, all := newRecord[Payload](), newRecord[Payload]()
	subscribe(t, reader, "since-mark", since.handler(), eventbus.WithStart(eventbus.FromTime(mark)))
	// Nothing was discarded: a time before the oldest event is served.
	subscribe(t, reader, "since-before", all.handler(), eventbus.WithStart(eventbus.FromTime(before)))
	publishNumbers(t, tp, 10, 11)
	waitNumbers(t, s, since, "the events published since the mark", numbers(5, 11))
	waitNumbers(t, s, all, "every event", numbers(0, 11))
}

// testReplayHandOffToLive: a group that starts at the oldest event while
// another process publishes without pause gets every event exactly once,
// in publish order per key: the hand-off from the past to the live events
// leaves no gap and repeats nothing.
func testReplayHandOffToLive(t *testing.T, s *suite) {
	name := topicName(t)
	tp := topic(t, s.newBus(t, s.connect(t)), name)
	const (
		keys  = 4
		warm  = 40   // events published before the subscription is made
		tail  = 40   // events published after it is made
		limit = 5000 // bound on the events published while it is made
	)
	key := func(n int) string { return fmt.Sprintf("k%d", n%keys) }
	begun, subscribed, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var (
		published int
		pubErr    error
	)
	go func() {
		defer close(finished)
		ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
		defer cancel()
		publishOne := func() bool {
			err := tp.Publish(ctx, Payload{N: published, Text: key(published)}, eventbus.WithKey(key(published)))
			if err != nil {
				pubErr = fmt.Errorf("publish %d: %w", published, err)
				return false
			}
			published++
			return true
		}
		for published < warm {
			if !publishOne() {
				return
			}
		}
		close(begun)
		// Go on publishing while the subscription is being made.
		for waiting := true; waiting; {
			select {
			case <-subscribed:
				waiting = false
			default:
				if published >= warm+limit {
					pubErr = fmt.Errorf("%d events published while Subscribe ran", limit)
					return
				}
				if !publishOne() {
					return
				}
			}
		}
		for range tail {
			if !publishOne() {
				return
			}
		}
	}()

	select {
	case <-begun:
	case <-finished:
	}
	got := newRecord[Payload]()
	reader := topic(t, s.newBus(t, s.replayTransport(t)), name)
	_, err := reader.Subscribe("hand-off", got.handler(), eventbus.WithStart(eventbus.FromOldest()), eventbus.WithConcurrency(keys))
	close(subscribed)
	<-finished
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if pubErr != nil {
		t.Fatal(pubErr)
	}
	n := published
	evs := got.waitFor(t, s.h.Timeout, fmt.Sprintf("the %d events", n), func(evs []*eventbus.Event[Payload]) bool { return len(evs) >= n })
	perKey := map[string][]int{}
	for _, e := range evs {
		perKey[e.Key] = append(perKey[e.Key], e.Payload.N)
	}
	for k := range keys {
		var want []int
		for i := k; i < n; i += keys {
			want = append(want, i)
		}
		if got := perKey[key(k)]; !slices.Equal(got, want) {
			t.Errorf("key %s: got events %v, want %v", key(k), got, want)
		}
	}
	if len(evs) != n {
		t.Errorf("got %d deliveries of %d events without any failure", len(evs), n)
	}
}

// testReplayStartBeforeOldestFails: once the broker has discarded events,
// a start before the oldest one kept fails with a *eventbus.NotRetainedError
// (and creates no group), FromOldest and a position kept are served, and a
// group that exists resumes whatever its start says.
func testReplayStartBeforeOldestFails(t *testing.T, s *suite) {
	name := topicName(t)
	tp := topic(t, s.newBus(t, s.connect(t)), name)
	early := newRecord[Payload]()
	sub := subscribe(t, tp, "early", early.handler())
	before := time.Now()
	const n = 6
	publishNumbers(t, tp, 0, n)
	waitNumbers(t, s, early, "every event", numbers(0, n))
	sub.Unsubscribe()
	waitClosed(t, s.h.Timeout, sub.Done(), "the subscription to stop")
	pos := s.positions(t, name, n)
	s.h.Discard(t, name, pos[3])

	reader := topic(t, s.newBus(t, s.replayTransport(t)), name)
	for _, start := range []eventbus.Start{eventbus.FromSequence(pos[0]), eventbus.FromSequence(pos[2]), eventbus.FromTime(before)} {
		_, err := reader.Subscribe("late", func(context.Context, *eventbus.Event[Payload]) error { return nil }, eventbus.WithStart(start))
		if !errors.Is(err, eventbus.ErrNotRetained) || !errors.Is(err, eventbus.ErrTransport) {
			t.Fatalf("Subscribe at %s after the events before position %d were discarded: %v, want an error matching ErrNotRetained and ErrTransport", start, pos[3], err)
		}
		nr, ok := errors.AsType[*eventbus.NotRetainedError](err)
		if !ok {
			t.Fatalf("Subscribe at %s: %v is not a *eventbus.NotRetainedError", start, err)
		}
		if nr.Topic != name || nr.Start != start || nr.Oldest != pos[3] {
			t.Errorf("Subscribe at %s: NotRetainedError %+v, want topic %s and oldest %d", start, *nr, name, pos[3])
		}
	}

	oldest, at, resumed := newRecord[Payload](), newRecord[Payload](), newRecord[Payload]()
	subscribe(t, reader, "late", oldest.handler(), eventbus.WithStart(eventbus.FromOldest()))
	subscribe(t, reader, "at-position", at.handler(), eventbus.WithStart(eventbus.FromSequence(pos[4])))
	subscribe(t, reader, "early", resumed.handler(), eventbus.WithStart(eventbus.FromSequence(pos[0])))
	publishNumbers(t, tp, n, n+1)
	waitNumbers(t, s, oldest, "the events kept", numbers(3, n+1))
	waitNumbers(t, s, at, fmt.Sprintf("the events from position %d on", pos[4]), numbers(4, n+1))
	waitNumbers(t, s, resumed, "the event published since the group stopped", []int{n})
}
