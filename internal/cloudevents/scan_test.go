package cloudevents

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzSplitCloudEvent checks the scanner that Decode uses against
// encoding/json: for every JSON object, each attribute it picks out is the
// member encoding/json decodes into a map (null attributes, but data,
// absent), and it refuses exactly what encoding/json refuses.
func FuzzSplitCloudEvent(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"id":"x","data":null,"time":null}`, `{"\u0069d":"a","id":"b"}`,
		`{"data":{"a":[1,"}",{"b":"\""}]},"type":"t"}`, `{"sequence":12,"metadata":"{}"}`,
		` { "source" : "/s" , "specversion" : "1.0" } `, `{"id":"x",}`, `{"id"}`,
		`{"ext":1,"ext":"two","other":null,"subject":"s","dataschema":"urn:x"}`,
		`{"a":"\x"}`, `{"a":"\u12G4"}`, `{"a":"\u00e9\ud83d\ude00"}`, "{\"a\":\"\x01\"}", "{\"\xff\":1}",
		`{"a":-}`, `{"a":01}`, `{"a":1.}`, `{"a":1e}`, `{"a":-0.5E+7}`, `{"a":tru}`, `{"a":nulll}`,
		`{"a":[1,]}`, `{"a":{"b" 1}}`, `{"a":1}x`, `{"a":1} {}`, `{"a":[{}, [], "", 0]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Add([]byte(nested(maxNestingDepth - 1)))
	f.Add([]byte(nested(maxNestingDepth)))
	known := append([]string{attrData, attrDataBase64}, knownAttributes...)
	f.Fuzz(func(t *testing.T, data []byte) {
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		if len(trimmed) == 0 || trimmed[0] != '{' {
			return // refused before the scanner runs
		}
		var want map[string]json.RawMessage
		wantErr := json.Unmarshal(data, &want)
		var doc document
		err := splitCloudEvent(data, &doc)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("scanner error %v, encoding/json error %v", err, wantErr)
		}
		if err != nil {
			return
		}
		// Every member encoding/json sees, extensions included, and every
		// attribute with a field of its own.
		names := append([]string(nil), known...)
		for name := range want {
			names = append(names, name)
		}
		for _, name := range names {
			got := doc.value(name)
			raw, ok := want[name]
			if ok && name != attrData && string(raw) == "null" {
				ok = false
			}
			if !ok {
				if got != nil {
					t.Fatalf("%s: scanner found %q, encoding/json nothing", name, got)
				}
				continue
			}
			if string(got) != string(raw) {
				t.Fatalf("%s: scanner found %q, encoding/json %q", name, got, raw)
			}
		}
	})
}

// nested returns an object whose member holds arrays nested depth deep,
// the object itself one level more.
func nested(depth int) string {
	return `{"a":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "}"
}

// TestSplitCloudEventDepth checks the nesting limit against encoding/json's.
func TestSplitCloudEventDepth(t *testing.T) {
	for _, depth := range []int{maxNestingDepth - 1, maxNestingDepth} {
		data := []byte(nested(depth))
		var doc document
		err := splitCloudEvent(data, &doc)
		if json.Valid(data) != (err == nil) {
			t.Fatalf("depth %d: json.Valid %v, scanner error %v", depth+1, json.Valid(data), err)
		}
	}
	var doc document
	if err := splitCloudEvent([]byte(nested(maxNestingDepth-1)), &doc); err != nil {
		t.Fatalf("the deepest nesting encoding/json accepts: %v", err)
	}
}
