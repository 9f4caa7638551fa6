package redis

import (
	"strings"
	"testing"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type binaryOrder struct {
	ID string `json:"id"`
}

// With WithBinaryMode, an event's entry has its attributes in ce_ fields
// and its payload in FieldData, and a subscriber of a transport in the
// default mode reads it back whole.
func TestBinaryModeOnTheWire(t *testing.T) {
	s := startServer(t)
	writer := bustest.NewBus(t, eventbus.WithTransport(connect(t, s, WithBinaryMode())), eventbus.WithSource("urn:shop"))
	reader := bustest.NewBus(t, eventbus.WithTransport(connect(t, s)))
	out, err := eventbus.NewTopic[binaryOrder](writer, "orders")
	require.NoError(t, err)
	in, err := eventbus.NewTopic[binaryOrder](reader, "orders")
	require.NoError(t, err)
	rec := bustest.Record(t, in)

	require.NoError(t, out.Publish(t.Context(), binaryOrder{ID: "o-1"}, eventbus.WithCloudEvent(eventbus.CloudEventAttributes{Subject: "o-1"})))
	got := rec.WaitN(1)[0]
	assert.Equal(t, binaryOrder{ID: "o-1"}, got.Payload)
	assert.Equal(t, "o-1", got.CloudEvent.Subject)

	entries, err := s.client(t).XRange(t.Context(), streamKey(DefaultKeyPrefix, "orders"), "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, entries, 1)
	v := entries[0].Values
	assert.JSONEq(t, `{"id":"o-1"}`, v[FieldData].(string))
	assert.Equal(t, "1.0", v["ce_specversion"])
	assert.Equal(t, got.ID.String(), v["ce_id"])
	assert.Equal(t, "urn:shop", v["ce_source"])
	assert.Equal(t, "orders", v["ce_type"])
	assert.Equal(t, "o-1", v["ce_subject"])
	assert.Equal(t, "application/json", v["ce_datacontenttype"])
	assert.Equal(t, got.ID.String(), v[FieldID])
	assert.NotEmpty(t, v[FieldTime])
}

// A binary-mode entry that the plain client adds, as another service
// would, reaches a subscriber with its attributes; one whose fields do not
// make a CloudEvent is dead-lettered, saying why.
func TestBinaryModeFromAPlainClient(t *testing.T) {
	s := startServer(t)
	bus := bustest.NewBus(t, eventbus.WithTransport(connect(t, s)))
	in, err := eventbus.NewTopic[binaryOrder](bus, "orders")
	require.NoError(t, err)
	rec := bustest.Record(t, in)
	dead, err := eventbus.NewTopic[eventbus.FailedDelivery](bus, eventbus.DefaultDeadLetterTopic)
	require.NoError(t, err)
	letters := bustest.Record(t, dead)

	rdb := s.client(t)
	add := func(values ...any) {
		require.NoError(t, rdb.XAdd(t.Context(), &goredis.XAddArgs{Stream: streamKey(DefaultKeyPrefix, "orders"), Values: values}).Err())
	}
	add("ce_specversion", "1.0", "ce_id", "A234-1234-1234", "ce_source", "https://shop.example.com",
		"ce_type", "com.example.order.created", "ce_tenant", "acme corp", "ce_datacontenttype", "application/json", FieldData, `{"id":"o-2"}`)
	got := rec.WaitN(1)[0]
	assert.Equal(t, binaryOrder{ID: "o-2"}, got.Payload)
	assert.Equal(t, "https://shop.example.com", got.CloudEvent.Source)
	assert.Equal(t, "A234-1234-1234", got.CloudEvent.ID)
	assert.Equal(t, "com.example.order.created", got.CloudEvent.Type)
	assert.Equal(t, eventbus.ExtensionValue{Type: eventbus.ExtensionString, Value: "acme corp"}, got.CloudEvent.Extensions["tenant"])

	add("ce_specversion", "1.0", "ce_source", "/s", "ce_type", "t", FieldData, `{"id":"o-3"}`)
	dl := letters.WaitN(1)[0].Payload
	assert.True(t, strings.Contains(dl.Error, `binary-mode entry: eventbus: malformed event: missing required attribute "id"`), dl.Error)
	assert.Equal(t, []byte(`{"id":"o-3"}`), dl.Data)
}
