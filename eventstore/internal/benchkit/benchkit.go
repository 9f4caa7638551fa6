// Package benchkit holds what the stores' benchmarks share: their events
// and the time-per-event metric.
package benchkit

import (
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
