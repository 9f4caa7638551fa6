package redis

import (
	"fmt"
	"strings"

	"github.com/busline/eventbus"
)

// Binary content mode. CloudEvents defines no binding for Redis Streams;
// the Transport follows the Kafka binding's: every attribute, but data, in
// a field named "ce_" + its name (datacontenttype too, as a stream entry
// has no content-type of its own), and the data in FieldData. An entry in
// structured mode has no "ce_" fields and the whole document in FieldData.
const binaryPrefix = "ce_"

// binaryValues returns the fields of an entry that carries doc, a
// structured-mode CloudEvent, in binary content mode, after extra; it
// reports false for bytes that are not a CloudEvent, which then go in
// structured mode's fields, as they are, for the subscribers to
// dead-letter.
func binaryValues(doc []byte, extra ...any) ([]any, bool) {
	bin, err := eventbus.CloudEventToBinary(doc)
	if err != nil {
		return nil, false
	}
	values := append(make([]any, 0, len(extra)+2*len(bin.Attributes)+2), extra...)
	for name, value := range bin.Attributes {
		values = append(values, binaryPrefix+name, value)
	}
	return append(values, FieldData, bin.Data), true
}

// structuredData returns the structured-mode document of an entry: its
// FieldData, or, when it has a "ce_specversion" field, the document made of
// its "ce_" fields and FieldData. The error says why a binary-mode entry
// does not make a valid CloudEvent.
func structuredData(values map[string]any) ([]byte, error) {
	data, _ := values[FieldData].(string)
	if _, binary := values[binaryPrefix+"specversion"]; !binary {
		if data == "" {
			return nil, nil // no FieldData: undecodable
		}
		return []byte(data), nil
	}
	bin := eventbus.BinaryCloudEvent{Attributes: make(map[string]string, len(values)), Data: []byte(data)}
	for field, v := range values {
		name, ok := strings.CutPrefix(field, binaryPrefix)
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return bin.Data, fmt.Errorf("eventbus/redis: binary-mode entry: field %q is not a string", field)
		}
		bin.Attributes[name] = s
	}
	doc, err := eventbus.CloudEventFromBinary(bin)
	if err != nil {
		return bin.Data, fmt.Errorf("eventbus/redis: binary-mode entry: %w", err)
	}
	return doc, nil
}
