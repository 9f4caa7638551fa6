package eventbus

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// foreignDoc is a CloudEvent another producer wrote: an ID that is not a
// UUID, a type of its own, subject, dataschema, typed extensions, and a
// sequence in the standard extension's string form.
const foreignDoc = `{"specversion":"1.0","id":"A234-1234-1234","source":"https://github.com/cloudevents/spec/pull",` +
	`"type":"com.github.pull_request.opened","subject":"123","time":"2018-04-05T17:31:00Z",` +
	`"datacontenttype":"application/json","dataschema":"https://example.com/schemas/pr.json",` +
	`"comexampleextension1":"value","comexampleothervalue":5,"isdraft":false,"sequence":"a1",` +
	`"data":{"title":"Fix it"}}`

type pullRequest struct {
	Title string `json:"title"`
}

func TestDecodeAForeignCloudEvent(t *testing.T) {
	e, err := decodeCloudEvent[pullRequest]([]byte(foreignDoc), nil, "github.prs", "")
	require.NoError(t, err)
	assert.Equal(t, "github.prs", e.Topic, "the event belongs to the topic it was read from")
	assert.Equal(t, "https://github.com/cloudevents/spec/pull", e.SourceOr("/bus"))
	assert.Equal(t, uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/cloudevents/spec/pull#A234-1234-1234")), e.ID)
	assert.Equal(t, e.ID.String(), e.CorrelationID)
	assert.Zero(t, e.Sequence)
	assert.Equal(t, pullRequest{Title: "Fix it"}, e.Payload)
	require.NotNil(t, e.CloudEvent)
	assert.Equal(t, CloudEventAttributes{
		Source:     "https://github.com/cloudevents/spec/pull",
		ID:         "A234-1234-1234",
		Type:       "com.github.pull_request.opened",
		Subject:    "123",
		DataSchema: "https://example.com/schemas/pr.json",
		Extensions: map[string]ExtensionValue{
			"comexampleextension1": {ExtensionString, "value"},
			"comexampleothervalue": {ExtensionInteger, "5"},
			"isdraft":              {ExtensionBoolean, "false"},
			"sequence":             {ExtensionString, "a1"},
		},
	}, *e.CloudEvent)

	// Written back, every attribute is as it came.
	doc, err := EncodeCloudEvent(e, "/not-used", nil)
	require.NoError(t, err)
	var want, got map[string]any
	require.NoError(t, json.Unmarshal([]byte(foreignDoc), &want))
	require.NoError(t, json.Unmarshal(doc, &got))
	assert.Equal(t, want, got)
}

// The same non-UUID id from the same source always stands for the same
// UUID, and from another source for another one.
func TestDerivedIDsAreStable(t *testing.T) {
	doc := func(source, id string) []byte {
		return []byte(`{"specversion":"1.0","id":"` + id + `","source":"` + source + `","type":"t","data":1}`)
	}
	a, err := DecodeCloudEvent[int](doc("/a", "x-1"), nil)
	require.NoError(t, err)
	again, err := DecodeCloudEvent[int](doc("/a", "x-1"), nil)
	require.NoError(t, err)
	other, err := DecodeCloudEvent[int](doc("/b", "x-1"), nil)
	require.NoError(t, err)
	assert.Equal(t, a.ID, again.ID)
	assert.NotEqual(t, a.ID, other.ID)

	// A UUID in another form is that UUID, its text kept for writing back.
	upper, err := DecodeCloudEvent[int](doc("/a", "0192F3A4-5B6C-7D8E-9F01-23456789ABCD"), nil)
	require.NoError(t, err)
	assert.Equal(t, uuid.MustParse("0192f3a4-5b6c-7d8e-9f01-23456789abcd"), upper.ID)
	assert.Equal(t, "0192F3A4-5B6C-7D8E-9F01-23456789ABCD", upper.CloudEvent.ID)
	canonical, err := DecodeCloudEvent[int](doc("/a", "0192f3a4-5b6c-7d8e-9f01-23456789abcd"), nil)
	require.NoError(t, err)
	assert.Equal(t, &CloudEventAttributes{Source: "/a"}, canonical.CloudEvent, "the id is the envelope's")
}

// A producer's use of the bus's own extension names in another form is
// kept as an extension, not refused.
func TestLenientOwnExtensions(t *testing.T) {
	doc := `{"specversion":"1.0","id":"1","source":"/s","type":"t","causationid":"nope","metadata":"a=b","sequence":"18446744073709551616","data":1}`
	e, err := DecodeCloudEvent[int]([]byte(doc), nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]ExtensionValue{
		"causationid": {ExtensionString, "nope"},
		"metadata":    {ExtensionString, "a=b"},
		"sequence":    {ExtensionString, "18446744073709551616"},
	}, e.CloudEvent.Extensions)
	assert.Equal(t, uuid.Nil, e.CausationID)
	assert.Nil(t, e.Metadata)
	back, err := EncodeCloudEvent(e, "/x", nil)
	require.NoError(t, err)
	again, err := DecodeCloudEvent[int](back, nil)
	require.NoError(t, err)
	assert.Equal(t, e.CloudEvent, again.CloudEvent)
}

