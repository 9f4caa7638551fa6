package cloudevents

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeDocument(t *testing.T) {
	doc, err := Encode(fullEvent())
	require.NoError(t, err)
	assert.Equal(t, `{"specversion":"1.0","id":"0192f3a4-5b6c-7d8e-9f01-23456789abcd",`+
		`"source":"https://example.com/orders","type":"order.placed","time":"2025-03-14T14:09:26.535897932Z",`+
		`"datacontenttype":"application/json","sequence":"09223372036854788153","correlationid":"req-42",`+
		`"causationid":"0192f3a4-0000-7000-8000-000000000001","partitionkey":"customer-7",`+
		`"metadata":"{\"note\":\"<&> \\\"quoted\\\" ünïcødé\",\"tenant\":\"acme\"}",`+
		`"data":{"orderId":"o-1","total":4200}}`, string(doc))
}

func TestEncodeOmitsZeroAttributesAndWritesBase64(t *testing.T) {
	doc, err := Encode(&Event{
		ID: uuid.Nil, Source: "/s", Type: "a", DataContentType: "text/plain",
		Data: []byte("bin\x00\xff"), DataBase64: true,
	})
	require.NoError(t, err)
	assert.Equal(t, `{"specversion":"1.0","id":"00000000-0000-0000-0000-000000000000","source":"/s","type":"a",`+
		`"datacontenttype":"text/plain","data_base64":"YmluAP8="}`, string(doc))

	// Data is always written, even empty, and JSON data trimmed.
	doc, err = Encode(&Event{Source: "/s", Type: "a", DataContentType: "application/json", Data: []byte(" 7\n")})
	require.NoError(t, err)
	assert.Contains(t, string(doc), `,"data":7}`)
	doc, err = Encode(&Event{Source: "/s", Type: "a", DataBase64: true})
	require.NoError(t, err)
	assert.Contains(t, string(doc), `,"data_base64":""}`)
}

func TestEncodeTimeOutsideRFC3339Years(t *testing.T) {
	for _, when := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 30, 0, 0, time.FixedZone("", 3600)), // year -1 in UTC
	} {
		ev := fullEvent()
		ev.Time = when
		doc, err := Encode(ev)
		assert.Nil(t, doc)
		var ce *Error
		require.True(t, errors.As(err, &ce), "%v", err)
		assert.Contains(t, ce.Detail, "event time cannot be written as rfc 3339")
		assert.Contains(t, ce.Detail, fmt.Sprintf("year %d outside 0000-9999", when.UTC().Year()))
	}
}

func TestAppendUUID(t *testing.T) {
	ids := []uuid.UUID{uuid.Nil, uuid.Max, uuid.MustParse("0192f3a4-5b6c-7d8e-9f01-23456789abcd")}
	for range 100 {
		ids = append(ids, uuid.New())
	}
	for _, id := range ids {
		assert.Equal(t, "x"+id.String(), string(appendUUID([]byte("x"), id)))
	}
}

func TestAppendSequence(t *testing.T) {
	for _, seq := range []uint64{0, 1, 9, 10, 12345, 1<<32 + 1, 1<<63 + 12345, 1<<64 - 1} {
		got := string(appendSequence([]byte("x"), seq))
		assert.Equal(t, fmt.Sprintf("x%020d", seq), got)
		back, err := parseSequence([]byte(got[1:]))
		require.NoError(t, err)
		assert.Equal(t, seq, back)
	}
}

func TestErrorText(t *testing.T) {
	assert.Equal(t, "cloudevents: sequence is empty", (&Error{Detail: "sequence is empty"}).Error())
	cause := errors.New("bad")
	err := &Error{Detail: "type", Err: cause}
	assert.Equal(t, "cloudevents: type: bad", err.Error())
	assert.ErrorIs(t, err, cause)
}
