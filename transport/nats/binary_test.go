package nats

import (
	"context"
	"errors"
	"testing"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type binaryOrder struct {
	ID string `json:"id"`
}

// With WithBinaryMode, an event reaches NATS with its attributes in ce-
// headers and its payload as the body, and a subscriber of a transport in
// the default mode reads it back whole.
func TestBinaryModeOnTheWire(t *testing.T) {
	srv := startServer(t, t.TempDir(), -1)
	writer := bustest.NewBus(t, eventbus.WithTransport(connect(t, srv, WithBinaryMode())), eventbus.WithSource("urn:shop"))
	reader := bustest.NewBus(t, eventbus.WithTransport(connect(t, srv)))
	out, err := eventbus.NewTopic[binaryOrder](writer, "orders")
	require.NoError(t, err)
	in, err := eventbus.NewTopic[binaryOrder](reader, "orders")
	require.NoError(t, err)
	rec := bustest.Record(t, in)

	nc, err := natsgo.Connect(srv.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	raw, err := nc.SubscribeSync(subjectFor(DefaultSubjectPrefix, "orders"))
	require.NoError(t, err)
	require.NoError(t, nc.Flush())

	require.NoError(t, out.Publish(t.Context(), binaryOrder{ID: "o-1"}, eventbus.WithCloudEvent(eventbus.CloudEventAttributes{
		Subject: "a subject with spaces and \"quotes\" and 100%",
	})))
	msg, err := raw.NextMsg(bustest.Timeout)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"o-1"}`, string(msg.Data))
	assert.Equal(t, "1.0", msg.Header.Get("ce-specversion"))
	assert.Equal(t, "urn:shop", msg.Header.Get("ce-source"))
	assert.Equal(t, "orders", msg.Header.Get("ce-type"))
	assert.Equal(t, "application/json", msg.Header.Get("content-type"))
	assert.Equal(t, "a%20subject%20with%20spaces%20and%20%22quotes%22%20and%20100%25", msg.Header.Get("ce-subject"))

	got := rec.WaitN(1)[0]
	assert.Equal(t, binaryOrder{ID: "o-1"}, got.Payload)
	assert.Equal(t, msg.Header.Get("ce-id"), got.ID.String())
	assert.Equal(t, "a subject with spaces and \"quotes\" and 100%", got.CloudEvent.Subject)
}

// A binary-mode message that the plain client publishes, as another
// service would, reaches a subscriber with its attributes; one whose
// headers do not make a CloudEvent is dead-lettered, saying why.
func TestBinaryModeFromAPlainClient(t *testing.T) {
	srv := startServer(t, t.TempDir(), -1)
	bus := bustest.NewBus(t, eventbus.WithTransport(connect(t, srv)))
	in, err := eventbus.NewTopic[binaryOrder](bus, "orders")
	require.NoError(t, err)
	rec := bustest.Record(t, in)
	dead, err := eventbus.NewTopic[eventbus.FailedDelivery](bus, eventbus.DefaultDeadLetterTopic)
	require.NoError(t, err)
	letters := bustest.Record(t, dead)

	nc, err := natsgo.Connect(srv.ClientURL())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	subject := subjectFor(DefaultSubjectPrefix, "orders")
	publish := func(h natsgo.Header, body string) {
		ctx, cancel := context.WithTimeout(context.Background(), bustest.Timeout)
		defer cancel()
		_, err := js.PublishMsg(ctx, &natsgo.Msg{Subject: subject, Header: h, Data: []byte(body)})
		require.NoError(t, err)
	}
	publish(natsgo.Header{
		"Ce-Specversion": {"1.0"}, "ce-id": {"A234-1234-1234"}, "ce-source": {"https://shop.example.com"},
		"ce-type": {"com.example.order.created"}, "ce-tenant": {"acme%20corp"}, "Content-Type": {"application/json"},
	}, `{"id":"o-2"}`)
	got := rec.WaitN(1)[0]
	assert.Equal(t, binaryOrder{ID: "o-2"}, got.Payload)
	assert.Equal(t, "https://shop.example.com", got.CloudEvent.Source)
	assert.Equal(t, "A234-1234-1234", got.CloudEvent.ID)
	assert.Equal(t, "com.example.order.created", got.CloudEvent.Type)
	assert.Equal(t, eventbus.ExtensionValue{Type: eventbus.ExtensionString, Value: "acme corp"}, got.CloudEvent.Extensions["tenant"])

	publish(natsgo.Header{"ce-specversion": {"1.0"}, "ce-source": {"/s"}, "ce-type": {"t"}}, `{"id":"o-3"}`)
	dl := letters.WaitN(1)[0].Payload
	assert.Contains(t, dl.Error, `eventbus/nats: binary-mode message: eventbus: malformed event: missing required attribute "id"`)
	assert.Equal(t, []byte(`{"id":"o-3"}`), dl.Data)
	bustest.WaitIdle(t, bus)
	rec.RequireCount(1)
}

func TestPercentEncoding(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", "100%", `"q"`, "ünï", "\x00\x7f", "%41"} {
		back, err := percentDecode(percentEncode(s))
		require.NoError(t, err)
		assert.Equal(t, s, back)
	}
	_, err := percentDecode("50%")
	assert.Error(t, err)
	_, err = percentDecode("%zz")
	assert.Error(t, err)
	assert.False(t, errors.Is(err, eventbus.ErrMalformedEvent))
}
