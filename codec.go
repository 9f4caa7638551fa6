package eventbus

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/busline/eventbus/internal/cloudevents"
)

// Codec turns payloads into bytes and back. It is what EncodeCloudEvent and
// DecodeCloudEvent use for an event's data.
//
// ContentType returns the media type of the bytes Marshal produces, such as
// "application/json"; it becomes the CloudEvents datacontenttype attribute
// and must parse with [mime.ParseMediaType]. Marshal encodes a payload;
// Unmarshal decodes data into v, which is a non-nil pointer to a payload.
// A Codec must be safe for concurrent use.
type Codec interface {
	ContentType() string
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONCodec is the default Codec: encoding/json, with the content type
// "application/json". Its zero value is ready to use.
type JSONCodec struct{}

// ContentType returns "application/json".
func (JSONCodec) ContentType() string { return "application/json" }

// Marshal returns the JSON encoding of v, as [json.Marshal] does.
func (JSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes the JSON document data into v, as [json.Unmarshal] does.
func (JSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// EncodeCloudEvent returns e as a CloudEvents 1.0 JSON document (structured
// mode, media type "application/cloudevents+json").
//
// The attributes are specversion "1.0"; id, the text of e.ID (or the id
// another producer wrote, e.CloudEvent.ID); source, e.CloudEvent.Source
// (an event read from a broker), or, when it is empty, the given source, which must be a non-empty URI-reference
// (otherwise the error matches [ErrInvalidOption]); type, e.Topic, which
// must be a valid topic name (otherwise the error matches
// [ErrInvalidTopic]), or e.CloudEvent.Type; time, e.Time in UTC as RFC 3339
// with nanoseconds, omitted when e.Time is zero; datacontenttype,
// codec.ContentType(); and subject and dataschema from e.CloudEvent. A nil
// codec means [JSONCodec].
//
// The payload is encoded with codec. When the content type is JSON (its
// subtype is "json" or ends in "+json"), the bytes must be valid JSON and are
// embedded as the value of data; otherwise they are base64-encoded into
// data_base64.
//
// The rest of the envelope goes into extension attributes, each omitted when
// empty: sequence (e.Sequence as a decimal string, zero-padded to 20 digits
// so that sequences compare as strings, as the CloudEvents sequence extension
// requires), correlationid (omitted when it is the text of e.ID, as a root
// event's is: DecodeCloudEvent restores it), causationid (omitted for
// uuid.Nil), partitionkey
// (e.Key, the CloudEvents partitioning extension), metadata (e.Metadata as
// a JSON object, itself encoded as a string), traceparent and tracestate
// (the distributed tracing extension), then e.CloudEvent's extensions, by
// name, each as a JSON string, boolean or number as its type says.
func EncodeCloudEvent[T any](e *Event[T], source string, codec Codec) ([]byte, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: nil event", ErrInvalidOption)
	}
	if codec == nil {
		codec = JSONCodec{}
	}
	source = e.SourceOr(source)
	if err := checkSource(source); err != nil {
		return nil, fmt.Errorf("%w: cloudevents source: %s", ErrInvalidOption, err)
	}
	if err := ValidateTopicName(e.Topic); err != nil {
		return nil, err
	}
	contentType := codec.ContentType()
	mediaType, err := cloudevents.MediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("%w: codec content type %q is not a media type: %v", ErrInvalidOption, contentType, err)
	}
	payload, err := codec.Marshal(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("eventbus: encode payload with %s codec: %w", mediaType, err)
	}
	jsonData := cloudevents.IsJSON(mediaType)
	if _, trusted := codec.(JSONCodec); jsonData && !trusted && !json.Valid(payload) {
		return nil, fmt.Errorf("eventbus: encode payload: %s codec produced invalid json", mediaType)
	}
	correlationID := e.CorrelationID
	var idText [36]byte
	if correlationID == idString(e.ID, &idText) {
		correlationID = "" // a root event's: DecodeCloudEvent restores it
	}
	ev := &cloudevents.Event{
		ID:              e.ID,
		Source:          source,
		Type:            e.Topic,
		Time:            e.Time,
		DataContentType: contentType,
		Sequence:        e.Sequence,
		CorrelationID:   correlationID,
		CausationID:     e.CausationID,
		PartitionKey:    e.Key,
		Metadata:        e.Metadata,
		Data:            payload,
		DataBase64:      !jsonData,
	}
	if a := e.CloudEvent; a != nil {
		ev.RawID, ev.Subject, ev.DataSchema, ev.Extensions = a.ID, a.Subject, a.DataSchema, a.extensions()
		ev.TraceParent, ev.TraceState = a.TraceParent, a.TraceState
		if a.Type != "" {
			ev.Type = a.Type
		}
	}
	doc, err := cloudevents.Encode(ev)
	if err != nil {
		var ce *cloudevents.Error
		if errors.As(err, &ce) && ce.Err != nil {
			return nil, fmt.Errorf("eventbus: %s: %w", ce.Detail, ce.Err)
		}
		return nil, fmt.Errorf("eventbus: %s", cloudEventsDetail(err))
	}
	return doc, nil
}

// DecodeCloudEvent parses a CloudEvents 1.0 JSON document (structured mode)
// into an Event[T], decoding its data with codec; a nil codec means
// [JSONCodec]. It is the inverse of EncodeCloudEvent, and reads any valid
// CloudEvent another producer writes.
//
// Decoding follows the specification. The document must be a JSON object;
// specversion must be "1.0"; id a non-empty string; type a valid topic name
// (see ValidateTopicName), which becomes the event's Topic; source a
// non-empty URI-reference; time, if present, an RFC 3339 timestamp whose
// UTC year is in 0000-9999; subject, if present, a string; dataschema, if
// present, an absolute URI; the extension attributes strings, booleans or
// 32-bit integers, named by one to twenty lowercase letters and digits. A
// JSON null counts as an absent attribute. At most one of data and
// data_base64 may be present; with neither, the payload is T's zero value.
// data_base64 must be standard base64. A present datacontenttype must be a
// media type that the codec's content type matches (any two JSON types
// match); when it is absent, data is taken as JSON. data with a non-JSON
// content type must be a JSON string, whose text is the payload's bytes.
//
// The bus's own extensions (sequence, correlationid, causationid,
// partitionkey, metadata, traceparent, tracestate) fill the Envelope's
// fields; one of them written by another producer in a form the bus does
// not write (a sequence that is not a decimal number, say) is kept among
// the extensions instead. An id that is not the canonical text of a UUID
// is kept in CloudEvent.ID, with a UUID derived from it in ID (see
// CloudEventAttributes); subject, dataschema and the other extensions are
// kept in CloudEvent as well, which is nil when there are none.
//
// Every error matches [ErrMalformedEvent] and says what was wrong.
//
// The returned event's time is in UTC. Its CorrelationID is the correlationid
// extension, or, when that is absent or empty, the text of its ID: the
// correlation ID of a root event.
func DecodeCloudEvent[T any](data []byte, codec Codec) (*Event[T], error) {
	return decodeCloudEvent[T](data, codec, "", "")
}

// decodeCloudEvent is DecodeCloudEvent for an event read from the
// broker's destination of topic, or, when topic is empty, for an event
// whose type names its topic. source is the receiving bus's own source,
// which the events of its peers usually carry: the decoded event shares
// that string instead of holding a copy. An event read from a topic may have any
// non-empty type: it belongs to the topic, and a type other than the
// topic's name is kept in CloudEvent.Type.
func decodeCloudEvent[T any](data []byte, codec Codec, topic, source string) (*Event[T], error) {
	if codec == nil {
		codec = JSONCodec{}
	}
	var checkType func(string) error
	if topic == "" {
		checkType = ValidateTopicName
	}
	ce, err := cloudevents.Decode(data, cloudevents.DecodeOptions{
		ContentType: codec.ContentType(), CheckType: checkType, Type: topic, Source: source,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformedEvent, cloudEventsDetail(err))
	}
	if topic == "" {
		topic = ce.Type
	}
	e := &Event[T]{Envelope: Envelope{
		ID:            ce.ID,
		Topic:         topic,
		Time:          ce.Time,
		Sequence:      ce.Sequence,
		CorrelationID: ce.CorrelationID,
		CausationID:   ce.CausationID,
		Key:           ce.PartitionKey,
		Metadata:      ce.Metadata,
		CloudEvent:    cloudEventAttributes(&ce, topic),
	}}
	if e.CorrelationID == "" {
		e.CorrelationID = e.ID.String()
	}
	if ce.Data != nil {
		if err := codec.Unmarshal(ce.Data, &e.Payload); err != nil {
			codecMedia, _ := cloudevents.MediaType(codec.ContentType()) // Decode has parsed it
			return nil, fmt.Errorf("%w: data does not decode with the %s codec: %w", ErrMalformedEvent, codecMedia, err)
		}
	}
	return e, nil
}

// checkSource reports whether source is a non-empty URI-reference, as the
// CloudEvents source attribute must be. Its error says why not, without a
// package prefix, for the caller to put in its own error.
func checkSource(source string) error {
	if err := cloudevents.CheckSource(source); err != nil {
		return errors.New(cloudEventsDetail(err))
	}
	return nil
}

// cloudEventsDetail returns the text of err, an error of the cloudevents
// package, for an error of this package: without the "cloudevents: "
// prefix, and with a cause that came from this package without its
// "eventbus: " prefix.
func cloudEventsDetail(err error) string {
	var ce *cloudevents.Error
	if !errors.As(err, &ce) {
		return err.Error()
	}
	if ce.Err == nil {
		return ce.Detail
	}
	return ce.Detail + ": " + trimPrefix(ce.Err)
}
