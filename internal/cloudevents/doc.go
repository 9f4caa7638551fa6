// Package cloudevents is the CloudEvents 1.0 JSON format (structured mode)
// of the bus's events: an [Event] holds the attributes, the bus's extension
// attributes and the data; [Encode] writes it as a JSON document and
// [Decode] reads one back, checking every attribute. It knows nothing of
// the bus's types: the root package turns its events and codecs into an
// Event and back.
package cloudevents
