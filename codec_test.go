package eventbus

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/busline/eventbus/internal/cloudevents"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// codecOrder is a JSON payload for the codec tests.
type codecOrder struct {
	OrderID string   `json:"orderId"`
	Total   int      `json:"total"`
	Items   []string `json:"items"`
}

// textCodec is a non-JSON codec: string payloads as text/plain.
type textCodec struct{}

func (textCodec) ContentType() string { return "text/plain" }

func (textCodec) Marshal(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("text codec: cannot marshal %T", v)
	}
	return []byte(s), nil
}

func (textCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*string)
	if !ok {
		return fmt.Errorf("text codec: cannot unmarshal into %T", v)
	}
	*p = string(data)
	return nil
}

// failingCodec fails to marshal.
type failingCodec struct{ JSONCodec }

var errMarshal = errors.New("cannot marshal")

func (failingCodec) Marshal(any) ([]byte, error) { return nil, errMarshal }

// badJSONCodec claims JSON but produces something else.
type badJSONCodec struct{ JSONCodec }

func (badJSONCodec) Marshal(any) ([]byte, error) { return []byte("{not json"), nil }

func fullEvent() *Event[codecOrder] {
	return &Event[codecOrder]{
		Envelope: Envelope{
			ID:            uuid.MustParse("0192f3a4-5b6c-7d8e-9f01-23456789abcd"),
			Topic:         "order.placed",
			Time:          time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600)),
			Sequence:      1<<63 + 12345, // beyond 32 and even 63 bits
			CorrelationID: "req-42",
			CausationID:   uuid.MustParse("0192f3a4-0000-7000-8000-000000000001"),
			Key:           "customer-7",
			Metadata:      map[string]string{"tenant": "acme", "note": "<&> \"quoted\" ünïcødé"},
			CloudEvent: &CloudEventAttributes{
				TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
				TraceState:  "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
			},
		},
		Payload: codecOrder{OrderID: "o-1", Total: 4200, Items: []string{"book", "pen"}},
	}
}

// equalEnvelope checks two envelopes field by field, times with Equal.
func equalEnvelope(t testing.TB, want, got *Envelope) {
	t.Helper()
	if want.ID != got.ID {
		t.Fatalf("ID: want %s, got %s", want.ID, got.ID)
	}
	if want.Topic != got.Topic {
		t.Fatalf("Topic: want %q, got %q", want.Topic, got.Topic)
	}
	if !want.Time.Equal(got.Time) {
		t.Fatalf("Time: want %v, got %v", want.Time, got.Time)
	}
	if want.Sequence != got.Sequence {
		t.Fatalf("Sequence: want %d, got %d", want.Sequence, got.Sequence)
	}
	if want.CorrelationID != got.CorrelationID {
		t.Fatalf("CorrelationID: want %q, got %q", want.CorrelationID, got.CorrelationID)
	}
	if want.CausationID != got.CausationID {
		t.Fatalf("CausationID: want %s, got %s", want.CausationID, got.CausationID)
	}
	if want.Key != got.Key {
		t.Fatalf("Key: want %q, got %q", want.Key, got.Key)
	}
	if len(want.Metadata) != len(got.Metadata) {
		t.Fatalf("Metadata: want %v, got %v", want.Metadata, got.Metadata)
	}
	for k, v := range want.Metadata {
		if gv, ok := got.Metadata[k]; !ok || gv != v {
			t.Fatalf("Metadata: want %v, got %v", want.Metadata, got.Metadata)
		}
	}
	if !assert.ObjectsAreEqual(want.CloudEvent, got.CloudEvent) {
		t.Fatalf("CloudEvent: want %+v, got %+v", want.CloudEvent, got.CloudEvent)
	}
}

