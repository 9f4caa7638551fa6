package eventbus

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
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

// CloudEvents attribute names. The extension names follow the CloudEvents
// naming rule: lowercase ASCII letters and digits, at most 20 characters.
const (
	ceSpecVersion     = "specversion"
	ceID              = "id"
	ceSource          = "source"
	ceType            = "type"
	ceTime            = "time"
	ceDataContentType = "datacontenttype"
	ceData            = "data"
	ceDataBase64      = "data_base64"
	ceSequence        = "sequence"
	ceCorrelationID   = "correlationid"
	ceCausationID     = "causationid"
	cePartitionKey    = "partitionkey"
	ceMetadata        = "metadata"

	ceVersion = "1.0"

	// sequenceDigits is the number of decimal digits of the largest uint64.
	// Sequences are zero-padded to it, because the CloudEvents sequence
	// extension requires values that order lexicographically.
	sequenceDigits = 20
)

// EncodeCloudEvent returns e as a CloudEvents 1.0 JSON document (structured
// mode, media type "application/cloudevents+json").
//
// The attributes are specversion "1.0"; id, the text of e.ID; source, the
// given source, which must be a non-empty URI-reference (otherwise the error
// matches [ErrInvalidOption]); type, e.Topic, which must be a valid topic
// name (otherwise the error matches [ErrInvalidTopic]); time, e.Time in UTC as
// RFC 3339 with nanoseconds, omitted when e.Time is zero; and
// datacontenttype, codec.ContentType(). A nil codec means [JSONCodec].
//
// The payload is encoded with codec. When the content type is JSON (its
// subtype is "json" or ends in "+json"), the bytes must be valid JSON and are
// embedded as the value of data; otherwise they are base64-encoded into
// data_base64.
//
// The rest of the envelope goes into extension attributes, each omitted when
// empty: sequence (e.Sequence as a decimal string, zero-padded to 20 digits
// so that sequences compare as strings, as the CloudEvents sequence extension
// requires), correlationid, causationid (omitted for uuid.Nil), partitionkey
// (e.Key, the CloudEvents partitioning extension) and metadata (e.Metadata as
// a JSON object, itself encoded as a string).
func EncodeCloudEvent[T any](e *Event[T], source string, codec Codec) ([]byte, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: nil event", ErrInvalidOption)
	}
	if codec == nil {
		codec = JSONCodec{}
	}
	if err := checkSource(source); err != nil {
		return nil, fmt.Errorf("%w: cloudevents source: %s", ErrInvalidOption, err)
	}
	if err := ValidateTopicName(e.Topic); err != nil {
		return nil, err
	}
	contentType := codec.ContentType()
	mediaType, err := parseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("%w: codec content type %q is not a media type: %v", ErrInvalidOption, contentType, err)
	}

	var metadata []byte
	if len(e.Metadata) > 0 {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e.Metadata); err != nil {
			return nil, fmt.Errorf("eventbus: encode metadata: %w", err)
		}
		metadata = bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	}
	payload, err := codec.Marshal(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("eventbus: encode payload with %s codec: %w", mediaType, err)
	}
	jsonData := isJSONMediaType(mediaType)
	if _, trusted := codec.(JSONCodec); jsonData && !trusted && !json.Valid(payload) {
		return nil, fmt.Errorf("eventbus: encode payload: %s codec produced invalid json", mediaType)
	}
	var when time.Time
	if !e.Time.IsZero() {
		when = e.Time.UTC()
		if y := when.Year(); y < 0 || y > 9999 {
			return nil, fmt.Errorf("eventbus: event time cannot be written as rfc 3339: year %d outside 0000-9999", y)
		}
	}

	// The document is written by hand: encoding/json would cost as much as
	// everything else together, mostly to re-check a payload that is
	// already valid. FuzzEncodeCloudEvent checks it against encoding/json.
	buf := make([]byte, 0, 320+len(e.Topic)+len(e.Key)+len(e.CorrelationID)+len(metadata)+len(payload)*4/3)
	buf = append(buf, `{"specversion":"`+ceVersion+`","id":"`...)
	buf = appendUUID(buf, e.ID)
	buf = append(buf, `","source":`...)
	buf = appendJSONString(buf, source)
	buf = append(buf, `,"type":`...)
	buf = appendJSONString(buf, e.Topic)
	if !e.Time.IsZero() {
		buf = append(buf, `,"time":"`...)
		buf = when.AppendFormat(buf, time.RFC3339Nano)
		buf = append(buf, '"')
	}
	buf = append(buf, `,"datacontenttype":`...)
	buf = appendJSONString(buf, contentType)
	if e.Sequence != 0 {
		buf = append(buf, `,"sequence":"`...)
		buf = append(buf, formatSequence(e.Sequence)...)
		buf = append(buf, '"')
	}
	if e.CorrelationID != "" {
		buf = append(buf, `,"correlationid":`...)
		buf = appendJSONString(buf, e.CorrelationID)
	}
	if e.CausationID != uuid.Nil {
		buf = append(buf, `,"causationid":"`...)
		buf = appendUUID(buf, e.CausationID)
		buf = append(buf, '"')
	}
	if e.Key != "" {
		buf = append(buf, `,"partitionkey":`...)
		buf = appendJSONString(buf, e.Key)
	}
	if len(metadata) > 0 {
		buf = append(buf, `,"metadata":`...)
		buf = appendJSONString(buf, string(metadata))
	}
	if jsonData {
		buf = append(buf, `,"data":`...)
		buf = append(buf, bytes.TrimSpace(payload)...)
	} else {
		buf = append(buf, `,"data_base64":"`...)
		buf = base64.StdEncoding.AppendEncode(buf, payload)
		buf = append(buf, '"')
	}
	return append(buf, '}'), nil
}

