// Package benchkit holds what the stores' benchmarks share: their events
// and the time-per-event metric.
package benchkit

import (
	"context"
	"strconv"
	"testing"

	"github.com/busline/eventbus/eventstore"
)

// Payload is the benchmarks' payload.
type Payload struct {
	ConversationID string `json:"conversationId"`
	From           string `json:"from"`
	Text           string `json:"text"`
}

// Events returns n events of the type "message.sent".
func Events(b *testing.B, n int) []eventstore.Event {
	b.Helper()
	typ, err := eventstore.NewType[Payload]("message.sent", nil)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]eventstore.Event, n)
	for i := range out {
		if out[i], err = typ.New(Payload{ConversationID: "c-1", From: "alice", Text: "Hello, this is a message of moderate length."}); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// ReportPerEvent reports the time per event of a benchmark that handled
// events events.
func ReportPerEvent(b *testing.B, events int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}

// Append appends evs to st, to one of a hundred streams in turn, until
// the benchmark ends, and reports the time per event.
func Append(b *testing.B, st eventstore.Store, evs []eventstore.Event) {
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := st.Append(ctx, "bench-"+strconv.Itoa(i%100), eventstore.AnyVersion(), evs...); err != nil {
			b.Fatal(err)
		}
		i++
	}
	ReportPerEvent(b, i*len(evs))
}

// ReadAll reads every event of st until the benchmark ends, and reports
// the time per event.
func ReadAll(b *testing.B, st eventstore.Store) {
	ctx := context.Background()
	n := 0
	for b.Loop() {
		for _, err := range st.ReadAll(ctx, 1) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	ReportPerEvent(b, n)
}
