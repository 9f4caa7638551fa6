package cloudevents

import (
	"bytes"
	"encoding/base64"

	"github.com/google/uuid"
)

// Encode returns ev as a CloudEvents 1.0 JSON document (structured mode),
// its members in this order: specversion "1.0", id (RawID if set, else
// the text of ID), source, type, subject, time (in UTC, RFC 3339 with
// nanoseconds), datacontenttype, dataschema, sequence, correlationid,
// causationid, partitionkey, metadata, traceparent, tracestate, the other
// extensions sorted by name (each as a JSON string, boolean or number, as
// its Kind says), and data or data_base64. Optional attributes that hold their zero value are left
// out; data or data_base64 is always written. Strings are escaped as
// encoding/json escapes them without HTML escaping.
//
// Encode checks neither the source, the type, the dataschema nor the
// extensions (see CheckExtension). When DataBase64 is false
// it writes Data, trimmed of surrounding white space, as the value of data
// without checking that it is JSON. Its error is an *Error: for a time
// whose UTC year is outside 0000-9999, which RFC 3339 cannot write, or for
// metadata that encoding/json fails to encode.
func Encode(ev *Event) ([]byte, error) {
	metadata, err := encodeMetadata(ev.Metadata)
	if err != nil {
		return nil, err
	}

	// The document is written by hand: encoding/json would cost as much as
	// everything else together, mostly to re-check a payload that is
	// already valid. The root package's FuzzEncodeCloudEvent checks it
	// against encoding/json.
	buf := make([]byte, 0, 320+len(ev.Type)+len(ev.PartitionKey)+len(ev.CorrelationID)+len(metadata)+len(ev.TraceParent)+len(ev.TraceState)+len(ev.Data)*4/3)
	buf = append(buf, `{"specversion":"`+specVersion+`","id":`...)
	if ev.RawID != "" {
		buf = appendJSONString(buf, ev.RawID)
	} else {
		buf = append(buf, '"')
		buf = appendUUID(buf, ev.ID)
		buf = append(buf, '"')
	}
	buf = append(buf, `,"source":`...)
	buf = appendJSONString(buf, ev.Source)
	buf = append(buf, `,"type":`...)
	buf = appendJSONString(buf, ev.Type)
	buf = appendOptionalString(buf, `,"subject":`, ev.Subject)
	if !ev.Time.IsZero() {
		buf = append(buf, `,"time":"`...)
		if buf, err = appendTime(buf, ev.Time); err != nil {
			return nil, err
		}
		buf = append(buf, '"')
	}
	buf = append(buf, `,"datacontenttype":`...)
	buf = appendJSONString(buf, ev.DataContentType)
	buf = appendOptionalString(buf, `,"dataschema":`, ev.DataSchema)
	if ev.Sequence != 0 {
		buf = append(buf, `,"sequence":"`...)
		buf = appendSequence(buf, ev.Sequence)
		buf = append(buf, '"')
	}
	buf = appendOptionalString(buf, `,"correlationid":`, ev.CorrelationID)
	if ev.CausationID != uuid.Nil {
		buf = append(buf, `,"causationid":"`...)
		buf = appendUUID(buf, ev.CausationID)
		buf = append(buf, '"')
	}
	buf = appendOptionalString(buf, `,"partitionkey":`, ev.PartitionKey)
	buf = appendOptionalString(buf, `,"metadata":`, string(metadata))
	buf = appendOptionalString(buf, `,"traceparent":`, ev.TraceParent)
	buf = appendOptionalString(buf, `,"tracestate":`, ev.TraceState)
	buf = appendExtensions(buf, ev.Extensions)
	if ev.DataBase64 {
		buf = append(buf, `,"data_base64":"`...)
		buf = base64.StdEncoding.AppendEncode(buf, ev.Data)
		buf = append(buf, '"')
	} else {
		buf = append(buf, `,"data":`...)
		buf = append(buf, bytes.TrimSpace(ev.Data)...)
	}
	return append(buf, '}'), nil
}

// appendOptionalString appends member, such as `,"partitionkey":`, and value
// as a JSON string, or nothing when value is empty.
func appendOptionalString(dst []byte, member, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, member...)
	return appendJSONString(dst, value)
}
