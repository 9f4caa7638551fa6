package interop

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/busline/eventbus/transport/memory"
	"github.com/cloudevents/sdk-go/v2/binding"
	ce "github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// order is the payload of the tests' topic.
type order struct {
	ID    string `json:"id"`
	Total int    `json:"total"`
}

// rawConsumer reads what the broker stores for topic, as another service
// would, through a group of its own, and returns the documents it gets.
func rawConsumer(t *testing.T, broker *memory.Broker, topic string) <-chan []byte {
	t.Helper()
	docs := make(chan []byte, 16)
	c, err := broker.Subscribe(context.Background(), eventbus.ConsumerConfig{Topic: topic, Group: "raw-reader", MaxInFlight: 16},
		func(ctx context.Context, m eventbus.InboundMessage) {
			docs <- m.Data()
			_ = m.Ack(ctx)
		})
	require.NoError(t, err)
	t.Cleanup(func() {
		c.Stop()
		<-c.Done()
	})
	return docs
}

func recvDoc(t *testing.T, docs <-chan []byte) []byte {
	t.Helper()
	select {
	case d := <-docs:
		return d
	case <-time.After(bustest.Timeout):
		t.Fatal("no document reached the broker")
		return nil
	}
}

// sdkRead parses doc with the SDK and has it validate the event.
func sdkRead(t *testing.T, doc []byte) ce.Event {
	t.Helper()
	var e ce.Event
	require.NoError(t, json.Unmarshal(doc, &e), "the SDK parses %s", doc)
	require.NoError(t, e.Validate(), "the SDK validates %s", doc)
	return e
}

// What the bus writes, with every attribute it has, the SDK reads and
// validates, each attribute with its CloudEvents type.
func TestSDKReadsWhatTheBusWrites(t *testing.T) {
	broker := memory.NewBroker()
	t.Cleanup(func() { assert.NoError(t, broker.Close()) })
	docs := rawConsumer(t, broker, "orders")
	traced := func(_ context.Context, env *eventbus.Envelope) func(eventbus.Message, error) {
		env.SetTraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "vendor=1")
		return nil
	}
	bus := bustest.NewBus(t, eventbus.WithTransport(broker), eventbus.WithSource("urn:busline:orders"), eventbus.WithPublishHook(traced))
	tp, err := eventbus.NewTopic[order](bus, "orders")
	require.NoError(t, err)
	rec := bustest.Record(t, tp)

	attrs := eventbus.CloudEventAttributes{
		Subject:    "o-1",
		DataSchema: "https://example.com/schemas/order.json",
		Extensions: map[string]eventbus.ExtensionValue{
			"tenant":   {Type: eventbus.ExtensionString, Value: "acme"},
			"priority": {Type: eventbus.ExtensionInteger, Value: "-7"},
			"urgent":   {Type: eventbus.ExtensionBoolean, Value: "true"},
		},
	}
	require.NoError(t, tp.Publish(t.Context(), order{ID: "o-1", Total: 42},
		eventbus.WithKey("customer-9"), eventbus.WithCorrelationID("req-1"), eventbus.WithMetadata("origin", "test"),
		eventbus.WithCloudEvent(attrs)))
	published := rec.WaitN(1)[0]

	e := sdkRead(t, recvDoc(t, docs))
	assert.Equal(t, published.ID.String(), e.ID())
	assert.Equal(t, "urn:busline:orders", e.Source())
	assert.Equal(t, "orders", e.Type())
	assert.Equal(t, "o-1", e.Subject())
	assert.True(t, published.Time.Equal(e.Time()), "time %v, want %v", e.Time(), published.Time)
	assert.Equal(t, "application/json", e.DataContentType())
	assert.Equal(t, "https://example.com/schemas/order.json", e.DataSchema())
	assert.Equal(t, map[string]any{
		"sequence":      "00000000000000000001",
		"correlationid": "req-1",
		"partitionkey":  "customer-9",
		"metadata":      `{"origin":"test"}`,
		"traceparent":   "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"tracestate":    "vendor=1",
		"tenant":        "acme",
		"priority":      int32(-7),
		"urgent":        true,
	}, e.Extensions())
	var data order
	require.NoError(t, e.DataAs(&data))
	assert.Equal(t, order{ID: "o-1", Total: 42}, data)
}