func TestCloudEventRoundTrip(t *testing.T) {
	in := fullEvent()
	doc, err := EncodeCloudEvent(in, "https://example.com/orders", nil)
	require.NoError(t, err)

	out, err := DecodeCloudEvent[codecOrder](doc, nil)
	require.NoError(t, err)
	in.CloudEvent.Source = "https://example.com/orders" // the source it was encoded with
	equalEnvelope(t, &in.Envelope, &out.Envelope)
	assert.Equal(t, in.ID, out.ID)
	assert.Equal(t, in.Topic, out.Topic)
	assert.True(t, in.Time.Equal(out.Time), "time %v != %v", in.Time, out.Time)
	assert.Equal(t, time.UTC, out.Time.Location())
	assert.Equal(t, in.Sequence, out.Sequence)
	assert.Equal(t, in.CorrelationID, out.CorrelationID)
	assert.Equal(t, in.CausationID, out.CausationID)
	assert.Equal(t, in.Key, out.Key)
	assert.Equal(t, in.Metadata, out.Metadata)
	assert.Equal(t, in.Payload, out.Payload)

	// The same with an explicit JSONCodec.
	doc2, err := EncodeCloudEvent(in, "https://example.com/orders", JSONCodec{})
	require.NoError(t, err)
	assert.Equal(t, string(doc), string(doc2))
}

func TestCloudEventRoundTripPublished(t *testing.T) {
	// A real published event: its CorrelationID shares the event's idText.
	bus, err := New()
	require.NoError(t, err)
	topic, err := NewTopic[codecOrder](bus, "order.placed")
	require.NoError(t, err)
	got := make(chan *Event[codecOrder], 1)
	_, err = topic.Subscribe("codec", func(_ context.Context, e *Event[codecOrder]) error {
		got <- e
		return nil
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, topic.Publish(ctx, codecOrder{OrderID: "o-2"}))
	in := <-got
	require.NoError(t, bus.Close(ctx))

	doc, err := EncodeCloudEvent(in, "/orders", nil)
	require.NoError(t, err)
	out, err := DecodeCloudEvent[codecOrder](doc, nil)
	require.NoError(t, err)
	in.CloudEvent = &CloudEventAttributes{Source: "/orders"} // what decoding adds: the source
	equalEnvelope(t, &in.Envelope, &out.Envelope)
	assert.Equal(t, in.ID.String(), out.CorrelationID)
	assert.Equal(t, in.Payload, out.Payload)
}

func TestCloudEventJSONDocument(t *testing.T) {
	doc, err := EncodeCloudEvent(fullEvent(), "/orders", nil)
	require.NoError(t, err)
	s := string(doc)

	// The payload is embedded as JSON, not as a string or base64.
	assert.Contains(t, s, `"data":{"orderId":"o-1","total":4200,"items":["book","pen"]}`)
	assert.NotContains(t, s, "data_base64")

	var m map[string]any
	require.NoError(t, json.Unmarshal(doc, &m))
	assert.Equal(t, map[string]any{
		"specversion":     "1.0",
		"id":              "0192f3a4-5b6c-7d8e-9f01-23456789abcd",
		"source":          "/orders",
		"type":            "order.placed",
		"time":            "2025-03-14T14:09:26.535897932Z",
		"datacontenttype": "application/json",
		"sequence":        "09223372036854788153",
		"correlationid":   "req-42",
		"causationid":     "0192f3a4-0000-7000-8000-000000000001",
		"partitionkey":    "customer-7",
		"metadata":        `{"note":"<&> \"quoted\" ünïcødé","tenant":"acme"}`,
		"traceparent":     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"tracestate":      "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
		"data":            map[string]any{"orderId": "o-1", "total": float64(4200), "items": []any{"book", "pen"}},
	}, m)

	// Every extension name follows the CloudEvents naming rule.
	for name := range m {
		switch name {
		case "data", "data_base64":
			continue
		}
		assert.LessOrEqual(t, len(name), 20, name)
		for _, c := range name {
			assert.True(t, 'a' <= c && c <= 'z' || '0' <= c && c <= '9', "attribute %q", name)
		}
	}
}

func TestCloudEventSequenceIsOrderableString(t *testing.T) {
	// Sequences compare as strings in numeric order, as the CloudEvents
	// sequence extension requires.
	seqs := []uint64{1, 9, 10, 99, 100, 1<<32 + 1, 1<<64 - 1}
	prev := ""
	for _, seq := range seqs {
		e := &Event[int]{Envelope: Envelope{ID: uuid.New(), Topic: "a", Sequence: seq}}
		doc, err := EncodeCloudEvent(e, "/s", nil)
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(doc, &m))
		s, ok := m["sequence"].(string)
		require.True(t, ok, "sequence must be a JSON string: %s", doc)
		assert.Greater(t, s, prev)
		prev = s
		out, err := DecodeCloudEvent[int](doc, nil)
		require.NoError(t, err)
		assert.Equal(t, seq, out.Sequence)
	}
	assert.Equal(t, "18446744073709551615", prev)
}

