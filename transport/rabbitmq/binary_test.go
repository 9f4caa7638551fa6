package rabbitmq

import (
	"strings"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	amqp "github.com/rabbitmq/amqp091-go"
)

type binaryOrder struct {
	ID string `json:"id"`
}

// plainChannel returns a channel of a plain client connection to the test
// node, as another service would use, closed when the test ends.
func plainChannel(t *testing.T) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(testNode.URL())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatalf("channel: %v", err)
	}
	return ch
}

// With WithBinaryMode, an event reaches RabbitMQ with its attributes in
// cloudEvents: headers, its content type the payload's and its payload as
// the body, and a subscriber of a transport in the default mode reads it
// back whole.
func TestBinaryModeOnTheWire(t *testing.T) {
	topic := uniqueTopic("binary")
	writer := bustest.NewBus(t, eventbus.WithTransport(connect(t, WithBinaryMode())), eventbus.WithSource("urn:shop"))
	reader := bustest.NewBus(t, eventbus.WithTransport(connect(t)))
	out, err := eventbus.NewTopic[binaryOrder](writer, topic)
	if err != nil {
		t.Fatal(err)
	}
	in, err := eventbus.NewTopic[binaryOrder](reader, topic)
	if err != nil {
		t.Fatal(err)
	}
	rec := bustest.Record(t, in)

	// A plain consumer of the topic, bound to the transport's exchange.
	ch := plainChannel(t)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, topic, DefaultExchange, false, nil); err != nil {
		t.Fatal(err)
	}
	raw, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}

	if err := out.Publish(t.Context(), binaryOrder{ID: "o-1"}, eventbus.WithCloudEvent(eventbus.CloudEventAttributes{Subject: "o-1"})); err != nil {
		t.Fatal(err)
	}
	got := rec.WaitN(1)[0]
	if got.Payload != (binaryOrder{ID: "o-1"}) || got.CloudEvent == nil || got.CloudEvent.Subject != "o-1" {
		t.Fatalf("the reader got %+v", got)
	}
	var d amqp.Delivery
	select {
	case d = <-raw:
	case <-time.After(bustest.Timeout):
		t.Fatal("the plain consumer got nothing")
	}
	if string(d.Body) != `{"id":"o-1"}` || d.ContentType != "application/json" {
		t.Errorf("body %s, content type %q", d.Body, d.ContentType)
	}
	for name, want := range map[string]string{
		"cloudEvents:specversion": "1.0", "cloudEvents:id": got.ID.String(), "cloudEvents:source": "urn:shop",
		"cloudEvents:type": topic, "cloudEvents:subject": "o-1",
	} {
		if v, _ := d.Headers[name].(string); v != want {
			t.Errorf("header %s = %v, want %q", name, d.Headers[name], want)
		}
	}
}

// A binary-mode message that the plain client publishes, as another
// service would, with typed properties and either prefix, reaches a
// subscriber with its attributes; one whose headers do not make a
// CloudEvent is dead-lettered, saying why.
func TestBinaryModeFromAPlainClient(t *testing.T) {
	topic := uniqueTopic("binary")
	bus := bustest.NewBus(t, eventbus.WithTransport(connect(t)))
	in, err := eventbus.NewTopic[binaryOrder](bus, topic)
	if err != nil {
		t.Fatal(err)
	}
	rec := bustest.Record(t, in)
	dead, err := eventbus.NewTopic[eventbus.FailedDelivery](bus, eventbus.DefaultDeadLetterTopic)
	if err != nil {
		t.Fatal(err)
	}
	letters := bustest.Record(t, dead)

	ch := plainChannel(t)
	publish := func(headers amqp.Table, body string) {
		t.Helper()
		if err := ch.PublishWithContext(t.Context(), DefaultExchange, topic, false, false, amqp.Publishing{
			Headers: headers, ContentType: "application/json", Body: []byte(body), DeliveryMode: amqp.Persistent,
		}); err != nil {
			t.Fatal(err)
		}
	}
	publish(amqp.Table{
		"cloudEvents:specversion": "1.0", "cloudEvents:id": "A234-1234-1234", "cloudEvents:source": "https://shop.example.com",
		"cloudEvents_type": "com.example.order.created", "cloudEvents:attempt": int32(3), "cloudEvents:express": true,
	}, `{"id":"o-2"}`)
	got := rec.WaitN(1)[0]
	if got.Payload != (binaryOrder{ID: "o-2"}) {
		t.Fatalf("payload %+v", got.Payload)
	}
	a := got.CloudEvent
	if a == nil || a.Source != "https://shop.example.com" || a.ID != "A234-1234-1234" || a.Type != "com.example.order.created" {
		t.Fatalf("attributes %+v", a)
	}
	if a.Extensions["attempt"] != (eventbus.ExtensionValue{Type: eventbus.ExtensionString, Value: "3"}) ||
		a.Extensions["express"] != (eventbus.ExtensionValue{Type: eventbus.ExtensionString, Value: "true"}) {
		t.Errorf("extensions %+v", a.Extensions)
	}

	publish(amqp.Table{"cloudEvents:specversion": "1.0", "cloudEvents:source": "/s", "cloudEvents:type": "t"}, `{"id":"o-3"}`)
	dl := letters.WaitN(1)[0].Payload
	if !strings.Contains(dl.Error, `binary-mode message: eventbus: malformed event: missing required attribute "id"`) || string(dl.Data) != `{"id":"o-3"}` {
		t.Errorf("dead letter: error %q, data %s", dl.Error, dl.Data)
	}
}
