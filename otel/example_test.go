package eventbusotel_test

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"

	"github.com/busline/eventbus"
	eventbusotel "github.com/busline/eventbus/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// The chat example's AI responder answers a message with a reply,
// published with its handler's ctx: the spans of both events form one
// trace, and the bus's stats are metrics. A program would give New the
// providers of its OTLP exporters instead of these in-memory ones.
func Example() {
	ctx := context.Background()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer func() { _ = tp.Shutdown(ctx) }()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(ctx) }()

	tel, err := eventbusotel.New(eventbusotel.WithTracerProvider(tp), eventbusotel.WithMeterProvider(mp))
	if err != nil {
		log.Fatal(err)
	}
	bus, err := eventbus.New(
		eventbus.WithPublishHook(tel.PublishHook()),
		eventbus.WithMiddleware(tel.Middleware(), eventbus.Retry(eventbus.RetryPolicy{})),
	)
	if err != nil {
		log.Fatal(err)
	}
	unregister, err := tel.ObserveStats(bus)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = unregister() }()

	sent, _ := eventbus.NewTopic[MessageSent](bus, "message.sent")
	replies, _ := eventbus.NewTopic[AIReplyGenerated](bus, "ai.reply.generated")
	_, _ = sent.Subscribe("ai-responder", func(ctx context.Context, e *eventbus.Event[MessageSent]) error {
		return replies.Publish(ctx, AIReplyGenerated{e.Payload.ConversationID, "Thanks, " + e.Payload.From + "!"})
	})
	_, _ = replies.Subscribe("transcript", func(context.Context, *eventbus.Event[AIReplyGenerated]) error { return nil })

	if err := sent.Publish(ctx, MessageSent{"conv-1", "Maria", "Where is my order?"}); err != nil {
		log.Fatal(err)
	}
	if err := bus.WaitIdle(ctx); err != nil {
		log.Fatal(err)
	}

	printTrace(spans.GetSpans())
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	printSums(rm, "messaging.client.sent.messages", "messaging.destination.name")
	printSums(rm, "eventbus.delivered.messages", "messaging.consumer.group.name")

	if err := bus.Close(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// publish message.sent (producer)
	//   process message.sent (consumer, ai-responder)
	//     publish ai.reply.generated (producer)
	//       process ai.reply.generated (consumer, transcript)
	// messaging.client.sent.messages: ai.reply.generated 1, message.sent 1
	// eventbus.delivered.messages: ai-responder 1, transcript 1
}

// printTrace prints spans as trees, each span under its parent.
func printTrace(spans tracetest.SpanStubs) {
	children := make(map[string][]tracetest.SpanStub)
	ids := make(map[string]bool)
	for _, s := range spans {
		ids[s.SpanContext.SpanID().String()] = true
	}
	var roots []tracetest.SpanStub
	for _, s := range spans {
		if parent := s.Parent.SpanID().String(); ids[parent] {
			children[parent] = append(children[parent], s)
		} else {
			roots = append(roots, s)
		}
	}
	var print func(s tracetest.SpanStub, depth int)
	print = func(s tracetest.SpanStub, depth int) {
		what := s.SpanKind.String()
		for _, kv := range s.Attributes {
			if kv.Key == "messaging.consumer.group.name" {
				what += ", " + kv.Value.AsString()
			}
		}
		fmt.Printf("%s%s (%s)\n", strings.Repeat("  ", depth), s.Name, what)
		for _, c := range children[s.SpanContext.SpanID().String()] {
			print(c, depth+1)
		}
	}
	for _, r := range roots {
		print(r, 0)
	}
}

// printSums prints the points of the int64 sum named name, by the value of
// their attribute key.
func printSums(rm metricdata.ResourceMetrics, name, key string) {
	var points []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if data, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == name {
				for _, p := range data.DataPoints {
					v, _ := p.Attributes.Value(attribute.Key(key))
					points = append(points, fmt.Sprintf("%s %d", v.AsString(), p.Value))
				}
			}
		}
	}
	slices.Sort(points)
	fmt.Printf("%s: %s\n", name, strings.Join(points, ", "))
}