// sdkEvent is an event another service writes with the SDK: an ID that is
// not a UUID, a type of its own, and extensions of every CloudEvents type.
func sdkEvent(t *testing.T) ce.Event {
	t.Helper()
	e := ce.New()
	e.SetID("A234-1234-1234")
	e.SetSource("https://shop.example.com/checkout")
	e.SetType("com.example.order.created")
	e.SetSubject("o-77")
	e.SetTime(time.Date(2026, 11, 30, 8, 1, 2, 345000000, time.UTC))
	e.SetDataSchema("https://shop.example.com/schemas/order.json")
	u, err := url.Parse("https://shop.example.com/orders/o-77")
	require.NoError(t, err)
	for name, v := range map[string]any{
		"tenant":     "acme",
		"attempt":    int32(3),
		"express":    true,
		"link":       types.URI{URL: *u},
		"deadline":   time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		"signature":  []byte{0xde, 0xad, 0xbe, 0xef},
		"customerid": "c-9",
	} {
		e.SetExtension(name, v)
	}
	require.NoError(t, e.SetData("application/json", order{ID: "o-77", Total: 99}))
	require.NoError(t, e.Validate())
	return e
}

// sameEvent checks that got carries every attribute of want, with the
// types the JSON format gives them, and the same data.
func sameEvent(t *testing.T, want, got ce.Event) {
	t.Helper()
	assert.Equal(t, want.ID(), got.ID())
	assert.Equal(t, want.Source(), got.Source())
	assert.Equal(t, want.Type(), got.Type())
	assert.Equal(t, want.Subject(), got.Subject())
	assert.True(t, want.Time().Equal(got.Time()), "time %v, want %v", got.Time(), want.Time())
	assert.Equal(t, want.DataSchema(), got.DataSchema())
	assert.Equal(t, want.DataContentType(), got.DataContentType())
	assert.JSONEq(t, string(want.Data()), string(got.Data()))
	// The JSON format carries booleans and integers as themselves and the
	// other types as strings: compare what the SDK reads back from JSON.
	raw, err := json.Marshal(want)
	require.NoError(t, err)
	var viaJSON ce.Event
	require.NoError(t, json.Unmarshal(raw, &viaJSON))
	assert.Equal(t, viaJSON.Extensions(), got.Extensions())
}

