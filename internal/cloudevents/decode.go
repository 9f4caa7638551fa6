package cloudevents

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Decode parses a CloudEvents 1.0 JSON document (structured mode). It reads
// what Encode writes and events written by other CloudEvents producers.
//
// Decoding is strict, and reports the first fault in the order that
// follows. The document must be a JSON object; specversion must be "1.0";
// id must be a UUID; source must be a non-empty URI-reference; type must be
// a string that checkType accepts (a nil checkType accepts any); time, if
// present, an RFC 3339 timestamp whose UTC year is in 0000-9999; sequence,
// if present, a decimal uint64 in a string; correlationid, if present, a
// string; causationid, if present, a UUID; partitionkey, if present, a
// string; metadata, if present, a string holding a JSON object of strings;
// traceparent and tracestate, if present, strings. A JSON null counts as an absent attribute. Unknown attributes and
// extensions are ignored.
//
// Then the data. At most one of data and data_base64 may be present; with
// neither, Decode checks no more and leaves Data nil. Otherwise a present
// datacontenttype must be a string and a media type; contentType, the
// content type that the caller reads Data as (a codec's), must be a media
// type; and the two must match (any two JSON types match). When
// datacontenttype is absent, data is taken as JSON. data_base64 must be
// standard base64; Data is the bytes it encodes, and DataBase64 is true.
// data with a JSON content type is Data as it is; data with any other must
// be a JSON string, and Data is its text.
//
// Every error is an *Error and says what was wrong; the error that
// checkType returns becomes its Err.
func Decode(data []byte, contentType string, checkType func(string) error) (Event, error) {
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) == 0 {
		return Event{}, errorf("not a json object: empty input")
	} else if trimmed[0] != '{' {
		return Event{}, errorf("not a json object: %s", jsonKind(trimmed))
	}
	doc, err := splitCloudEvent(data)
	if err != nil {
		return Event{}, err
	}

	version, err := requiredString(doc, attrSpecVersion)
	if err != nil {
		return Event{}, err
	}
	if version != specVersion {
		return Event{}, errorf("specversion %s is not %q", quoteShort(version), specVersion)
	}

	var ev Event
	id, err := requiredString(doc, attrID)
	if err != nil {
		return Event{}, err
	}
	if ev.ID, err = parseUUID(attrID, id); err != nil {
		return Event{}, err
	}
	if ev.Source, err = requiredString(doc, attrSource); err != nil {
		return Event{}, err
	}
	if err := checkSource(ev.Source); err != nil {
		return Event{}, &Error{Detail: "source: not a uri-reference", Err: err}
	}
	if ev.Type, err = requiredString(doc, attrType); err != nil {
		return Event{}, err
	}
	if checkType != nil {
		if err := checkType(ev.Type); err != nil {
			return Event{}, &Error{Detail: "type", Err: err}
		}
	}

	if ev.Time, err = optionalAttribute(doc, attrTime, parseTime); err != nil {
		return Event{}, err
	}
	if ev.Sequence, err = optionalAttribute(doc, attrSequence, parseSequence); err != nil {
		return Event{}, err
	}
	if ev.CorrelationID, _, err = optionalString(doc, attrCorrelationID); err != nil {
		return Event{}, err
	}
	if ev.CausationID, err = optionalAttribute(doc, attrCausationID, parseCausationID); err != nil {
		return Event{}, err
	}
	if ev.PartitionKey, _, err = optionalString(doc, attrPartitionKey); err != nil {
		return Event{}, err
	}
	if ev.Metadata, err = optionalAttribute(doc, attrMetadata, parseMetadata); err != nil {
		return Event{}, err
	}
	if ev.TraceParent, _, err = optionalString(doc, attrTraceParent); err != nil {
		return Event{}, err
	}
	if ev.TraceState, _, err = optionalString(doc, attrTraceState); err != nil {
		return Event{}, err
	}

	if err := decodeData(doc, contentType, &ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// decodeData sets ev's DataContentType, Data and DataBase64 from the
// document's data or data_base64 member, and leaves them alone when there
// is neither.
func decodeData(doc *document, contentType string, ev *Event) error {
	rawData, hasData := doc.data, doc.data != nil
	hasBase64 := doc.dataBase64 != nil
	if hasData && hasBase64 {
		return errorf("both data and data_base64 are present")
	}
	if !hasData && !hasBase64 {
		return nil
	}

	docType, hasType, err := optionalString(doc, attrDataContentType)
	if err != nil {
		return err
	}
	var docMedia string
	if hasType {
		if docMedia, err = MediaType(docType); err != nil {
			return errorf("datacontenttype %s is not a media type", quoteShort(docType))
		}
	} else if hasData {
		docMedia = "application/json" // the JSON format's default for data
	}
	codecMedia, err := MediaType(contentType)
	if err != nil {
		return errorf("codec content type %s is not a media type", quoteShort(contentType))
	}
	if docMedia != "" && docMedia != codecMedia && !(IsJSON(docMedia) && IsJSON(codecMedia)) {
		return errorf("datacontenttype %s does not match the codec's %q", quoteShort(docMedia), codecMedia)
	}

	ev.DataContentType = docType
	switch {
	case hasBase64:
		s, _, err := optionalString(doc, attrDataBase64)
		if err != nil {
			return err
		}
		if ev.Data, err = base64.StdEncoding.DecodeString(s); err != nil {
			return errorf("data_base64 is not base64: %v", err)
		}
		ev.DataBase64 = true
	case IsJSON(docMedia):
		ev.Data = rawData
	default:
		// Non-JSON content in data is carried as a JSON string.
		var s string
		if len(rawData) == 0 || rawData[0] != '"' || json.Unmarshal(rawData, &s) != nil {
			return errorf("data with non-json content type %q is not a json string", docMedia)
		}
		ev.Data = []byte(s)
	}
	return nil
}

// requiredString returns the string value of a required attribute.
func requiredString(doc *document, name string) (string, error) {
	s, ok, err := optionalString(doc, name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errorf("missing required attribute %q", name)
	}
	return s, nil
}

// optionalAttribute returns the value that parse makes of the string value
// of an optional attribute, and V's zero value when it is absent.
func optionalAttribute[V any](doc *document, name string, parse func(string) (V, error)) (V, error) {
	s, ok, err := optionalString(doc, name)
	if err != nil || !ok {
		var zero V
		return zero, err
	}
	return parse(s)
}

// parseUUID parses the value of the named attribute as a UUID.
func parseUUID(name, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, errorf("%s %s is not a uuid", name, quoteShort(s))
	}
	return id, nil
}

// parseCausationID parses the causationid extension: a UUID.
func parseCausationID(s string) (uuid.UUID, error) { return parseUUID(attrCausationID, s) }

// optionalString returns the string value of an attribute and whether it is
// present. An attribute that is present but not a string is an error.
func optionalString(doc *document, name string) (string, bool, error) {
	raw := *doc.attribute(name)
	if raw == nil {
		return "", false, nil
	}
	if len(raw) < 2 || raw[0] != '"' {
		return "", false, errorf("attribute %q is %s, not a string", name, jsonKind(raw))
	}
	// The document is valid JSON, so a string without escapes is its own
	// text; encoding/json would only change invalid UTF-8.
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), true, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false, errorf("attribute %q is %s, not a string", name, jsonKind(raw))
	}
	return s, true, nil
}
