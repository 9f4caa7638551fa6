package cloudevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// document holds the raw JSON values of the attributes that Decode reads;
// nil means absent (or null, except for data, where null is an explicit
// null payload).
type document struct {
	specVersion, id, source, typ, time, dataContentType []byte
	subject, dataSchema                                 []byte
	sequence, correlationID, causationID, partitionKey  []byte
	metadata, traceParent, traceState                   []byte
	data, dataBase64                                    []byte
	// extra holds the other members, extension attributes, in document
	// order; a repeated name keeps its last value.
	extra []member
}

// member is a member of the document that has no field of its own.
type member struct {
	name  string
	value []byte // nil for null
}

// value returns the raw value of the named attribute, nil if absent.
func (d *document) value(name string) []byte {
	if p := d.known(name); p != nil {
		return *p
	}
	for _, m := range d.extra {
		if m.name == name {
			return m.value
		}
	}
	return nil
}

// attribute returns where the value of the named attribute is kept, making
// room for it among the extra members if it has no field of its own.
func (d *document) attribute(name string) *[]byte {
	if p := d.known(name); p != nil {
		return p
	}
	return d.extraMember(name)
}

// extraMember returns where the value of the extra member name is kept,
// making room for it if the document has no such member yet.
func (d *document) extraMember(name string) *[]byte {
	for i := range d.extra {
		if d.extra[i].name == name {
			return &d.extra[i].value
		}
	}
	d.extra = append(d.extra, member{name: name})
	return &d.extra[len(d.extra)-1].value
}

// known returns where the value of an attribute with a field of its own is
// kept, or nil for any other name.
func (d *document) known(name string) *[]byte {
	switch name {
	case attrSpecVersion:
		return &d.specVersion
	case attrID:
		return &d.id
	case attrSource:
		return &d.source
	case attrType:
		return &d.typ
	case attrTime:
		return &d.time
	case attrDataContentType:
		return &d.dataContentType
	case attrSequence:
		return &d.sequence
	case attrCorrelationID:
		return &d.correlationID
	case attrCausationID:
		return &d.causationID
	case attrPartitionKey:
		return &d.partitionKey
	case attrMetadata:
		return &d.metadata
	case attrTraceParent:
		return &d.traceParent
	case attrTraceState:
		return &d.traceState
	case attrSubject:
		return &d.subject
	case attrDataSchema:
		return &d.dataSchema
	case attrData:
		return &d.data
	case attrDataBase64:
		return &d.dataBase64
	}
	return nil
}

// splitCloudEvent checks that data is one JSON object, as json.Valid
// would, and picks the values of its members out of it into doc without
// decoding them, in one pass. Member names are matched exactly (after
// unescaping); a repeated member keeps its last value, as encoding/json
// does.
func splitCloudEvent(data []byte, doc *document) error {
	i := skipSpace(data, 0)
	if i == len(data) || data[i] != '{' {
		return invalidJSON(data)
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			keyEnd, ok := scanString(data, i)
			if !ok {
				return invalidJSON(data)
			}
			rawKey := data[i:keyEnd]
			i = skipSpace(data, keyEnd)
			if i == len(data) || data[i] != ':' {
				return invalidJSON(data)
			}
			i = skipSpace(data, i+1)
			valueEnd, ok := scanValue(data, i, 1)
			if !ok {
				return invalidJSON(data)
			}
			if err := doc.set(rawKey, data[i:valueEnd:valueEnd]); err != nil {
				return err
			}
			i = skipSpace(data, valueEnd)
			if i == len(data) {
				return invalidJSON(data)
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return invalidJSON(data)
			}
			i = skipSpace(data, i+1)
		}
	}
	if skipSpace(data, i) != len(data) {
		return invalidJSON(data)
	}
	return nil
}