// appendUUID appends the canonical text of id.
func appendUUID(dst []byte, id uuid.UUID) []byte {
	var text [36]byte
	return append(dst, idString(id, &text)...)
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// does without HTML escaping: quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD, and U+2028 and U+2029 escaped
// so that the output is also valid JavaScript.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// DecodeCloudEvent parses a CloudEvents 1.0 JSON document (structured mode)
// into an Event[T], decoding its data with codec; a nil codec means
// [JSONCodec]. It is the inverse of EncodeCloudEvent, and also accepts
// events written by other CloudEvents producers.
//
// Decoding is strict. The document must be a JSON object; specversion must
// be "1.0"; id must be a UUID; type must be a valid topic name (see
// ValidateTopicName); source must be a non-empty URI-reference; time, if
// present, an RFC 3339 timestamp whose UTC year is in 0000-9999; sequence, if
// present, a decimal uint64 in a string; causationid, if present, a UUID;
// metadata, if present, a string holding a JSON object of strings. A JSON
// null counts as an absent attribute. At most one of data and data_base64
// may be present; with neither, the payload is T's zero value. data_base64
// must be standard base64. A present datacontenttype must be a media type
// that the codec's content type matches (any two JSON types match); when it
// is absent, data is taken as JSON. data with a non-JSON content type must
// be a JSON string, whose text is the payload's bytes. Unknown attributes
// and extensions are ignored, and so is the source, which the Envelope has
// no field for.
//
// Every error matches [ErrMalformedEvent] and says what was wrong.
//
// The returned event's time is in UTC. Its CorrelationID is the correlationid
// extension, or, when that is absent or empty, the text of its ID: the
// correlation ID of a root event.
func DecodeCloudEvent[T any](data []byte, codec Codec) (*Event[T], error) {
	if codec == nil {
		codec = JSONCodec{}
	}
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) == 0 {
		return nil, malformed("not a json object: empty input")
	} else if trimmed[0] != '{' {
		return nil, malformed("not a json object: %s", jsonKind(trimmed))
	}
	doc, err := splitCloudEvent(data)
	if err != nil {
		return nil, err
	}

	version, err := requiredString(doc, ceSpecVersion)
	if err != nil {
		return nil, err
	}
	if version != ceVersion {
		return nil, malformed("specversion %s is not %q", quoteShort(version), ceVersion)
	}

	e := new(Event[T])
	id, err := requiredString(doc, ceID)
	if err != nil {
		return nil, err
	}
	if e.ID, err = uuid.Parse(id); err != nil {
		return nil, malformed("id %s is not a uuid", quoteShort(id))
	}
	source, err := requiredString(doc, ceSource)
	if err != nil {
		return nil, err
	}
	if err := checkSource(source); err != nil {
		return nil, malformed("source: %s", err)
	}
	if e.Topic, err = requiredString(doc, ceType); err != nil {
		return nil, err
	}
	if err := ValidateTopicName(e.Topic); err != nil {
		return nil, malformed("type: %s", trimPrefix(err))
	}

	if s, ok, err := optionalString(doc, ceTime); err != nil {
		return nil, err
	} else if ok {
		if e.Time, err = parseTime(s); err != nil {
			return nil, err
		}
	}
	if s, ok, err := optionalString(doc, ceSequence); err != nil {
		return nil, err
	} else if ok {
		if e.Sequence, err = parseSequence(s); err != nil {
			return nil, err
		}
	}
	if e.CorrelationID, _, err = optionalString(doc, ceCorrelationID); err != nil {
		return nil, err
	}
	if e.CorrelationID == "" {
		e.CorrelationID = e.ID.String()
	}
	if s, ok, err := optionalString(doc, ceCausationID); err != nil {
		return nil, err
	} else if ok {
		if e.CausationID, err = uuid.Parse(s); err != nil {
			return nil, malformed("causationid %s is not a uuid", quoteShort(s))
		}
	}
	if e.Key, _, err = optionalString(doc, cePartitionKey); err != nil {
		return nil, err
	}
	if s, ok, err := optionalString(doc, ceMetadata); err != nil {
		return nil, err
	} else if ok {
		if e.Metadata, err = parseMetadata(s); err != nil {
			return nil, err
		}
	}

	if err := decodeData(doc, codec, &e.Payload); err != nil {
		return nil, err
	}
	return e, nil
}

