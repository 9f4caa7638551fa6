package cloudevents

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeRoundTrip(t *testing.T) {
	in := fullEvent()
	doc, err := Encode(in)
	require.NoError(t, err)
	out, err := Decode(doc, DecodeOptions{ContentType: "application/json"})
	require.NoError(t, err)

	assert.True(t, in.Time.Equal(out.Time), "time %v != %v", in.Time, out.Time)
	assert.Equal(t, time.UTC, out.Time.Location())
	want := *in
	want.Time = out.Time
	assert.Equal(t, want, out)
}

func TestDecodeBase64RoundTrip(t *testing.T) {
	for _, payload := range []string{"hello", "", "bin\x00\xff"} {
		in := fullEvent()
		in.DataContentType = "text/plain"
		in.Data = []byte(payload)
		in.DataBase64 = true
		doc, err := Encode(in)
		require.NoError(t, err)
		out, err := Decode(doc, DecodeOptions{ContentType: "text/plain; charset=utf-8"})
		require.NoError(t, err)
		assert.True(t, out.DataBase64)
		assert.Equal(t, "text/plain", out.DataContentType)
		require.NotNil(t, out.Data, "data_base64 of %q", payload)
		assert.Equal(t, payload, string(out.Data))
	}
}

func TestDecodeData(t *testing.T) {
	const head = `{"specversion":"1.0","id":"0192f3a4-5b6c-7d8e-9f01-23456789abcd","source":"/s","type":"t"`
	tests := []struct {
		name, doc, contentType string
		data                   []byte
	}{
		{"neither", head + `,"datacontenttype":5}`, "application/json", nil},
		{"null base64", head + `,"data_base64":null}`, "application/json", nil},
		{"json", head + `,"data": {"a": [1]} }`, "application/json", []byte(`{"a": [1]}`)},
		{"json null", head + `,"data":null}`, "application/json", []byte("null")},
		{"vendor json", head + `,"datacontenttype":"application/vnd.x+json","data":1}`, "application/json", []byte("1")},
		{"text in data", head + `,"datacontenttype":"text/plain","data":"a\"b"}`, "text/plain", []byte(`a"b`)},
		{"empty text in data", head + `,"datacontenttype":"text/plain","data":""}`, "text/plain", []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode([]byte(tt.doc), DecodeOptions{ContentType: tt.contentType})
			require.NoError(t, err)
			assert.False(t, ev.DataBase64)
			assert.Equal(t, tt.data == nil, ev.Data == nil, "Data %q", ev.Data)
			assert.Equal(t, string(tt.data), string(ev.Data))
		})
	}
}

func TestDecodeCheckType(t *testing.T) {
	doc, err := Encode(fullEvent())
	require.NoError(t, err)
	errBadType := errors.New("eventbus: invalid topic")
	var checked string
	_, err = Decode(doc, DecodeOptions{ContentType: "application/json", CheckType: func(typ string) error {
		checked = typ
		return errBadType
	}})
	assert.Equal(t, "order.placed", checked)
	var ce *Error
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, "type", ce.Detail)
	assert.ErrorIs(t, err, errBadType)
	assert.Equal(t, "cloudevents: type: eventbus: invalid topic", err.Error())
}

func TestDecodeErrorsAreErrors(t *testing.T) {
	for _, doc := range []string{"", "[]", "{", `{}`, `{"specversion":"1.0","id":"x"}`} {
		_, err := Decode([]byte(doc), DecodeOptions{ContentType: "application/json"})
		var ce *Error
		require.True(t, errors.As(err, &ce), "%q: %v", doc, err)
		assert.Nil(t, ce.Err)
		assert.Equal(t, "cloudevents: "+ce.Detail, err.Error())
	}
}
