package eventbus

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// chatMessage is a payload of the size of the chat example's messages.
type chatMessage struct {
	Conversation string `json:"conversation"`
	From         string `json:"from"`
	Text         string `json:"text"`
}

// benchEvent returns an event as a transport's Publish gets it: a child
// event, so that every attribute the bus writes is present.
func benchEvent() *Event[chatMessage] {
	return &Event[chatMessage]{
		Envelope: Envelope{
			ID:            uuid.Must(uuid.NewV7()),
			Topic:         "message.sent",
			Time:          time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC),
			Sequence:      42,
			CorrelationID: uuid.Must(uuid.NewV7()).String(),
			CausationID:   uuid.Must(uuid.NewV7()),
			Key:           "conversation-7",
		},
		Payload: chatMessage{Conversation: "conversation-7", From: "ada", Text: "is the deploy done?"},
	}
}

// BenchmarkEncodeCloudEvent measures what a transport's publish adds to
// an event: its CloudEvents document.
func BenchmarkEncodeCloudEvent(b *testing.B) {
	e := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeCloudEvent(e, "/chat", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeCloudEvent measures what a transport's delivery adds to
// an event: decoding its CloudEvents document, payload included, as a
// subscription of the topic does.
func BenchmarkDecodeCloudEvent(b *testing.B) {
	doc, err := EncodeCloudEvent(benchEvent(), "/chat", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeCloudEvent[chatMessage](doc, nil, "message.sent", "/chat"); err != nil {
			b.Fatal(err)
		}
	}
}