func TestCloudEventOmitsEmptyAttributes(t *testing.T) {
	e := &Event[int]{Envelope: Envelope{ID: uuid.MustParse("0192f3a4-5b6c-7d8e-9f01-23456789abcd"), Topic: "a.b"}, Payload: 7}
	doc, err := EncodeCloudEvent(e, "/s", nil)
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"specversion": "1.0",
		"id": "0192f3a4-5b6c-7d8e-9f01-23456789abcd",
		"source": "/s",
		"type": "a.b",
		"datacontenttype": "application/json",
		"data": 7
	}`, string(doc))

	out, err := DecodeCloudEvent[int](doc, nil)
	require.NoError(t, err)
	assert.True(t, out.Time.IsZero())
	assert.Zero(t, out.Sequence)
	assert.Equal(t, uuid.Nil, out.CausationID)
	assert.Empty(t, out.Key)
	assert.Nil(t, out.Metadata)
	// A missing correlation ID is that of a root event: the event's own ID.
	assert.Equal(t, "0192f3a4-5b6c-7d8e-9f01-23456789abcd", out.CorrelationID)
	assert.Equal(t, 7, out.Payload)
}

func TestCloudEventTextCodecUsesBase64(t *testing.T) {
	for _, payload := range []string{"hello, world", "", "{\"looks\":\"like json\"}", "bin\x00\xff"} {
		e := &Event[string]{
			Envelope: Envelope{ID: uuid.New(), Topic: "note.added", Time: time.Now(), Sequence: 3, CorrelationID: "c"},
			Payload:  payload,
		}
		doc, err := EncodeCloudEvent(e, "urn:example:notes", textCodec{})
		require.NoError(t, err)

		var m map[string]any
		require.NoError(t, json.Unmarshal(doc, &m))
		assert.Equal(t, "text/plain", m["datacontenttype"])
		assert.Equal(t, base64.StdEncoding.EncodeToString([]byte(payload)), m["data_base64"])
		assert.NotContains(t, m, "data")

		out, err := DecodeCloudEvent[string](doc, textCodec{})
		require.NoError(t, err)
		assert.Equal(t, payload, out.Payload)
		e.CloudEvent = &CloudEventAttributes{Source: "urn:example:notes"} // the source it was encoded with
		equalEnvelope(t, &e.Envelope, &out.Envelope)

		// A JSON codec does not accept text/plain data.
		_, err = DecodeCloudEvent[string](doc, nil)
		require.ErrorIs(t, err, ErrMalformedEvent)
		assert.Contains(t, err.Error(), "datacontenttype")
	}
}

func TestCloudEventTextInDataMember(t *testing.T) {
	// Other producers may put non-JSON text directly in data as a string.
	doc := `{"specversion":"1.0","id":"0192f3a4-5b6c-7d8e-9f01-23456789abcd","source":"/x","type":"note",
		"datacontenttype":"text/plain; charset=utf-8","data":"<much wow=\"xml\"/>"}`
	out, err := DecodeCloudEvent[string]([]byte(doc), textCodec{})
	require.NoError(t, err)
	assert.Equal(t, `<much wow="xml"/>`, out.Payload)

	_, err = DecodeCloudEvent[string]([]byte(strings.Replace(doc, `"<much wow=\"xml\"/>"`, `{"a":1}`, 1)), textCodec{})
	require.ErrorIs(t, err, ErrMalformedEvent)
	assert.Contains(t, err.Error(), "not a json string")
}

func TestCloudEventInterop(t *testing.T) {
	// As another CloudEvents producer would write it: different member
	// order, a vendor +json content type, subject, an unknown extension, a
	// null optional attribute and none of our extensions.
	doc := `{
		"specversion" : "1.0",
		"type" : "com.example.order-created",
		"source" : "https://example.com/shop/orders",
		"subject": null,
		"id" : "A234B234-1234-4234-9234-123412341234",
		"time" : "2018-04-05T17:31:00+02:00",
		"comexampleextension1" : "value",
		"comexampleothervalue" : 5,
		"dataschema": "https://example.com/schema/order.json",
		"datacontenttype" : "application/vnd.example.order+json; charset=utf-8",
		"data" : {
			"orderId" : "o-9",
			"total" : 123,
			"items" : ["apple"],
			"unknownField": true
		}
	}`
	e, err := DecodeCloudEvent[codecOrder]([]byte(doc), nil)
	require.NoError(t, err)
	assert.Equal(t, uuid.MustParse("a234b234-1234-4234-9234-123412341234"), e.ID)
	assert.Equal(t, "com.example.order-created", e.Topic)
	assert.True(t, e.Time.Equal(time.Date(2018, 4, 5, 15, 31, 0, 0, time.UTC)))
	assert.Zero(t, e.Sequence)
	assert.Equal(t, "a234b234-1234-4234-9234-123412341234", e.CorrelationID)
	assert.Equal(t, uuid.Nil, e.CausationID)
	assert.Empty(t, e.Key)
	assert.Nil(t, e.Metadata)
	assert.Equal(t, codecOrder{OrderID: "o-9", Total: 123, Items: []string{"apple"}}, e.Payload)

	// Without datacontenttype, data is JSON; and data_base64 of JSON works
	// too.
	minimal := `{"specversion":"1.0","id":"0192f3a4-5b6c-7d8e-9f01-23456789abcd","source":"s","type":"t",
		"data_base64":"` + base64.StdEncoding.EncodeToString([]byte(`{"orderId":"b"}`)) + `"}`
	e, err = DecodeCloudEvent[codecOrder]([]byte(minimal), nil)
	require.NoError(t, err)
	assert.Equal(t, "b", e.Payload.OrderID)

	noPayload := `{"specversion":"1.0","id":"0192f3a4-5b6c-7d8e-9f01-23456789abcd","source":"s","type":"t","data_base64":null}`
	e, err = DecodeCloudEvent[codecOrder]([]byte(noPayload), nil)
	require.NoError(t, err)
	assert.Zero(t, e.Payload)
}

func TestDecodeCloudEventMalformed(t *testing.T) {
	const id = "0192f3a4-5b6c-7d8e-9f01-23456789abcd"
	base := map[string]any{
		"specversion": "1.0", "id": id, "source": "/s", "type": "order.placed",
		"datacontenttype": "application/json", "data": map[string]any{"orderId": "x"},
	}
	with := func(changes map[string]any) string {
		m := make(map[string]any, len(base))
		for k, v := range base {
			m[k] = v
		}
		for k, v := range changes {
			if v == deleteMember {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	// The base document is valid.
	_, err := DecodeCloudEvent[codecOrder]([]byte(with(nil)), nil)
	require.NoError(t, err)

	tests := []struct {
		name, doc, want string
	}{
		{"empty input", "", "not a json object"},
		{"whitespace", "  \n", "not a json object"},
		{"json null", "null", "not a json object"},
		{"json array", "[]", "not a json object"},
		{"json string", `"1.0"`, "not a json object"},
		{"json number", `1`, "not a json object"},
		{"truncated", with(nil)[:40], "not a json object"},
		{"trailing garbage", with(nil) + "x", "not a json object"},
		{"empty object", "{}", `missing required attribute "specversion"`},
		{"no specversion", with(map[string]any{"specversion": deleteMember}), `"specversion"`},
		{"null specversion", with(map[string]any{"specversion": nil}), `missing required attribute "specversion"`},
		{"specversion 0.3", with(map[string]any{"specversion": "0.3"}), "specversion"},
		{"specversion number", with(map[string]any{"specversion": 1.0}), "not a string"},
		{"no id", with(map[string]any{"id": deleteMember}), `missing required attribute "id"`},
		{"empty id", with(map[string]any{"id": ""}), `attribute "id" is empty`},
		{"empty type", with(map[string]any{"type": ""}), "type"},
		{"subject number", with(map[string]any{"subject": 3}), "not a string"},
		{"dataschema relative", with(map[string]any{"dataschema": "schemas/order.json"}), "absolute uri"},
		{"dataschema bad", with(map[string]any{"dataschema": "http://[::1"}), "dataschema"},
		{"extension name uppercase", with(map[string]any{"Tenant": "a"}), "lowercase letters and digits"},
		{"extension name underscore", with(map[string]any{"ten_ant": "a"}), "lowercase letters and digits"},
		{"extension name too long", with(map[string]any{"abcdefghijklmnopqrstu": "a"}), "lowercase letters and digits"},
		{"extension object", with(map[string]any{"tenant": map[string]any{}}), "an object"},
		{"extension array", with(map[string]any{"tenant": []any{}}), "an array"},
		{"extension float", with(map[string]any{"weight": 1.5}), "32-bit integer"},
		{"extension integer overflow", with(map[string]any{"weight": 1 << 31}), "32-bit integer"},
		{"id number", with(map[string]any{"id": 12}), "not a string"},
		{"no source", with(map[string]any{"source": deleteMember}), `missing required attribute "source"`},
		{"empty source", with(map[string]any{"source": ""}), "source"},
		{"bad source", with(map[string]any{"source": "http://[::1"}), "uri-reference"},
		{"no type", with(map[string]any{"type": deleteMember}), `missing required attribute "type"`},
		{"bad type", with(map[string]any{"type": "order..placed"}), "type"},
		{"wildcard type", with(map[string]any{"type": "order.*"}), "type"},
		{"type object", with(map[string]any{"type": map[string]any{}}), "not a string"},
		{"bad time", with(map[string]any{"time": "yesterday"}), "rfc 3339"},
		{"time without zone", with(map[string]any{"time": "2024-01-02T03:04:05"}), "rfc 3339"},
		{"time with comma", with(map[string]any{"time": "2024-01-02T03:04:05,5Z"}), "rfc 3339"},
		{"time offset 24h", with(map[string]any{"time": "2024-01-02T03:04:05+24:00"}), "rfc 3339"},
		{"time number", with(map[string]any{"time": 1700000000}), "not a string"},
		{"time before year 0 in utc", with(map[string]any{"time": "0000-01-01T00:30:00+01:00"}), "0000-9999"},
		{"sequence number", with(map[string]any{"sequence": 5}), "not a string"},
		{"correlationid number", with(map[string]any{"correlationid": 7}), "not a string"},
		{"partitionkey bool", with(map[string]any{"partitionkey": true}), "not a string"},
		{"metadata object", with(map[string]any{"metadata": map[string]any{"a": "b"}}), "not a string"},
		{"data and data_base64", with(map[string]any{"data_base64": "e30="}), "both"},
		{"bad base64", with(map[string]any{"data": deleteMember, "data_base64": "!!!"}), "base64"},
		{"data_base64 number", with(map[string]any{"data": deleteMember, "data_base64": 5}), "not a string"},
		{"data wrong shape", with(map[string]any{"data": []any{1, 2}}), "data does not decode"},
		{"data wrong field type", with(map[string]any{"data": map[string]any{"total": "many"}}), "data does not decode"},
		{"content type mismatch", with(map[string]any{"datacontenttype": "application/xml"}), "datacontenttype"},
		{"content type invalid", with(map[string]any{"datacontenttype": "not a type"}), "media type"},
		{"content type number", with(map[string]any{"datacontenttype": 3}), "not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := DecodeCloudEvent[codecOrder]([]byte(tt.doc), nil)
			require.Error(t, err)
			assert.Nil(t, e)
			assert.ErrorIs(t, err, ErrMalformedEvent)
			assert.True(t, strings.HasPrefix(err.Error(), "eventbus: malformed event: "), err.Error())
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// deleteMember marks a member to delete in TestDecodeCloudEventMalformed.
var deleteMember = &struct{ _ int }{}

func TestDecodeCloudEventCodecErrorIsWrapped(t *testing.T) {
	doc := `{"specversion":"1.0","id":"0192f3a4-5b6c-7d8e-9f01-23456789abcd","source":"/s","type":"t","data":"x"}`
	_, err := DecodeCloudEvent[int]([]byte(doc), nil)
	require.ErrorIs(t, err, ErrMalformedEvent)
	var typeErr *json.UnmarshalTypeError
	assert.ErrorAs(t, err, &typeErr)
}

func TestDecodeCloudEventLongValuesAreCutInErrors(t *testing.T) {
	long := strings.Repeat("x", 100000)
	doc := `{"specversion":"1.0","id":"1","source":"/s","type":"` + long + `"}`
	_, err := DecodeCloudEvent[int]([]byte(doc), nil)
	require.ErrorIs(t, err, ErrMalformedEvent)
	assert.Less(t, len(err.Error()), 200)
}

func TestEncodeCloudEventErrors(t *testing.T) {
	e := fullEvent()

	_, err := EncodeCloudEvent(e, "", nil)
	require.ErrorIs(t, err, ErrInvalidOption)
	assert.Contains(t, err.Error(), "source")

	_, err = EncodeCloudEvent(e, "http://[::1", nil)
	require.ErrorIs(t, err, ErrInvalidOption)

	_, err = EncodeCloudEvent[codecOrder](nil, "/s", nil)
	require.ErrorIs(t, err, ErrInvalidOption)

	bad := fullEvent()
	bad.Topic = "no spaces"
	_, err = EncodeCloudEvent(bad, "/s", nil)
	require.ErrorIs(t, err, ErrInvalidTopic)

	bad = fullEvent()
	bad.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = EncodeCloudEvent(bad, "/s", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "time")

	_, err = EncodeCloudEvent(e, "/s", failingCodec{})
	require.ErrorIs(t, err, errMarshal)

	_, err = EncodeCloudEvent(e, "/s", badJSONCodec{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid json")

	// A payload the JSON codec cannot encode.
	ch := &Event[chan int]{Envelope: Envelope{ID: uuid.New(), Topic: "a"}, Payload: make(chan int)}
	_, err = EncodeCloudEvent(ch, "/s", nil)
	require.Error(t, err)
}

// TestSourceMustBeAURIReference: a source that is not a URI-reference is
// refused by WithSource and EncodeCloudEvent, and makes a document
// malformed for DecodeCloudEvent.
func TestSourceMustBeAURIReference(t *testing.T) {
	for _, source := range []string{"a b", "http://exa mple.com", "/%zz", "1abc:x"} {
		_, err := New(WithSource(source))
		require.ErrorIs(t, err, ErrInvalidOption, "WithSource(%q)", source)
		assert.Contains(t, err.Error(), "source")

		_, err = EncodeCloudEvent(fullEvent(), source, nil)
		require.ErrorIs(t, err, ErrInvalidOption, "EncodeCloudEvent with source %q", source)

		doc, err := json.Marshal(map[string]any{
			"specversion": "1.0", "id": "0192f3a4-5b6c-7d8e-9f01-23456789abcd",
			"source": source, "type": "t", "data": "x",
		})
		require.NoError(t, err)
		_, err = DecodeCloudEvent[string](doc, nil)
		require.ErrorIs(t, err, ErrMalformedEvent, "a document with source %q", source)
	}
	b, err := New(WithSource("urn:busline:chat"))
	require.NoError(t, err)
	assert.Equal(t, "urn:busline:chat", b.source)
}

// FuzzDecodeCloudEvent checks that DecodeCloudEvent never panics, that every
// error matches ErrMalformedEvent, and that whatever it accepts survives
// another encode and decode unchanged.
func FuzzDecodeCloudEvent(f *testing.F) {
	valid, err := EncodeCloudEvent(&Event[map[string]any]{
		Envelope: fullEvent().Envelope,
		Payload:  map[string]any{"a": 1.5, "b": []any{"x", nil, true}},
	}, "/fuzz", nil)
	require.NoError(f, err)
	f.Add(valid)
	f.Add([]byte(foreignDoc))
	f.Add([]byte(`{"specversion":"1.0","id":"{0192F3A4-5B6C-7D8E-9F01-23456789ABCD}","source":"urn:x","type":"a.b","n":-7,"b":true,"s":"","sequence":"x","data":null}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeCloudEvent[map[string]any](data, nil)
		if err != nil {
			if !errors.Is(err, ErrMalformedEvent) {
				t.Fatalf("error %v does not match ErrMalformedEvent", err)
			}
			if e != nil {
				t.Fatalf("non-nil event with error %v", err)
			}
			return
		}
		doc, err := EncodeCloudEvent(e, "/fuzz", nil)
		if err != nil {
			t.Fatalf("re-encode of decoded %+v: %v", e.Envelope, err)
		}
		e2, err := DecodeCloudEvent[map[string]any](doc, nil)
		if err != nil {
			t.Fatalf("decode of re-encoded %s: %v", doc, err)
		}
		equalEnvelope(t, &e.Envelope, &e2.Envelope)
		if !assert.ObjectsAreEqual(e.Payload, e2.Payload) {
			t.Fatalf("payload: want %#v, got %#v", e.Payload, e2.Payload)
		}
	})
}

