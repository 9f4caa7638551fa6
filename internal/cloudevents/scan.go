package cloudevents

import (
	"bytes"
	"encoding/json"
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

// splitCloudEvent checks that data is one JSON object and picks the values
// of its members out of it without decoding them. Member names are matched
// exactly (after unescaping); a repeated member keeps its last value, as
// encoding/json does. The caller has checked that data starts with '{'
// after white space.
func splitCloudEvent(data []byte) (*document, error) {
	if !json.Valid(data) {
		var probe map[string]json.RawMessage
		err := json.Unmarshal(data, &probe) // for the detail of the error
		return nil, errorf("not a json object: %v", err)
	}
	doc := new(document)
	i := skipSpace(data, 0) + 1 // past '{'
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
		if bytes.IndexByte(rawKey, '\\') < 0 && utf8.Valid(rawKey) {
			key = string(rawKey[1 : len(rawKey)-1])
		} else if err := json.Unmarshal(rawKey, &key); err != nil {
			return nil, errorf("member name %s: %v", rawKey, err)
		}
		if key != attrData && isJSONNull(value) {
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

func isJSONNull(raw []byte) bool {
	return string(raw) == "null"
}
