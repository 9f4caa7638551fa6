package bustest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/busline/eventbus"
)

// Recorder keeps every event that its subscription handles, in the order
// it handled them, for a test to wait for and look at. Record subscribes
// one to a topic, and RecordPattern to every topic a pattern matches. Its
// subscription is removed when the test ends. A Recorder is safe for use
// by many goroutines.
//
// M is *eventbus.Event[T] for a topic's recorder and eventbus.Message for a
// pattern's.
type Recorder[M eventbus.Message] struct {
	t    TB
	what string // "topic message.sent" or "pattern >", for failure messages

	mu      sync.Mutex
	events  []M
	changed chan struct{} // closed and replaced when an event is recorded
}

// recorderName is the subscriber name a recorder tries first; if it is
// taken, it tries recorderName-2, -3 and so on.
const recorderName = "bustest-recorder"

// Record subscribes a Recorder to topic with opts and returns it; it fails
// the test if the subscription fails. The Recorder's handler only appends,
// so with the bus's default queue it never drops an event.
func Record[T any](t TB, topic *eventbus.Topic[T], opts ...eventbus.SubscribeOption) *Recorder[*eventbus.Event[T]] {
	t.Helper()
	r := newRecorder[*eventbus.Event[T]](t, "topic "+topic.Name())
	handler := func(_ context.Context, e *eventbus.Event[T]) error {
		r.record(e)
		return nil
	}
	sub, err := subscribeFree(func(name string) (*eventbus.Subscription, error) {
		return topic.Subscribe(name, handler, opts...)
	})
	if err != nil {
		t.Fatalf("bustest: record %s: %v", r.what, err)
	}
	t.Cleanup(sub.Unsubscribe)
	return r
}

// RecordPattern subscribes a Recorder to every topic of b that pattern
// matches (see eventbus.Bus.SubscribePattern), including topics created
// later, and returns it; it fails the test if the subscription fails.
func RecordPattern(t TB, b *eventbus.Bus, pattern string, opts ...eventbus.SubscribeOption) *Recorder[eventbus.Message] {
	t.Helper()
	r := newRecorder[eventbus.Message](t, "pattern "+pattern)
	handler := func(_ context.Context, m eventbus.Message) error {
		r.record(m)
		return nil
	}
	sub, err := subscribeFree(func(name string) (*eventbus.PatternSubscription, error) {
		return b.SubscribePattern(pattern, name, handler, opts...)
	})
	if err != nil {
		t.Fatalf("bustest: record %s: %v", r.what, err)
	}
	t.Cleanup(sub.Unsubscribe)
	return r
}

// RecordAll is RecordPattern with the pattern ">": it records every event
// of every topic of b, which is what Trace and RequireChain need to follow
// a chain across topics.
func RecordAll(t TB, b *eventbus.Bus, opts ...eventbus.SubscribeOption) *Recorder[eventbus.Message] {
	t.Helper()
	return RecordPattern(t, b, ">", opts...)
}

func newRecorder[M eventbus.Message](t TB, what string) *Recorder[M] {
	return &Recorder[M]{t: t, what: what, changed: make(chan struct{})}
}

// subscribeFree subscribes under the first free recorder name.
func subscribeFree[S any](subscribe func(name string) (S, error)) (S, error) {
	name := recorderName
	for i := 2; ; i++ {
		sub, err := subscribe(name)
		if !errors.Is(err, eventbus.ErrDuplicateSubscriber) {
			return sub, err
		}
		name = fmt.Sprintf("%s-%d", recorderName, i)
	}
}

func (r *Recorder[M]) record(m M) {
	r.mu.Lock()
	r.events = append(r.events, m)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Events returns a copy of the events recorded so far, in the order they
// were handled.
func (r *Recorder[M]) Events() []M {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]M(nil), r.events...)
}

// OfTopic returns the events recorded so far on topic, in the order they
// were handled: of use with a Recorder of several topics.
func (r *Recorder[M]) OfTopic(topic string) []M {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []M
	for _, m := range r.events {
		if m.EventEnvelope().Topic == topic {
			out = append(out, m)
		}
	}
	return out
}

// Len returns the number of events recorded so far.
func (r *Recorder[M]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// WaitN waits until the Recorder has at least n events and returns the
// first n. If that takes longer than Timeout, or the test ends first, it
// fails the test with the events it got.
func (r *Recorder[M]) WaitN(n int) []M {
	r.t.Helper()
	var got []M
	ok := r.wait(func(events []M) bool {
		if len(events) < n {
			return false
		}
		got = append([]M(nil), events[:n]...)
		return true
	})
	if !ok {
		events := r.Events()
		r.t.Fatalf("bustest: expected %d events on %s within %s, got %d:%s", n, r.what, Timeout, len(events), listEvents(events))
	}
	return got
}

// WaitFor waits until the Recorder has an event for which match reports
// true and returns the first such event. If that takes longer than
// Timeout, or the test ends first, it fails the test, naming what (a
// description of the event looked for) and listing the events it got.
func (r *Recorder[M]) WaitFor(what string, match func(M) bool) M {
	r.t.Helper()
	var found M
	seen := 0 // events already looked at
	ok := r.wait(func(events []M) bool {
		for _, m := range events[seen:] {
			if match(m) {
				found = m
				return true
			}
		}
		seen = len(events)
		return false
	})
	if !ok {
		events := r.Events()
		r.t.Fatalf("bustest: expected %s on %s within %s, got %d other events:%s", what, r.what, Timeout, len(events), listEvents(events))
	}
	return found
}

// RequireCount fails the test unless the Recorder has exactly n events
// now, listing them. Call it once the bus is idle (WaitIdle), so that no
// event is still on its way.
func (r *Recorder[M]) RequireCount(n int) {
	r.t.Helper()
	if events := r.Events(); len(events) != n {
		r.t.Fatalf("bustest: expected %d events on %s, got %d:%s", n, r.what, len(events), listEvents(events))
	}
}

// wait calls done with the events recorded so far, under the Recorder's
// lock, each time one is recorded, until done reports true (then wait
// reports true) or Timeout passes or the test ends (false).
func (r *Recorder[M]) wait(done func([]M) bool) bool {
	ctx, cancel := waitCtx(r.t)
	defer cancel()
	for {
		r.mu.Lock()
		if done(r.events) {
			r.mu.Unlock()
			return true
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// listEvents renders events one per line, for failure messages.
func listEvents[M eventbus.Message](events []M) string {
	if len(events) == 0 {
		return " none"
	}
	var b strings.Builder
	for i, m := range events {
		fmt.Fprintf(&b, "\n  %d. %s", i+1, describe(m))
	}
	return b.String()
}

// describe renders an event as "topic #sequence id ...: payload".
func describe(m eventbus.Message) string {
	env := m.EventEnvelope()
	return fmt.Sprintf("%s #%d id %s: %+v", env.Topic, env.Sequence, env.ID, m.AnyPayload())
}