// decodeData decodes the document's data or data_base64 member into
// payload, which it leaves alone when there is neither.
func decodeData(doc *cloudEventDoc, codec Codec, payload any) error {
	rawData, hasData := doc.data, doc.data != nil
	hasBase64 := doc.dataBase64 != nil
	if hasData && hasBase64 {
		return malformed("both data and data_base64 are present")
	}
	if !hasData && !hasBase64 {
		return nil
	}

	docType, hasType, err := optionalString(doc, ceDataContentType)
	if err != nil {
		return err
	}
	var docMedia string
	if hasType {
		if docMedia, err = parseMediaType(docType); err != nil {
			return malformed("datacontenttype %s is not a media type", quoteShort(docType))
		}
	} else if hasData {
		docMedia = "application/json" // the JSON format's default for data
	}
	codecType := codec.ContentType()
	codecMedia, err := parseMediaType(codecType)
	if err != nil {
		return malformed("codec content type %s is not a media type", quoteShort(codecType))
	}
	if docMedia != "" && docMedia != codecMedia && !(isJSONMediaType(docMedia) && isJSONMediaType(codecMedia)) {
		return malformed("datacontenttype %s does not match the codec's %q", quoteShort(docMedia), codecMedia)
	}

	var payloadBytes []byte
	switch {
	case hasBase64:
		s, _, err := optionalString(doc, ceDataBase64)
		if err != nil {
			return err
		}
		if payloadBytes, err = base64.StdEncoding.DecodeString(s); err != nil {
			return malformed("data_base64 is not base64: %v", err)
		}
	case isJSONMediaType(docMedia):
		payloadBytes = rawData
	default:
		// Non-JSON content in data is carried as a JSON string.
		var s string
		if len(rawData) == 0 || rawData[0] != '"' || json.Unmarshal(rawData, &s) != nil {
			return malformed("data with non-json content type %q is not a json string", docMedia)
		}
		payloadBytes = []byte(s)
	}
	if err := codec.Unmarshal(payloadBytes, payload); err != nil {
		return fmt.Errorf("%w: data does not decode with the %s codec: %w", ErrMalformedEvent, codecMedia, err)
	}
	return nil
}

// malformed returns an error that matches ErrMalformedEvent with the
// formatted detail.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedEvent}, args...)...)
}