// set records value as the value of the member named by rawKey, a JSON
// string with its quotes. A name without escapes is looked up without a
// copy; only the names of extensions are kept as strings.
func (d *document) set(rawKey, value []byte) error {
	inner := rawKey[1 : len(rawKey)-1]
	plain := bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner)
	if plain && string(inner) != attrData && isJSONNull(value) {
		value = nil // a null attribute is an absent one
	}
	if plain {
		if p := d.known(string(inner)); p != nil {
			*p = value
			return nil
		}
		*d.extraMember(string(inner)) = value
		return nil
	}
	var key string
	if err := json.Unmarshal(rawKey, &key); err != nil {
		return errorf("member name %s: %v", rawKey, err)
	}
	if key != attrData && isJSONNull(value) {
		value = nil
	}
	*d.attribute(key) = value
	return nil
}

// invalidJSON is splitCloudEvent's error for data that is not one JSON
// object, with encoding/json's account of what is wrong.
func invalidJSON(data []byte) error {
	var probe map[string]json.RawMessage
	err := json.Unmarshal(data, &probe)
	if err == nil {
		err = errors.New("not an object")
	}
	return errorf("not a json object: %v", err)
}

// maxNestingDepth is how deeply encoding/json lets arrays and objects nest.
const maxNestingDepth = 10000

// scanValue returns the index just past the JSON value that starts at i,
// the value being at nesting depth depth (the document's object is at 1),
// and whether there is a valid value there. White space after the value is
// not part of it.
func scanValue(data []byte, i, depth int) (int, bool) {
	if i >= len(data) {
		return i, false
	}
	switch c := data[i]; c {
	case '"':
		return scanString(data, i)
	case '{', '[':
		if depth+1 > maxNestingDepth {
			return i, false
		}
		return scanContainer(data, i, depth+1)
	case 't':
		return scanLiteral(data, i, "true")
	case 'f':
		return scanLiteral(data, i, "false")
	case 'n':
		return scanLiteral(data, i, "null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return scanNumber(data, i)
		}
		return i, false
	}
}

// scanContainer scans the object or array that starts at i, at nesting
// depth depth.
func scanContainer(data []byte, i, depth int) (int, bool) {
	object := data[i] == '{'
	closing := byte(']')
	if object {
		closing = '}'
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == closing {
		return i + 1, true
	}
	for {
		if object {
			end, ok := scanString(data, i)
			if !ok {
				return end, false
			}
			i = skipSpace(data, end)
			if i == len(data) || data[i] != ':' {
				return i, false
			}
			i = skipSpace(data, i+1)
		}
		end, ok := scanValue(data, i, depth)
		if !ok {
			return end, false
		}
		i = skipSpace(data, end)
		if i == len(data) {
			return i, false
		}
		switch data[i] {
		case closing:
			return i + 1, true
		case ',':
			i = skipSpace(data, i+1)
		default:
			return i, false
		}
	}
}

// scanString returns the index just past the JSON string that starts at
// i, and whether there is a valid one there: quoted, with no control
// character and only the escapes JSON has. Like encoding/json, it does not
// require valid UTF-8.
func scanString(data []byte, i int) (int, bool) {
	if i >= len(data) || data[i] != '"' {
		return i, false
	}
	for i++; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i == len(data) {
				return i, false
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(data)-i <= 4 {
					return len(data), false
				}
				for _, h := range data[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// scanNumber returns the index just past the JSON number that starts at
// i, and whether there is one: an optional minus, an integer part without
// leading zeros, an optional fraction and an optional exponent.
func scanNumber(data []byte, i int) (int, bool) {
	if data[i] == '-' {
		i++
	}
	if i == len(data) || !isDigit(data[i]) {
		return i, false
	}
	if data[i] == '0' {
		i++
	} else {
		i = skipDigits(data, i)
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i == len(data) || !isDigit(data[i]) {
			return i, false
		}
		i = skipDigits(data, i)
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i == len(data) || !isDigit(data[i]) {
			return i, false
		}
		i = skipDigits(data, i)
	}
	return i, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipDigits(data []byte, i int) int {
	for i < len(data) && isDigit(data[i]) {
		i++
	}
	return i
}

// scanLiteral returns the index just past literal, which must start at i.
func scanLiteral(data []byte, i int, literal string) (int, bool) {
	if len(data)-i < len(literal) || string(data[i:i+len(literal)]) != literal {
		return i, false
	}
	return i + len(literal), true
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

func isJSONNull(raw []byte) bool {
	return string(raw) == "null"
}
