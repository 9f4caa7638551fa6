package debugpage

import (
	"encoding/json"
	"time"

	"github.com/busline/eventbus"
)

// The types below are the documents of the JSON endpoints (see the package
// documentation for their URLs). Durations are in milliseconds, in fields
// whose names end in "Ms"; times are RFC 3339.

// EventRecord is one event: its envelope, its payload as JSON, and, when a
// Recorder saw it, who published it and how each subscriber handled it.
type EventRecord struct {
	Envelope eventbus.Envelope `json:"envelope"`
	// PayloadType is the Go type of the payload.
	PayloadType string `json:"payloadType"`
	// Payload is the payload as encoding/json writes it; null, with
	// PayloadError set, when it cannot be written.
	Payload      json.RawMessage `json:"payload"`
	PayloadError string          `json:"payloadError,omitempty"`
	// PublishedBy is "topic/subscriber" of the handler whose ctx published
	// the event, or empty for a publish from outside a handler (or one the
	// recorder did not see).
	PublishedBy string `json:"publishedBy,omitempty"`
	// Handlings are the handler chains that ran for the event in this
	// process, in the order they ended.
	Handlings []Handling `json:"handlings"`
}

// Outcome is how a handling ended.
type Outcome string

const (
	// Delivered: the handler chain succeeded.
	Delivered Outcome = "delivered"
	// Failed: the handler chain returned an error.
	Failed Outcome = "failed"
	// DeadLettered: the chain failed and the event went to a dead-letter
	// topic, published with the handler's ctx.
	DeadLettered Outcome = "dead-lettered"
	// Canceled: the handler returned its ctx's error after Unsubscribe or
	// a forced Close cancelled it.
	Canceled Outcome = "canceled"
)

// Handling is one run of a subscriber's handler chain for an event, as the
// Recorder's middleware saw it.
type Handling struct {
	Topic      string `json:"topic"`
	Subscriber string `json:"subscriber"`
	// Started is when the chain began; DurationMs how long it took, retries
	// and their backoffs included.
	Started    time.Time `json:"started"`
	DurationMs float64   `json:"durationMs"`
	// Attempts is the number of handler calls (see eventbus.DeliveryInfo).
	Attempts int `json:"attempts"`
	// Deliveries is the broker's delivery count, 1 without a transport.
	Deliveries int     `json:"deliveries"`
	Outcome    Outcome `json:"outcome"`
	// Error is the chain's final error, or the dead letter's, or empty.
	Error string `json:"error,omitempty"`
}

// TraceNode is an event of a causal trace and the events its handlers
// published, recursively.
type TraceNode struct {
	Event    EventRecord `json:"event"`
	Children []TraceNode `json:"children"`
}

// Trace is the causal neighbourhood of one recorded event.
type Trace struct {
	// Ancestors are the recorded events that led to the event, from the
	// oldest known cause down to its direct cause.
	Ancestors []EventRecord `json:"ancestors"`
	// MissingCause is the causation ID of the oldest ancestor (or of the
	// event) when that cause was not recorded or has been evicted; empty
	// when the chain goes back to a root event.
	MissingCause string `json:"missingCause,omitempty"`
	// Tree is the event and every recorded event it caused, by causation
	// ID, children in publish order.
	Tree TraceNode `json:"tree"`
	// Correlated are the other recorded events with the event's
	// correlation ID that are neither ancestors nor in the tree: parts of
	// the same chain whose causal link was not recorded.
	Correlated []EventRecord `json:"correlated"`
}

// DeadLetter is a dead letter a Recorder saw published: the dead-letter
// event and what failed.
type DeadLetter struct {
	// Event is the dead-letter event; its payload is the FailedDelivery.
	Event EventRecord `json:"event"`
	// Failed is the failed event's envelope, PayloadType its payload's
	// type, Subscriber whose chain failed, Error its final error,
	// Attempts its handler calls and FailedAt when it gave up, as in
	// eventbus.FailedDelivery.
	Failed      eventbus.Envelope `json:"failed"`
	PayloadType string            `json:"payloadType"`
	Subscriber  string            `json:"subscriber"`
	Error       string            `json:"error"`
	Attempts    int               `json:"attempts"`
	FailedAt    time.Time         `json:"failedAt"`
	// Republished lists when the page republished it (WithActions).
	Republished []time.Time `json:"republished,omitempty"`
}