// requiredString returns the string value of a required attribute.
func requiredString(doc *cloudEventDoc, name string) (string, error) {
	s, ok, err := optionalString(doc, name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", malformed("missing required attribute %q", name)
	}
	return s, nil
}

// optionalString returns the string value of an attribute and whether it is
// present. An attribute that is present but not a string is an error.
func optionalString(doc *cloudEventDoc, name string) (string, bool, error) {
	raw := *doc.attribute(name)
	if raw == nil {
		return "", false, nil
	}
	if len(raw) < 2 || raw[0] != '"' {
		return "", false, malformed("attribute %q is %s, not a string", name, jsonKind(raw))
	}
	// The document is valid JSON, so a string without escapes is its own
	// text; encoding/json would only change invalid UTF-8.
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), true, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false, malformed("attribute %q is %s, not a string", name, jsonKind(raw))
	}
	return s, true, nil
}

// cloudEventDoc holds the raw JSON values of the attributes that
// DecodeCloudEvent reads; nil means absent (or null, except for data,
// where null is an explicit null payload).
type cloudEventDoc struct {
	specVersion, id, source, typ, time, dataContentType []byte
	sequence, correlationID, causationID, partitionKey  []byte
	metadata, data, dataBase64                          []byte
	ignored                                             []byte // any other member
}

// attribute returns where the value of the named attribute is kept.
func (d *cloudEventDoc) attribute(name string) *[]byte {
	switch name {
	case ceSpecVersion:
		return &d.specVersion
	case ceID:
		return &d.id
	case ceSource:
		return &d.source
	case ceType:
		return &d.typ
	case ceTime:
		return &d.time
	case ceDataContentType:
		return &d.dataContentType
	case ceSequence:
		return &d.sequence
	case ceCorrelationID:
		return &d.correlationID
	case ceCausationID:
		return &d.causationID
	case cePartitionKey:
		return &d.partitionKey
	case ceMetadata:
		return &d.metadata
	case ceData:
		return &d.data
	case ceDataBase64:
		return &d.dataBase64
	}
	return &d.ignored
}

// splitCloudEvent checks that data is one JSON object and picks the values
// of its members out of it without decoding them. Member names are matched
// exactly (after unescaping); a repeated member keeps its last value, as
// encoding/json does.
func splitCloudEvent(data []byte) (*cloudEventDoc, error) {
	if !json.Valid(data) {
		var probe map[string]json.RawMessage
		err := json.Unmarshal(data, &probe) // for the detail of the error
		return nil, malformed("not a json object: %v", err)
	}
	doc := new(cloudEventDoc)
	i := skipSpace(data, 0) + 1 // past '{', which the caller checked
	for {
		i = skipSpace(data, i)
		if data[i] == '}' {
			return doc, nil
		}
		keyEnd := jsonValueEnd(data, i)
		rawKey := data[i:keyEnd]
		i = skipSpace(data, keyEnd) + 1 // past ':'
		i = skipSpace(data, i)
		valueEnd := jsonValueEnd(data, i)
		value := data[i:valueEnd:valueEnd]
		i = skipSpace(data, valueEnd)
		if data[i] == ',' {
			i++
		}

		var key string
		if bytes.IndexByte(rawKey, '\\') < 0 {
			key = string(rawKey[1 : len(rawKey)-1])
		} else if err := json.Unmarshal(rawKey, &key); err != nil {
			return nil, malformed("member name %s: %v", rawKey, err)
		}
		if key != ceData && isJSONNull(value) {
			value = nil // a null attribute is an absent one
		}
		*doc.attribute(key) = value
	}
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// jsonValueEnd returns the index just past the JSON value that starts at
// i, in a document already known to be valid.
func jsonValueEnd(data []byte, i int) int {
	depth := 0
	for ; i < len(data); i++ {
		switch c := data[i]; c {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of a scalar before the enclosing object's end
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// parseTime parses an RFC 3339 timestamp and returns it in UTC, refusing
// one that has no RFC 3339 form in UTC.
func parseTime(s string) (time.Time, error) {
	var t time.Time
	if err := t.UnmarshalText([]byte(s)); err != nil || !strictRFC3339(s) {
		return time.Time{}, malformed("time %s is not an rfc 3339 timestamp", quoteShort(s))
	}
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, malformed("time %s is outside the years 0000-9999 in utc", quoteShort(s))
	}
	return t, nil
}

// strictRFC3339 refuses what time.Time.UnmarshalText accepts beyond RFC
// 3339, given a string that it accepted: a comma before the fraction of a
// second, and an offset of 24 hours.
func strictRFC3339(s string) bool {
	if strings.IndexByte(s, ',') >= 0 {
		return false
	}
	if n := len(s); n >= 6 && (s[n-6] == '+' || s[n-6] == '-') && s[n-5:n-3] > "23" {
		return false
	}
	return true
}

// formatSequence writes seq in decimal, zero-padded to sequenceDigits.
func formatSequence(seq uint64) string {
	var buf [sequenceDigits]byte
	for i := range buf {
		buf[i] = '0'
	}
	digits := strconv.AppendUint(buf[:0:0], seq, 10)
	copy(buf[sequenceDigits-len(digits):], digits)
	return string(buf[:])
}

// parseSequence parses a sequence written by formatSequence or any other
// decimal representation of a uint64, with or without leading zeros.
func parseSequence(s string) (uint64, error) {
	if s == "" {
		return 0, malformed("sequence is empty")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, malformed("sequence %s is not a decimal number", quoteShort(s))
		}
	}
	seq, err := strconv.ParseUint(s, 10, 64) // leading zeros are fine in base 10
	if err != nil {
		return 0, malformed("sequence %s does not fit in 64 bits", quoteShort(s))
	}
	return seq, nil
}

// parseMetadata parses the metadata extension: a JSON object of strings.
// An empty object gives a nil map.
func parseMetadata(s string) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil || raw == nil {
		return nil, malformed("metadata is not a json object")
	}
	if len(raw) == 0 {
		return nil, nil
	}
	md := make(map[string]string, len(raw))
	for k, v := range raw {
		var val string
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &val) != nil {
			return nil, malformed("metadata entry %s is %s, not a string", quoteShort(k), jsonKind(v))
		}
		md[k] = val
	}
	return md, nil
}

