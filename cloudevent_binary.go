package eventbus

import (
	"fmt"

	"github.com/busline/eventbus/internal/cloudevents"
)

// BinaryCloudEvent is a CloudEvent in binary content mode, as the protocol
// bindings carry it: the attributes, but data, in message headers, and the
// data as the message body. Transports convert between it and the
// structured-mode documents the bus encodes and decodes (see
// CloudEventToBinary and CloudEventFromBinary); each binding names the
// headers its own way (Kafka "ce_" + name, AMQP "cloudEvents:" + name, NATS
// "ce-" + name) and carries datacontenttype as the protocol's content type.
type BinaryCloudEvent struct {
	// Attributes maps each attribute's name, without the binding's prefix,
	// to its value as a string: a Boolean as "true" or "false", an Integer
	// in decimal, every other type as the string the JSON format carries.
	Attributes map[string]string
	// Data is the event's data: the payload's encoded bytes.
	Data []byte
}

// CloudEventToBinary converts a structured-mode CloudEvents document (what
// EncodeCloudEvent writes, or any valid CloudEvent) to binary mode. The
// error matches [ErrMalformedEvent] when doc is not a valid CloudEvent.
func CloudEventToBinary(doc []byte) (BinaryCloudEvent, error) {
	b, err := cloudevents.ToBinary(doc)
	if err != nil {
		return BinaryCloudEvent{}, fmt.Errorf("%w: %s", ErrMalformedEvent, cloudEventsDetail(err))
	}
	return BinaryCloudEvent{Attributes: b.Attributes, Data: b.Data}, nil
}

// CloudEventFromBinary converts a binary-mode CloudEvent, as a transport
// read it from a message's headers and body, to the structured-mode
// document the bus decodes. Every attribute becomes a string, so extensions
// read this way are Strings, whatever their type at the producer. The data
// is taken as JSON when datacontenttype is a JSON type, when it must be
// valid JSON, or when it is absent and the data is valid JSON; as bytes
// otherwise. The error matches [ErrMalformedEvent] when the
// attributes do not make a valid CloudEvent (specversion "1.0", a
// non-empty id, a source, a type, and valid optional attributes).
func CloudEventFromBinary(b BinaryCloudEvent) ([]byte, error) {
	doc, err := cloudevents.FromBinary(cloudevents.Binary{Attributes: b.Attributes, Data: b.Data})
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformedEvent, cloudEventsDetail(err))
	}
	return doc, nil
}