// What the SDK writes (structured mode), the bus reads and handles; when
// the handler fails for good, the dead letter keeps every attribute, and
// the event encoded back from it is what the SDK wrote; a republished copy
// keeps every attribute but the id and source, which are the bus's.
func TestBusReadsHandlesAndWritesBackWhatTheSDKWrites(t *testing.T) {
	broker := memory.NewBroker()
	t.Cleanup(func() { assert.NoError(t, broker.Close()) })
	docs := rawConsumer(t, broker, "orders")
	bus := bustest.NewBus(t, eventbus.WithTransport(broker))
	tp, err := eventbus.NewTopic[order](bus, "orders")
	require.NoError(t, err)
	dead, err := eventbus.NewTopic[eventbus.FailedDelivery](bus, eventbus.DefaultDeadLetterTopic)
	require.NoError(t, err)
	deadLetters := bustest.Record(t, dead)
	handled := make(chan *eventbus.Event[order], 1)
	_, err = tp.Subscribe("fulfilment", func(_ context.Context, e *eventbus.Event[order]) error {
		handled <- e
		return eventbus.Permanent(assert.AnError)
	})
	require.NoError(t, err)

	want := sdkEvent(t)
	doc, err := json.Marshal(want)
	require.NoError(t, err)
	require.NoError(t, broker.Publish(t.Context(), eventbus.OutgoingMessage{Topic: "orders", ID: uuid.New(), Data: doc}))
	recvDoc(t, docs) // the raw reader saw it too

	var e *eventbus.Event[order]
	select {
	case e = <-handled:
	case <-time.After(bustest.Timeout):
		t.Fatal("the handler never got the SDK's event")
	}
	assert.Equal(t, "orders", e.Topic)
	assert.Equal(t, order{ID: "o-77", Total: 99}, e.Payload)
	assert.Equal(t, "https://shop.example.com/checkout", e.CloudEvent.Source)
	require.NotNil(t, e.CloudEvent)
	assert.Equal(t, "A234-1234-1234", e.CloudEvent.ID)
	assert.Equal(t, "com.example.order.created", e.CloudEvent.Type)
	assert.Equal(t, eventbus.ExtensionValue{Type: eventbus.ExtensionInteger, Value: "3"}, e.CloudEvent.Extensions["attempt"])
	assert.Equal(t, eventbus.ExtensionValue{Type: eventbus.ExtensionBoolean, Value: "true"}, e.CloudEvent.Extensions["express"])

	// The dead letter, read back from the broker as JSON, keeps it all.
	dl := deadLetters.WaitN(1)[0].Payload
	assert.Equal(t, e.Envelope.CloudEvent, dl.Envelope.CloudEvent)
	payload, err := json.Marshal(dl.Payload)
	require.NoError(t, err)
	back, err := eventbus.EncodeCloudEvent(&eventbus.Event[json.RawMessage]{Envelope: dl.Envelope, Payload: payload}, "urn:unused", nil)
	require.NoError(t, err)
	sameEvent(t, want, sdkRead(t, back))

	// Republished, it is a new event of the bus's with the same attributes.
	require.NoError(t, eventbus.Republish(t.Context(), tp, dl))
	again := sdkRead(t, recvDoc(t, docs))
	assert.NotEqual(t, want.ID(), again.ID())
	assert.Equal(t, eventbus.DefaultSource, again.Source())
	assert.Equal(t, want.Type(), again.Type())
	assert.Equal(t, want.Subject(), again.Subject())
	assert.Equal(t, want.DataSchema(), again.DataSchema())
	for name, v := range sdkRead(t, doc).Extensions() {
		assert.Equal(t, v, again.Extensions()[name], "extension %s", name)
	}
}

// What the SDK writes in binary content mode (here its HTTP binding: the
// attributes in ce- headers, the data as the body), converted with
// CloudEventFromBinary as a transport does, the bus reads with every
// attribute, extensions as strings, as binary mode carries them.
func TestBusReadsTheSDKsBinaryMode(t *testing.T) {
	want := sdkEvent(t)
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/", nil)
	require.NoError(t, err)
	require.NoError(t, cehttp.WriteRequest(t.Context(), binding.ToMessage(&want), req))
	body, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	bin := eventbus.BinaryCloudEvent{Attributes: map[string]string{}, Data: body}
	for name, values := range req.Header {
		lower := strings.ToLower(name)
		switch {
		case strings.HasPrefix(lower, "ce-"):
			v, err := url.PathUnescape(values[0])
			require.NoError(t, err)
			bin.Attributes[strings.TrimPrefix(lower, "ce-")] = v
		case lower == "content-type":
			bin.Attributes["datacontenttype"] = values[0]
		}
	}
	doc, err := eventbus.CloudEventFromBinary(bin)
	require.NoError(t, err)

	broker := memory.NewBroker()
	t.Cleanup(func() { assert.NoError(t, broker.Close()) })
	bus := bustest.NewBus(t, eventbus.WithTransport(broker))
	tp, err := eventbus.NewTopic[order](bus, "orders")
	require.NoError(t, err)
	rec := bustest.Record(t, tp)
	require.NoError(t, broker.Publish(t.Context(), eventbus.OutgoingMessage{Topic: "orders", ID: uuid.New(), Data: doc}))
	got := rec.WaitN(1)[0]
	assert.Equal(t, order{ID: "o-77", Total: 99}, got.Payload)
	assert.Equal(t, "A234-1234-1234", got.CloudEvent.ID)
	assert.Equal(t, "o-77", got.CloudEvent.Subject)
	assert.Equal(t, eventbus.ExtensionValue{Type: eventbus.ExtensionString, Value: "3"}, got.CloudEvent.Extensions["attempt"])
	assert.Equal(t, eventbus.ExtensionValue{Type: eventbus.ExtensionString, Value: "3q2+7w=="}, got.CloudEvent.Extensions["signature"])
}
