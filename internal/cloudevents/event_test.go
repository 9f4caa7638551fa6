package cloudevents

import (
	"time"

	"github.com/google/uuid"
)

// fullEvent returns an Event with every attribute set, its data JSON.
func fullEvent() *Event {
	return &Event{
		ID:              uuid.MustParse("0192f3a4-5b6c-7d8e-9f01-23456789abcd"),
		Source:          "https://example.com/orders",
		Type:            "order.placed",
		Time:            time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600)),
		DataContentType: "application/json",
		Sequence:        1<<63 + 12345,
		CorrelationID:   "req-42",
		CausationID:     uuid.MustParse("0192f3a4-0000-7000-8000-000000000001"),
		PartitionKey:    "customer-7",
		Metadata:        map[string]string{"tenant": "acme", "note": "<&> \"quoted\" ünïcødé"},
		Data:            []byte(`{"orderId":"o-1","total":4200}`),
	}
}
