package eventstore

import "github.com/busline/eventbus"

// Event is an event to append: the bus's envelope and the payload's bytes.
// The typed helpers of a Type make one from a payload.
//
// Envelope.Topic is the event's type and must be a valid topic name
// (eventbus.ValidateTopicName). Append fills in what the envelope leaves
// empty: a nil ID becomes a new UUIDv7, a zero Time the time of the
// append, and an empty CorrelationID the text of the ID, as for a root
// event on the bus. Time is kept to the microsecond, in UTC. The envelope's
// Sequence is not stored: a record has its Version and Position instead.
type Event struct {
	Envelope eventbus.Envelope
	// ContentType is the media type of Data, the codec's ContentType; it
	// must not be empty.
	ContentType string
	// Data is the encoded payload.
	Data []byte
}

// Record is a stored event: the event as Append completed it, the stream
// it belongs to, its version in that stream and its position in the
// store's global order.
type Record struct {
	Event
	// Stream is the name of the event's stream.
	Stream string
	// Version is the event's number in its stream: 1 for the stream's
	// first event, then 2, 3, ... with no gap.
	Version uint64
	// Position is the event's number in the store's global order: 1 for
	// the store's first event, then 2, 3, ... with no gap, in the order
	// the appends committed.
	Position uint64
}
