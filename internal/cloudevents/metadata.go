package cloudevents

import (
	"bytes"
	"encoding/json"
)

// encodeMetadata returns the metadata extension's JSON object, written as
// encoding/json writes a map, without HTML escaping; nil for an empty map.
func encodeMetadata(md map[string]string) ([]byte, error) {
	if len(md) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(md); err != nil {
		return nil, &Error{Detail: "encode metadata", Err: err}
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// parseMetadata parses the metadata extension: a JSON object of strings.
// An empty object gives a nil map.
func parseMetadata(b []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return nil, errorf("metadata is not a json object")
	}
	if len(raw) == 0 {
		return nil, nil
	}
	md := make(map[string]string, len(raw))
	for k, v := range raw {
		var val string
		if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &val) != nil {
			return nil, errorf("metadata entry %s is %s, not a string", quoteShort(k), jsonKind(v))
		}
		md[k] = val
	}
	return md, nil
}