// checkSource reports whether source is a non-empty URI-reference, as the
// CloudEvents source attribute must be.
func checkSource(source string) error {
	if isPlainPath(source) && source != "" {
		return nil // the common case, such as "/chat-service": always a valid reference
	}
	if err := checkURIReference(source); err != nil {
		return fmt.Errorf("not a uri-reference: %w", err)
	}
	return nil
}

// isPlainPath reports whether s has only unreserved URI characters and
// slashes, which makes it a relative reference.
func isPlainPath(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isUnreservedByte(c) && c != '/' {
			return false
		}
	}
	return true
}

// parseMediaType returns the media type of a content type, without its
// parameters, lowercased, as mime.ParseMediaType does; a content type that
// is already a bare lowercase type/subtype, as codecs return, is taken as
// it is.
func parseMediaType(contentType string) (string, error) {
	slash := strings.IndexByte(contentType, '/')
	simple := slash > 0 && slash < len(contentType)-1 && strings.LastIndexByte(contentType, '/') == slash
	for i := 0; simple && i < len(contentType); i++ {
		c := contentType[i]
		simple = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '/' || strings.IndexByte("!#$&^_.+-", c) >= 0
	}
	if simple {
		return contentType, nil
	}
	mediaType, _, err := mime.ParseMediaType(contentType)
	return mediaType, err
}

// isJSONMediaType reports whether the media type (lowercase, without
// parameters) declares JSON content: its subtype is "json" or ends in
// "+json", as the CloudEvents JSON format defines.
func isJSONMediaType(mediaType string) bool {
	_, sub, ok := strings.Cut(mediaType, "/")
	return ok && (sub == "json" || strings.HasSuffix(sub, "+json"))
}

func isJSONNull(raw json.RawMessage) bool {
	return string(raw) == "null"
}

// jsonKind names the kind of a JSON value for error messages.
func jsonKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "a number"
	default:
		return "not json"
	}
}

// quoteShort quotes s for an error message, cutting it short when it is
// long so that a hostile document cannot make a huge error.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}
