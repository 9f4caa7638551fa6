package eventstoretest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/busline/eventbus/eventstore"
)

// Payload is the payload of the suite's events.
type Payload struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

// payloadType is the suite's event type.
func payloadType(t *testing.T) *eventstore.Type[Payload] {
	t.Helper()
	typ, err := eventstore.NewType[Payload]("suite.payload", nil)
	if err != nil {
		t.Fatal(err)
	}
	return typ
}

// events returns count events of the suite's type, numbered from first.
func events(t *testing.T, first, count int, opts ...eventstore.EventOption) []eventstore.Event {
	t.Helper()
	typ := payloadType(t)
	out := make([]eventstore.Event, count)
	for i := range out {
		e, err := typ.New(Payload{N: first + i, Text: "event " + strconv.Itoa(first+i)}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = e
	}
	return out
}

// mustAppend appends and fails the test on an error.
func mustAppend(t *testing.T, ctx context.Context, st eventstore.Store, stream string, expected eventstore.ExpectedVersion, evs ...eventstore.Event) eventstore.AppendResult {
	t.Helper()
	res, err := st.Append(ctx, stream, expected, evs...)
	if err != nil {
		t.Fatalf("append %d events to %q expecting %s: %v", len(evs), stream, expected, err)
	}
	return res
}

// collect returns what seq yields, failing the test on an error.
func collect(t *testing.T, seq func(func(eventstore.Record, error) bool)) []eventstore.Record {
	t.Helper()
	var out []eventstore.Record
	for r, err := range seq {
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		out = append(out, r)
	}
	return out
}

// seqErr returns the error seq yields, and how many records came before.
func seqErr(seq func(func(eventstore.Record, error) bool)) (int, error) {
	n := 0
	for _, err := range seq {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// numbers returns the payload numbers of records.
func numbers(t *testing.T, rs []eventstore.Record) []int {
	t.Helper()
	typ := payloadType(t)
	out := make([]int, len(rs))
	for i, r := range rs {
		e, err := typ.Decode(r)
		if err != nil {
			t.Fatalf("decode the record at position %d: %v", r.Position, err)
		}
		out[i] = e.Payload.N
	}
	return out
}

// span returns the ints from first to last.
func span(first, last int) []int {
	var out []int
	for i := first; i <= last; i++ {
		out = append(out, i)
	}
	return out
}

// checkPrefix fails the test unless err's text starts with "eventstore: ".
func checkPrefix(t *testing.T, err error) {
	t.Helper()
	if err != nil && !strings.HasPrefix(err.Error(), "eventstore: ") {
		t.Errorf("error %q does not start with %q", err, "eventstore: ")
	}
}

// wantIs fails the test unless err matches target.
func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want one matching %v", what, err, target)
		return
	}
	checkPrefix(t, err)
}

// recorder is a subscription handler that keeps what it got and signals
// when it reached a position.
type recorder struct {
	ch chan eventstore.Record
}

func newRecorder(capacity int) *recorder {
	return &recorder{ch: make(chan eventstore.Record, capacity)}
}

func (r *recorder) handle(ctx context.Context, rec eventstore.Record) error {
	select {
	case r.ch <- rec:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// until receives records until one at position last, and fails the test
// if ctx ends first.
func (r *recorder) until(t *testing.T, ctx context.Context, last uint64) []eventstore.Record {
	t.Helper()
	var out []eventstore.Record
	for {
		select {
		case rec := <-r.ch:
			out = append(out, rec)
			if rec.Position >= last {
				return out
			}
		case <-ctx.Done():
			t.Fatalf("waiting for position %d, got %d records: %v", last, len(out), ctx.Err())
		}
	}
}

// checkPositions fails the test unless rs are the positions from first to
// last, each once, in order.
func checkPositions(t *testing.T, what string, rs []eventstore.Record, first, last uint64) {
	t.Helper()
	if uint64(len(rs)) != last-first+1 {
		t.Errorf("%s: %d records, want positions %d to %d", what, len(rs), first, last)
	}
	want := first
	for _, r := range rs {
		if r.Position != want {
			t.Fatalf("%s: position %d where %d was due", what, r.Position, want)
		}
		want++
	}
}

// stop stops a subscription and checks it ended without an error.
func stop(t *testing.T, ctx context.Context, sub *eventstore.Subscription) {
	t.Helper()
	if err := sub.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := sub.Err(); err != nil {
		t.Errorf("subscription stopped with error %v, want nil", err)
	}
}

func describe(r eventstore.Record) string {
	return fmt.Sprintf("%s@%d (position %d)", r.Stream, r.Version, r.Position)
}

// mustSubscribe subscribes and fails the test on an error.
func mustSubscribe(t *testing.T, ctx context.Context, st eventstore.Store, from uint64, h eventstore.Handler) *eventstore.Subscription {
	t.Helper()
	sub, err := st.SubscribeAll(ctx, from, h)
	if err != nil {
		t.Fatalf("subscribe from %d: %v", from, err)
	}
	return sub
}

// blocking returns a handler that waits for its ctx to end, closing
// entered when it is called and returned when it returns.
func blocking() (h eventstore.Handler, entered, returned chan struct{}) {
	entered, returned = make(chan struct{}), make(chan struct{})
	return func(ctx context.Context, r eventstore.Record) error {
		close(entered)
		<-ctx.Done()
		close(returned)
		return ctx.Err()
	}, entered, returned
}
