package cloudevents

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
)

// Binary is a CloudEvent in binary content mode: its attributes, apart
// from data, as the strings a protocol binding carries in message headers,
// and its data as the message body. A binding writes the datacontenttype
// attribute as the protocol's own content-type header.
type Binary struct {
	// Attributes maps attribute names (without the binding's prefix) to
	// their values' string forms: a Boolean as "true" or "false", an
	// Integer in decimal, every other type as the string it is carried as
	// in the JSON format.
	Attributes map[string]string
	Data       []byte
}

// ToBinary converts a structured-mode document, which must decode (with
// the document's own content type), into binary mode: data_base64's bytes
// or data's (the JSON text for a JSON content type, the string's text
// otherwise) become Data.
func ToBinary(doc []byte) (Binary, error) {
	ev, err := Decode(doc, DecodeOptions{})
	if err != nil {
		return Binary{}, err
	}
	var split document
	if err := splitCloudEvent(doc, &split); err != nil {
		return Binary{}, err
	}
	b := Binary{Attributes: make(map[string]string), Data: ev.Data}
	set := func(name string, raw []byte) {
		if raw == nil || name == attrData || name == attrDataBase64 {
			return
		}
		if raw[0] == '"' {
			var s string
			_ = json.Unmarshal(raw, &s) // Decode has checked it is a string
			b.Attributes[name] = s
			return
		}
		b.Attributes[name] = string(raw) // a boolean or an integer
	}
	for _, name := range knownAttributes {
		set(name, split.value(name))
	}
	for _, m := range split.extra {
		set(m.name, m.value)
	}
	return b, nil
}

// FromBinary converts a binary-mode event into a structured-mode document:
// every attribute becomes a JSON string member (so an extension read this
// way is a String, whatever its type at the producer), and Data becomes
// data when datacontenttype is a JSON type (then Data must be JSON text)
// or absent and Data is JSON text, and data_base64 otherwise; empty Data
// gives no data member.
// The document is then checked as Decode checks it.
func FromBinary(b Binary) ([]byte, error) {
	names := make([]string, 0, len(b.Attributes))
	for name := range b.Attributes {
		if name == attrData || name == attrDataBase64 {
			return nil, errorf("binary mode attribute %q: data travels as the message body", name)
		}
		names = append(names, name)
	}
	slices.SortFunc(names, func(x, y string) int {
		// specversion first, for a reader skimming the document.
		if (x == attrSpecVersion) != (y == attrSpecVersion) {
			if x == attrSpecVersion {
				return -1
			}
			return 1
		}
		return strings.Compare(x, y)
	})
	doc := []byte{'{'}
	for i, name := range names {
		if i > 0 {
			doc = append(doc, ',')
		}
		doc = appendJSONString(doc, name)
		doc = append(doc, ':')
		doc = appendJSONString(doc, b.Attributes[name])
	}
	if len(b.Data) > 0 {
		if len(names) > 0 {
			doc = append(doc, ',')
		}
		asJSON := json.Valid(b.Data) // without a content type: JSON if it is
		if ct, ok := b.Attributes[attrDataContentType]; ok {
			media, err := MediaType(ct)
			if err != nil {
				return nil, errorf("datacontenttype %s is not a media type", quoteShort(ct))
			}
			if IsJSON(media) && !asJSON {
				return nil, errorf("binary mode data with content type %q is not json", media)
			}
			asJSON = IsJSON(media)
		}
		if asJSON {
			doc = append(doc, `"data":`...)
			doc = append(doc, b.Data...)
		} else {
			doc = append(doc, `"data_base64":"`...)
			doc = base64.StdEncoding.AppendEncode(doc, b.Data)
			doc = append(doc, '"')
		}
	}
	doc = append(doc, '}')
	if _, err := Decode(doc, DecodeOptions{}); err != nil {
		return nil, err
	}
	return doc, nil
}

// knownAttributes are the attributes with fields of their own, but data.
var knownAttributes = []string{
	attrSpecVersion, attrID, attrSource, attrType, attrSubject, attrTime, attrDataContentType,
	attrDataSchema, attrSequence, attrCorrelationID, attrCausationID, attrPartitionKey,
	attrMetadata, attrTraceParent, attrTraceState,
}