// cloudEventJSON is the document EncodeCloudEvent writes, for encoding/json:
// the reference that FuzzEncodeCloudEvent holds the hand-written encoder to.
type cloudEventJSON struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            string          `json:"time,omitempty"`
	DataContentType string          `json:"datacontenttype"`
	Sequence        string          `json:"sequence,omitempty"`
	CorrelationID   string          `json:"correlationid,omitempty"`
	CausationID     string          `json:"causationid,omitempty"`
	PartitionKey    string          `json:"partitionkey,omitempty"`
	Metadata        string          `json:"metadata,omitempty"`
	TraceParent     string          `json:"traceparent,omitempty"`
	TraceState      string          `json:"tracestate,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
}

// FuzzEncodeCloudEvent checks that EncodeCloudEvent writes the same JSON
// as encoding/json does for the same attributes, whatever the strings hold.
func FuzzEncodeCloudEvent(f *testing.F) {
	f.Add("/src", "key", "corr", "meta", "payload", int64(1))
	f.Add("", "", "", "", "", int64(0))
	f.Add("urn:x?y#z", "k\"\\\n\u2028", "\xff\xfe", "<&>", "\x00\x1f\u2029", int64(-62135596800))
	f.Fuzz(func(t *testing.T, source, key, corr, meta, payload string, unix int64) {
		e := &Event[string]{Payload: payload}
		e.ID = uuid.Must(uuid.NewV7())
		e.Topic = "fuzz.topic"
		e.Time = time.Unix(unix%(1<<35), unix%1e9)
		e.Sequence = uint64(unix)
		e.CorrelationID = corr
		e.Key = key
		e.SetTraceContext(corr+key, meta) // any strings: carried as they are
		if meta != "" {
			e.Metadata = map[string]string{meta: meta, "k": payload}
		}
		got, err := EncodeCloudEvent(e, source, nil)
		if err != nil {
			if checkSource(source) == nil && e.Time.UTC().Year() <= 9999 && e.Time.UTC().Year() >= 0 {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if !json.Valid(got) {
			t.Fatalf("invalid json %q", got)
		}
		ref := cloudEventJSON{
			SpecVersion: "1.0", ID: e.ID.String(), Source: source, Type: e.Topic,
			DataContentType: "application/json", CorrelationID: corr, PartitionKey: key,
			TraceParent: corr + key, TraceState: meta,
		}
		if !e.Time.IsZero() {
			ref.Time = e.Time.UTC().Format(time.RFC3339Nano)
		}
		if e.Sequence != 0 {
			ref.Sequence = fmt.Sprintf("%020d", e.Sequence)
		}
		if e.Metadata != nil {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			require.NoError(t, enc.Encode(e.Metadata))
			ref.Metadata = strings.TrimSuffix(buf.String(), "\n")
		}
		ref.Data, err = json.Marshal(payload)
		require.NoError(t, err)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(ref))
		if string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Fatalf("hand-written encoder wrote\n%s\nencoding/json writes\n%s", got, want.String())
		}
	})
}

// FuzzCloudEventBinary checks that a document converted to binary mode and
// back decodes to the same event, but for extension types, which binary
// mode carries as strings; and that CloudEventFromBinary never panics and
// fails only with ErrMalformedEvent.
func FuzzCloudEventBinary(f *testing.F) {
	f.Add([]byte(foreignDoc), "ce", "text/plain", []byte("hello"))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAE="}`), "n", "application/octet-stream", []byte{0, 1})
	f.Fuzz(func(t *testing.T, doc []byte, extName, contentType string, data []byte) {
		if bin, err := CloudEventToBinary(doc); err == nil {
			back, err := CloudEventFromBinary(bin)
			if err != nil {
				t.Fatalf("binary form of a valid document %s does not convert back: %v", doc, err)
			}
			want, err1 := cloudevents.Decode(doc, cloudevents.DecodeOptions{})
			got, err2 := cloudevents.Decode(back, cloudevents.DecodeOptions{})
			if err1 != nil || err2 != nil {
				t.Fatalf("structured %v, through binary %v", err1, err2)
			}
			if !bytes.Equal(want.Data, got.Data) || want.ID != got.ID || want.RawID != got.RawID || want.Source != got.Source ||
				want.Type != got.Type || want.Subject != got.Subject || want.DataSchema != got.DataSchema || !want.Time.Equal(got.Time) ||
				want.Sequence != got.Sequence || want.CorrelationID != got.CorrelationID || len(want.Extensions) != len(got.Extensions) {
				t.Fatalf("through binary mode %+v became %+v", want, got)
			}
		} else if !errors.Is(err, ErrMalformedEvent) {
			t.Fatalf("error %v does not match ErrMalformedEvent", err)
		}
		attrs := map[string]string{"specversion": "1.0", "id": "1", "source": "/s", "type": "t", extName: "v", "datacontenttype": contentType}
		if _, err := CloudEventFromBinary(BinaryCloudEvent{Attributes: attrs, Data: data}); err != nil && !errors.Is(err, ErrMalformedEvent) {
			t.Fatalf("error %v does not match ErrMalformedEvent", err)
		}
	})
}