func TestWithCloudEvent(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[int](t, b, "orders")
	got := make(chan *Event[int], 1)
	mustSubscribe(t, tp, "s", func(_ context.Context, e *Event[int]) error { got <- e; return nil })
	attrs := CloudEventAttributes{Subject: "o-1", DataSchema: "urn:schema:order", Extensions: map[string]ExtensionValue{
		"tenant": {ExtensionString, "acme"}, "priority": {ExtensionInteger, "-3"}, "urgent": {ExtensionBoolean, "true"},
	}}
	require.NoError(t, tp.Publish(testCtx(t), 1, WithCloudEvent(attrs)))
	e := recv(t, got, "the event")
	assert.Equal(t, &attrs, e.CloudEvent)
	assert.Equal(t, DefaultSource, e.SourceOr(DefaultSource))
	doc, err := EncodeCloudEvent(e, DefaultSource, nil)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(doc, &m))
	assert.Equal(t, "acme", m["tenant"])
	assert.Equal(t, -3.0, m["priority"])
	assert.Equal(t, true, m["urgent"])
	assert.Equal(t, "o-1", m["subject"])

	for name, bad := range map[string]CloudEventAttributes{
		"an id":               {ID: "x"},
		"a relative schema":   {DataSchema: "schema.json"},
		"an uppercase name":   {Extensions: map[string]ExtensionValue{"Tenant": {ExtensionString, "a"}}},
		"a known name":        {Extensions: map[string]ExtensionValue{"source": {ExtensionString, "a"}}},
		"a bad boolean":       {Extensions: map[string]ExtensionValue{"flag": {ExtensionBoolean, "yes"}}},
		"a 64-bit integer":    {Extensions: map[string]ExtensionValue{"n": {ExtensionInteger, "4294967296"}}},
		"an unknown type":     {Extensions: map[string]ExtensionValue{"n": {"Float", "1.5"}}},
		"a name too long":     {Extensions: map[string]ExtensionValue{"abcdefghijklmnopqrstu": {ExtensionString, "a"}}},
		"an empty name":       {Extensions: map[string]ExtensionValue{"": {ExtensionString, "a"}}},
		"a name with a space": {Extensions: map[string]ExtensionValue{"a b": {ExtensionString, "a"}}},
	} {
		assert.ErrorIs(t, tp.Publish(testCtx(t), 1, WithCloudEvent(bad)), ErrInvalidOption, name)
	}
}

// A dead letter of another producer's event keeps its attributes, and
// republishing it carries them to the new event.
func TestRepublishKeepsCloudEventAttributes(t *testing.T) {
	b := newBus(t)
	tp := mustTopic[pullRequest](t, b, "github.prs")
	got := make(chan *Event[pullRequest], 1)
	mustSubscribe(t, tp, "s", func(_ context.Context, e *Event[pullRequest]) error { got <- e; return nil })
	foreign, err := decodeCloudEvent[pullRequest]([]byte(foreignDoc), nil, "github.prs", "")
	require.NoError(t, err)
	dl := FailedDelivery{Envelope: foreign.Envelope, Payload: foreign.Payload, Error: "boom"}
	raw, err := json.Marshal(dl)
	require.NoError(t, err)
	var back FailedDelivery
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, foreign.Envelope.CloudEvent, back.Envelope.CloudEvent, "the attributes survive the dead letter's JSON")

	require.NoError(t, Republish(testCtx(t), tp, back))
	e := recv(t, got, "the republished event")
	want := *foreign.CloudEvent
	want.Source, want.ID = "", ""
	want.Extensions = map[string]ExtensionValue{ // but "sequence", the bus's own name
		"comexampleextension1": {ExtensionString, "value"},
		"comexampleothervalue": {ExtensionInteger, "5"},
		"isdraft":              {ExtensionBoolean, "false"},
	}
	assert.Equal(t, &want, e.CloudEvent)
	assert.NotEqual(t, foreign.ID, e.ID)
}

func TestBinaryContentMode(t *testing.T) {
	bin, err := CloudEventToBinary([]byte(foreignDoc))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"specversion": "1.0", "id": "A234-1234-1234", "source": "https://github.com/cloudevents/spec/pull",
		"type": "com.github.pull_request.opened", "subject": "123", "time": "2018-04-05T17:31:00Z",
		"datacontenttype": "application/json", "dataschema": "https://example.com/schemas/pr.json",
		"comexampleextension1": "value", "comexampleothervalue": "5", "isdraft": "false", "sequence": "a1",
	}, bin.Attributes)
	assert.JSONEq(t, `{"title":"Fix it"}`, string(bin.Data))

	doc, err := CloudEventFromBinary(bin)
	require.NoError(t, err)
	e, err := decodeCloudEvent[pullRequest](doc, nil, "github.prs", "")
	require.NoError(t, err)
	assert.Equal(t, "Fix it", e.Payload.Title)
	assert.Equal(t, ExtensionValue{ExtensionString, "5"}, e.CloudEvent.Extensions["comexampleothervalue"], "binary mode carries strings")

	// Data that is not JSON travels as data_base64.
	bin = BinaryCloudEvent{Attributes: map[string]string{"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "datacontenttype": "text/plain"}, Data: []byte("hi")}
	doc, err = CloudEventFromBinary(bin)
	require.NoError(t, err)
	assert.Contains(t, string(doc), `"data_base64":"aGk="`)

	for name, bad := range map[string]BinaryCloudEvent{
		"no specversion": {Attributes: map[string]string{"id": "1", "source": "/s", "type": "t"}},
		"empty id":       {Attributes: map[string]string{"specversion": "1.0", "id": "", "source": "/s", "type": "t"}},
		"json data":      {Attributes: map[string]string{"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "datacontenttype": "application/json"}, Data: []byte("{not json")},
		"data attribute": {Attributes: map[string]string{"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "data": "x"}},
		"bad media type": {Attributes: map[string]string{"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "datacontenttype": "??"}, Data: []byte("x")},
		"bad extension":  {Attributes: map[string]string{"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "Bad": "x"}},
	} {
		_, err := CloudEventFromBinary(bad)
		assert.ErrorIs(t, err, ErrMalformedEvent, name)
	}
	_, err = CloudEventToBinary([]byte(`{"specversion":"1.0"}`))
	assert.ErrorIs(t, err, ErrMalformedEvent)
}
