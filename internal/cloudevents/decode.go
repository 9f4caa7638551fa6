package cloudevents

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// DecodeOptions say how Decode reads a document.
type DecodeOptions struct {
	// ContentType is the content type that the caller reads Data as (a
	// codec's); empty accepts the document's own.
	ContentType string
	// CheckType, when not nil, checks the type attribute.
	CheckType func(string) error
	// Type and Source, when the document's type or source is the same
	// text, are returned instead of a copy of it: the strings most
	// documents a receiver reads carry, such as its topic's name.
	Type, Source string
}

// Decode parses a CloudEvents 1.0 JSON document (structured mode). It reads
// what Encode writes and events written by other CloudEvents producers.
//
// Decoding follows the specification, and reports the first fault in the
// order that follows. The document must be a JSON object; specversion must
// be "1.0"; id a non-empty string (see ParseID for ID and RawID); source a
// non-empty URI-reference; type a non-empty string that opts.CheckType
// accepts; subject, if present, a string; time, if
// present, an RFC 3339 timestamp whose UTC year is in 0000-9999;
// dataschema, if present, an absolute URI; correlationid, partitionkey,
// traceparent and tracestate, if present, strings. sequence (a decimal
// uint64), causationid (a UUID) and metadata (a JSON object of strings),
// if present, must be strings; one not in the form the bus writes is kept
// among the Extensions as a String. Every other member is an extension,
// named by one to twenty lowercase letters and digits, whose value must be
// a string, a boolean or a 32-bit integer. A JSON null counts as an absent
// attribute.
//
// Then the data. At most one of data and data_base64 may be present; with
// neither, Decode checks no more and leaves Data nil. Otherwise a present
// datacontenttype must be a string and a media type; opts.ContentType, if
// not empty, must be a media type; and the two must match (any two JSON
// types match). When
// datacontenttype is absent, data is taken as JSON. data_base64 must be
// standard base64; Data is the bytes it encodes, and DataBase64 is true.
// data with a JSON content type is Data as it is, sharing data's memory;
// data with any other must be a JSON string, and Data is its text.
//
// Every error is an *Error and says what was wrong; the error that
// CheckType returns becomes its Err.
func Decode(data []byte, opts DecodeOptions) (Event, error) {
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) == 0 {
		return Event{}, errorf("not a json object: empty input")
	} else if trimmed[0] != '{' {
		return Event{}, errorf("not a json object: %s", jsonKind(trimmed))
	}
	var doc document
	if err := splitCloudEvent(data, &doc); err != nil {
		return Event{}, err
	}

	version, err := requiredBytes(&doc, attrSpecVersion)
	if err != nil {
		return Event{}, err
	}
	if string(version) != specVersion {
		return Event{}, errorf("specversion %s is not %q", quoteShort(string(version)), specVersion)
	}

	var ev Event
	id, err := requiredBytes(&doc, attrID)
	if err != nil {
		return Event{}, err
	}
	if len(id) == 0 {
		return Event{}, errorf("attribute %q is empty", attrID)
	}
	source, err := requiredBytes(&doc, attrSource)
	if err != nil {
		return Event{}, err
	}
	ev.Source = reuse(source, opts.Source)
	if err := checkSource(ev.Source); err != nil {
		return Event{}, &Error{Detail: "source: not a uri-reference", Err: err}
	}
	ev.ID, ev.RawID = parseIDBytes(ev.Source, id)
	typ, err := requiredBytes(&doc, attrType)
	if err != nil {
		return Event{}, err
	}
	if len(typ) == 0 {
		return Event{}, errorf("attribute %q is empty", attrType)
	}
	ev.Type = reuse(typ, opts.Type)
	if opts.CheckType != nil {
		if err := opts.CheckType(ev.Type); err != nil {
			return Event{}, &Error{Detail: "type", Err: err}
		}
	}
	if ev.Subject, _, err = optionalString(&doc, attrSubject); err != nil {
		return Event{}, err
	}
	if ev.DataSchema, err = optionalAttribute(&doc, attrDataSchema, parseDataSchema); err != nil {
		return Event{}, err
	}

	if ev.Time, err = optionalAttribute(&doc, attrTime, parseTime); err != nil {
		return Event{}, err
	}
	if ev.Sequence, err = lenientAttribute(&doc, attrSequence, parseSequence, &ev); err != nil {
		return Event{}, err
	}
	if ev.CorrelationID, _, err = optionalString(&doc, attrCorrelationID); err != nil {
		return Event{}, err
	}
	if ev.CausationID, err = lenientAttribute(&doc, attrCausationID, parseCausationID, &ev); err != nil {
		return Event{}, err
	}
	if ev.PartitionKey, _, err = optionalString(&doc, attrPartitionKey); err != nil {
		return Event{}, err
	}
	if ev.Metadata, err = lenientAttribute(&doc, attrMetadata, parseMetadata, &ev); err != nil {
		return Event{}, err
	}
	if ev.TraceParent, _, err = optionalString(&doc, attrTraceParent); err != nil {
		return Event{}, err
	}
	if ev.TraceState, _, err = optionalString(&doc, attrTraceState); err != nil {
		return Event{}, err
	}

	for _, m := range doc.extra {
		if m.value == nil {
			continue // null: absent
		}
		ext, err := parseExtension(m.name, m.value)
		if err != nil {
			return Event{}, err
		}
		ev.Extensions = append(ev.Extensions, ext)
	}
	slices.SortFunc(ev.Extensions, compareExtensions)

	if err := decodeData(&doc, opts.ContentType, &ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// reuse returns known when text is the same text, and a copy of text
// otherwise.
func reuse(text []byte, known string) string {
	if string(text) == known {
		return known
	}
	return string(text)
}

// lenientAttribute is optionalAttribute for an extension attribute that
// the bus writes in a form of its own (sequence, causationid, metadata):
// a string that is not in that form comes from another producer, which
// may use the name its own way, and is kept among ev's extensions as a
// String instead of failing the event. A value that is not a string is an
// error.
func lenientAttribute[V any](doc *document, name string, parse func([]byte) (V, error), ev *Event) (V, error) {
	var zero V
	b, ok, err := optionalBytes(doc, name)
	if err != nil || !ok {
		return zero, err
	}
	v, err := parse(b)
	if err != nil {
		ev.Extensions = append(ev.Extensions, Extension{Name: name, Kind: String, Text: string(b)})
		return zero, nil
	}
	return v, nil
}

// CheckDataSchema checks a dataschema attribute: an absolute URI. It
// returns s, to serve as a parse function.
func CheckDataSchema(s string) (string, error) { return checkDataSchema(s) }

// parseDataSchema reads the dataschema attribute: an absolute URI.
func parseDataSchema(b []byte) (string, error) { return checkDataSchema(string(b)) }

// checkDataSchema checks the dataschema attribute: an absolute URI.
func checkDataSchema(s string) (string, error) {
	if err := checkURIReference(s); err != nil {
		return "", &Error{Detail: "dataschema: not a uri", Err: err}
	}
	if i := strings.IndexByte(s, ':'); i <= 0 || !isScheme(s[:i]) {
		return "", errorf("dataschema %s is not an absolute uri", quoteShort(s))
	}
	return s, nil
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

	rawType, hasType, err := optionalBytes(doc, attrDataContentType)
	if err != nil {
		return err
	}
	docType := reuse(rawType, contentType)
	var docMedia string
	if hasType {
		if docMedia, err = MediaType(docType); err != nil {
			return errorf("datacontenttype %s is not a media type", quoteShort(docType))
		}
	} else if hasData {
		docMedia = "application/json" // the JSON format's default for data
	}
	if contentType != "" {
		codecMedia, err := MediaType(contentType)
		if err != nil {
			return errorf("codec content type %s is not a media type", quoteShort(contentType))
		}
		if docMedia != "" && docMedia != codecMedia && !(IsJSON(docMedia) && IsJSON(codecMedia)) {
			return errorf("datacontenttype %s does not match the codec's %q", quoteShort(docMedia), codecMedia)
		}
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

// requiredBytes returns the text of a required string attribute.
func requiredBytes(doc *document, name string) ([]byte, error) {
	b, ok, err := optionalBytes(doc, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errorf("missing required attribute %q", name)
	}
	return b, nil
}

// optionalAttribute returns the value that parse makes of the text of an
// optional string attribute, and V's zero value when it is absent.
func optionalAttribute[V any](doc *document, name string, parse func([]byte) (V, error)) (V, error) {
	b, ok, err := optionalBytes(doc, name)
	if err != nil || !ok {
		var zero V
		return zero, err
	}
	return parse(b)
}

// parseUUID parses the value of the named attribute as a UUID.
func parseUUID(name string, b []byte) (uuid.UUID, error) {
	id, err := uuid.ParseBytes(b)
	if err != nil {
		return uuid.Nil, errorf("%s %s is not a uuid", name, quoteShort(string(b)))
	}
	return id, nil
}

// parseCausationID parses the causationid extension: a UUID.
func parseCausationID(b []byte) (uuid.UUID, error) { return parseUUID(attrCausationID, b) }

// optionalString returns the string value of an attribute and whether it is
// present. An attribute that is present but not a string is an error.
func optionalString(doc *document, name string) (string, bool, error) {
	b, ok, err := optionalBytes(doc, name)
	return string(b), ok, err
}

// optionalBytes returns the text of a string attribute and whether it is
// present; the text shares the document's memory when the string has no
// escapes. An attribute that is present but not a string is an error.
func optionalBytes(doc *document, name string) ([]byte, bool, error) {
	raw := doc.value(name)
	if raw == nil {
		return nil, false, nil
	}
	if len(raw) < 2 || raw[0] != '"' {
		return nil, false, errorf("attribute %q is %s, not a string", name, jsonKind(raw))
	}
	// The document is valid JSON, so a string without escapes is its own
	// text; encoding/json would only change invalid UTF-8.
	if text := raw[1 : len(raw)-1]; bytes.IndexByte(text, '\\') < 0 && utf8.Valid(text) {
		return text, true, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, false, errorf("attribute %q is %s, not a string", name, jsonKind(raw))
	}
	return []byte(s), true, nil
}
