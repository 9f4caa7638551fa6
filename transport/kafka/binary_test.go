package kafka

import (
	"strings"
	"testing"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

type binaryOrder struct {
	ID string `json:"id"`
}

// plainClient returns a franz-go client to c, as another service would
// use, closed when the test ends.
func plainClient(t *testing.T, c *cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.brokers...)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

// With WithBinaryMode, an event reaches Kafka with its attributes in ce_
// headers and its payload as the value, and a subscriber of a transport in
// the default mode reads it back whole.
func TestBinaryModeOnTheWire(t *testing.T) {
	c := startCluster(t)
	writer := bustest.NewBus(t, eventbus.WithTransport(c.connect(t, WithBinaryMode())), eventbus.WithSource("urn:shop"))
	reader := bustest.NewBus(t, eventbus.WithTransport(c.connect(t)))
	out, err := eventbus.NewTopic[binaryOrder](writer, "orders")
	require.NoError(t, err)
	in, err := eventbus.NewTopic[binaryOrder](reader, "orders")
	require.NoError(t, err)
	rec := bustest.Record(t, in)

	require.NoError(t, out.Publish(t.Context(), binaryOrder{ID: "o-1"}, eventbus.WithKey("k-1"),
		eventbus.WithCloudEvent(eventbus.CloudEventAttributes{Subject: "o-1"})))
	got := rec.WaitN(1)[0]
	assert.Equal(t, binaryOrder{ID: "o-1"}, got.Payload)
	assert.Equal(t, "o-1", got.CloudEvent.Subject)
	assert.Equal(t, "k-1", got.Key)

	raw := plainClient(t, c, kgo.ConsumeTopics(topicFor(DefaultTopicPrefix, "orders")), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fetches := raw.PollFetches(testCtx(t, waitLong))
	require.NoError(t, fetches.Err())
	records := fetches.Records()
	require.Len(t, records, 1)
	r := records[0]
	assert.JSONEq(t, `{"id":"o-1"}`, string(r.Value))
	headers := map[string]string{}
	for _, h := range r.Headers {
		headers[h.Key] = string(h.Value)
	}
	assert.Equal(t, "1.0", headers["ce_specversion"])
	assert.Equal(t, got.ID.String(), headers["ce_id"])
	assert.Equal(t, "urn:shop", headers["ce_source"])
	assert.Equal(t, "orders", headers["ce_type"])
	assert.Equal(t, "o-1", headers["ce_subject"])
	assert.Equal(t, "k-1", headers["ce_partitionkey"])
	assert.Equal(t, "application/json", headers["content-type"])
	assert.NotEmpty(t, headers[HeaderTime])
}

// A binary-mode record that the plain client produces, as another service
// would, reaches a subscriber with its attributes; one whose headers do
// not make a CloudEvent is dead-lettered, saying why.
func TestBinaryModeFromAPlainClient(t *testing.T) {
	c := startCluster(t)
	bus := bustest.NewBus(t, eventbus.WithTransport(c.connect(t)))
	in, err := eventbus.NewTopic[binaryOrder](bus, "orders")
	require.NoError(t, err)
	rec := bustest.Record(t, in)
	dead, err := eventbus.NewTopic[eventbus.FailedDelivery](bus, eventbus.DefaultDeadLetterTopic)
	require.NoError(t, err)
	letters := bustest.Record(t, dead)

	producer := plainClient(t, c)
	produce := func(value string, headers ...string) {
		r := &kgo.Record{Topic: topicFor(DefaultTopicPrefix, "orders"), Value: []byte(value)}
		for i := 0; i < len(headers); i += 2 {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: headers[i], Value: []byte(headers[i+1])})
		}
		require.NoError(t, producer.ProduceSync(testCtx(t, waitLong), r).FirstErr())
	}
	produce(`{"id":"o-2"}`, "ce_specversion", "1.0", "ce_id", "A234-1234-1234", "ce_source", "https://shop.example.com",
		"ce_type", "com.example.order.created", "ce_tenant", "acme corp", "content-type", "application/json")
	got := rec.WaitN(1)[0]
	assert.Equal(t, binaryOrder{ID: "o-2"}, got.Payload)
	assert.Equal(t, "https://shop.example.com", got.CloudEvent.Source)
	assert.Equal(t, "A234-1234-1234", got.CloudEvent.ID)
	assert.Equal(t, "com.example.order.created", got.CloudEvent.Type)
	assert.Equal(t, eventbus.ExtensionValue{Type: eventbus.ExtensionString, Value: "acme corp"}, got.CloudEvent.Extensions["tenant"])

	// A structured-mode record written by another producer, content type
	// and all, is read as such, ce_ headers notwithstanding.
	produce(`{"specversion":"1.0","id":"s-1","source":"/other","type":"x","data":{"id":"o-3"}}`,
		"content-type", "application/cloudevents+json; charset=utf-8", "ce_specversion", "1.0")
	assert.Equal(t, binaryOrder{ID: "o-3"}, rec.WaitN(2)[1].Payload)

	produce(`{"id":"o-4"}`, "ce_specversion", "1.0", "ce_source", "/s", "ce_type", "t")
	dl := letters.WaitN(1)[0].Payload
	assert.True(t, strings.Contains(dl.Error, `binary-mode record: eventbus: malformed event: missing required attribute "id"`), dl.Error)
	assert.Equal(t, []byte(`{"id":"o-4"}`), dl.Data)
}