// State is the document of the page's state endpoint and of its live
// updates.
type State struct {
	Bus           BusInfo            `json:"bus"`
	Topics        []TopicInfo        `json:"topics"`
	Subscriptions []SubscriptionInfo `json:"subscriptions"`
	Patterns      []PatternInfo      `json:"patterns"`
	// Recent are the newest events the Recorder kept, newest first (at
	// most 50), without their handlings; empty without a Recorder.
	Recent []EventSummary `json:"recent"`
	// DeadLetters are the dead letters the Recorder kept, newest first.
	DeadLetters []DeadLetter `json:"deadLetters"`
	// Recorder says whether the page has a Recorder and how many events it
	// holds.
	Recorder RecorderInfo `json:"recorder"`
	// Actions says whether state-changing actions are enabled
	// (WithActions).
	Actions bool `json:"actions"`
	// RateWindowMs is the window over which rates are computed.
	RateWindowMs float64 `json:"rateWindowMs"`
}

// BusInfo is the bus as a whole.
type BusInfo struct {
	Published     uint64 `json:"published"`
	NoSubscribers uint64 `json:"noSubscribers"`
	Topics        int    `json:"topics"`
	Subscriptions int    `json:"subscriptions"`
	// Transport is the Go type of the bus's Transport, or empty in process.
	Transport string `json:"transport,omitempty"`
}

// TopicInfo is one topic of the topology.
type TopicInfo struct {
	Name          string   `json:"name"`
	PayloadType   string   `json:"payloadType"`
	Published     uint64   `json:"published"`
	NoSubscribers uint64   `json:"noSubscribers"`
	Subscribers   []string `json:"subscribers"`
	// PublishRate is the events published per second over the rate window.
	PublishRate float64 `json:"publishRate"`
	// Retained is the number of events kept; RetentionMaxEvents and
	// RetentionMaxAgeMs its WithRetention (zero without retention); Oldest
	// and Newest the sequences kept.
	Retained           int     `json:"retained"`
	RetentionMaxEvents int     `json:"retentionMaxEvents"`
	RetentionMaxAgeMs  float64 `json:"retentionMaxAgeMs"`
	Oldest             uint64  `json:"oldest"`
	Newest             uint64  `json:"newest"`
}

// SubscriptionInfo is one live subscription with its counters.
type SubscriptionInfo struct {
	Topic      string `json:"topic"`
	Subscriber string `json:"subscriber"`
	// Pattern is set for a member of a pattern subscription.
	Pattern        string  `json:"pattern,omitempty"`
	QueueLength    int     `json:"queueLength"`
	Capacity       int     `json:"capacity"`
	InFlight       int     `json:"inFlight"`
	OldestQueuedMs float64 `json:"oldestQueuedMs"`
	Enqueued       uint64  `json:"enqueued"`
	Delivered      uint64  `json:"delivered"`
	Failed         uint64  `json:"failed"`
	Retried        uint64  `json:"retried"`
	DeadLettered   uint64  `json:"deadLettered"`
	Filtered       uint64  `json:"filtered"`
	Dropped        uint64  `json:"dropped"`
	// DroppedBy is eventbus.DropStats.String, such as "2 dropped (2 queue
	// full)".
	DroppedBy string `json:"droppedBy"`
	// EnqueueRate, DeliverRate and FailRate are events per second over
	// the rate window: enqueued, delivered, and failed or dead-lettered.
	EnqueueRate float64 `json:"enqueueRate"`
	DeliverRate float64 `json:"deliverRate"`
	FailRate    float64 `json:"failRate"`
}

// PatternInfo is one pattern subscription: its members' topics.
type PatternInfo struct {
	Pattern    string   `json:"pattern"`
	Subscriber string   `json:"subscriber"`
	Topics     []string `json:"topics"`
}

// EventSummary is an event without its payload, for lists.
type EventSummary struct {
	ID            string    `json:"id"`
	Topic         string    `json:"topic"`
	Sequence      uint64    `json:"sequence"`
	Time          time.Time `json:"time"`
	CorrelationID string    `json:"correlationId"`
	CausationID   string    `json:"causationId"`
	PublishedBy   string    `json:"publishedBy,omitempty"`
	Handlings     int       `json:"handlings"`
}

// RecorderInfo describes the page's Recorder.
type RecorderInfo struct {
	Enabled bool `json:"enabled"`
	// Events is the number of events held, of at most Capacity; DeadLetters
	// likewise, of at most DeadLetterCapacity.
	Events             int `json:"events"`
	Capacity           int `json:"capacity"`
	DeadLetters        int `json:"deadLetters"`
	DeadLetterCapacity int `json:"deadLetterCapacity"`
}

// TopicEvents is the document of a topic's events endpoint: its retained
// events, newest first.
type TopicEvents struct {
	Topic string `json:"topic"`
	// Retains says whether the topic keeps events (WithRetention); when it
	// does not, Events lists the Recorder's events of the topic instead.
	Retains bool          `json:"retains"`
	Events  []EventRecord `json:"events"`
}

// ms returns d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
