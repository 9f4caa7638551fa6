package eventbus

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/busline/eventbus/internal/cloudevents"
)

// CloudEventAttributes are the CloudEvents attributes of an event that the
// rest of its Envelope has no field for. An event decoded from a broker has
// them when its producer wrote any (another service, typically), and the
// bus writes them back unchanged when it dead-letters or republishes the
// event; a publisher may set them with WithCloudEvent.
type CloudEventAttributes struct {
	// Source is the source attribute of an event read from a broker: the
	// producer's. Empty means the bus's (see WithSource). Only decoding
	// sets it.
	Source string `json:"source,omitempty"`
	// ID is the id attribute exactly as the producer wrote it, when it is
	// not the canonical text of a UUID (CloudEvents allows any non-empty
	// string, such as "A234-1234-1234"). Envelope.ID then holds the UUID
	// the bus uses in its place for deduplication, idempotency and
	// causation: the same UUID for the canonical forms of the same UUID,
	// and otherwise the version 5 UUID, in the URL namespace, of the
	// source, "#" and the id. Only decoding sets it.
	ID string `json:"id,omitempty"`
	// Type is the type attribute when it is not the name of the topic the
	// event was read from: the type another producer gave an event it
	// wrote to the topic's destination on the broker.
	Type string `json:"type,omitempty"`
	// Subject is the subject attribute.
	Subject string `json:"subject,omitempty"`
	// DataSchema is the dataschema attribute: an absolute URI.
	DataSchema string `json:"dataschema,omitempty"`
	// TraceParent and TraceState are the traceparent and tracestate
	// attributes of the distributed tracing extension: the W3C Trace
	// Context of the span that published the event (see
	// Envelope.SetTraceContext).
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
	// Extensions are the extension attributes the bus has no field for, by
	// name.
	Extensions map[string]ExtensionValue `json:"extensions,omitempty"`
}

// ExtensionValue is the value of a CloudEvents extension attribute, with
// its CloudEvents type as far as the format tells it.
type ExtensionValue struct {
	Type ExtensionType `json:"type"`
	// Value is the value's text: the string of a String, "true" or
	// "false" for a Boolean, the decimal integer of an Integer.
	Value string `json:"value"`
}

// ExtensionType is a CloudEvents type of extension attribute values.
// The JSON format carries Booleans as JSON booleans and Integers as JSON
// numbers, and every other type (Binary, URI, URI-reference, Timestamp)
// as a JSON string: those decode as String. In binary content mode every
// attribute is a string, so every extension decodes as String.
type ExtensionType string

const (
	ExtensionString  ExtensionType = "String"
	ExtensionBoolean ExtensionType = "Boolean"
	ExtensionInteger ExtensionType = "Integer"
)

// isZero reports whether a holds no attribute.
func (a *CloudEventAttributes) isZero() bool {
	return a == nil || a.Source == "" && a.ID == "" && a.Type == "" && a.Subject == "" && a.DataSchema == "" &&
		a.TraceParent == "" && a.TraceState == "" && len(a.Extensions) == 0
}

// check validates the attributes a publisher sets (WithCloudEvent): no
// source and no ID, which the bus sets; an absolute URI as
// dataschema; extension names of one to twenty lowercase letters and
// digits, none the name of an attribute the bus writes, with values of
// their types (an Integer has 32 bits).
func (a *CloudEventAttributes) check() error {
	if a.ID != "" {
		return errors.New("id: the bus assigns event IDs")
	}
	if a.Source != "" {
		return errors.New("source: the bus's is WithSource")
	}
	if a.DataSchema != "" {
		if _, err := cloudevents.CheckDataSchema(a.DataSchema); err != nil {
			return errors.New(cloudEventsDetail(err))
		}
	}
	for _, e := range a.extensions() {
		if err := cloudevents.CheckExtension(e); err != nil {
			return errors.New(cloudEventsDetail(err))
		}
	}
	return nil
}

// extensions returns a's extensions in the cloudevents package's form,
// sorted by name.
func (a *CloudEventAttributes) extensions() []cloudevents.Extension {
	if a == nil || len(a.Extensions) == 0 {
		return nil
	}
	out := make([]cloudevents.Extension, 0, len(a.Extensions))
	for _, name := range slices.Sorted(maps.Keys(a.Extensions)) {
		v := a.Extensions[name]
		kind := cloudevents.String
		switch v.Type {
		case ExtensionBoolean:
			kind = cloudevents.Boolean
		case ExtensionInteger:
			kind = cloudevents.Integer
		case ExtensionString, "":
		default:
			kind = cloudevents.Kind(255) // CheckExtension refuses it
		}
		out = append(out, cloudevents.Extension{Name: name, Kind: kind, Text: v.Value})
	}
	return out
}

// cloudEventAttributes returns the attributes of a decoded CloudEvent that
// the Envelope has no field for, or nil when there are none; topic is the
// topic the event was read from, whose name needs no type attribute.
func cloudEventAttributes(ce *cloudevents.Event, topic string) *CloudEventAttributes {
	a := &CloudEventAttributes{Source: ce.Source, ID: ce.RawID, Subject: ce.Subject, DataSchema: ce.DataSchema,
		TraceParent: ce.TraceParent, TraceState: ce.TraceState}
	if ce.Type != topic {
		a.Type = ce.Type
	}
	if len(ce.Extensions) > 0 {
		a.Extensions = make(map[string]ExtensionValue, len(ce.Extensions))
		for _, e := range ce.Extensions {
			t := ExtensionString
			switch e.Kind {
			case cloudevents.Boolean:
				t = ExtensionBoolean
			case cloudevents.Integer:
				t = ExtensionInteger
			}
			a.Extensions[e.Name] = ExtensionValue{Type: t, Value: e.Text}
		}
	}
	if a.isZero() {
		return nil
	}
	return a
}

// WithCloudEvent sets CloudEvents attributes of the event that the rest of
// the envelope has no field for: subject, dataschema, the trace context,
// extensions, and a type other than the topic's name. Its Source and ID
// must be empty. The attributes
// are copied. Invalid ones make the publish fail with an error matching
// ErrInvalidOption.
func WithCloudEvent(attrs CloudEventAttributes) PublishOption {
	attrs.Extensions = maps.Clone(attrs.Extensions)
	return PublishOption{kind: optCloudEvent, cloudEvent: &attrs}
}

// checkCloudEvent is WithCloudEvent's check, with the option's error.
func checkCloudEvent(a *CloudEventAttributes) error {
	if err := a.check(); err != nil {
		return fmt.Errorf("%w: cloudevent attributes: %v", ErrInvalidOption, err)
	}
	return nil
}
