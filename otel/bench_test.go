package eventbusotel_test

import (
	"context"
	"testing"

	"github.com/busline/eventbus"
	eventbusotel "github.com/busline/eventbus/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkPublishAndHandle measures the time per event of a publish to
// one subscriber and its handling, on a bus without telemetry and on one
// with the hook and the middleware recording into the SDK (sampled spans
// that go nowhere, metrics into a manual reader).
func BenchmarkPublishAndHandle(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts func(b *testing.B) []eventbus.Option
	}{
		{"plain", func(*testing.B) []eventbus.Option { return nil }},
		{"telemetry", func(b *testing.B) []eventbus.Option {
			tp := sdktrace.NewTracerProvider()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			b.Cleanup(func() {
				_ = tp.Shutdown(context.Background())
				_ = mp.Shutdown(context.Background())
			})
			tel, err := eventbusotel.New(eventbusotel.WithTracerProvider(tp), eventbusotel.WithMeterProvider(mp))
			if err != nil {
				b.Fatal(err)
			}
			return []eventbus.Option{eventbus.WithPublishHook(tel.PublishHook()), eventbus.WithMiddleware(tel.Middleware())}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bus, err := eventbus.New(bc.opts(b)...)
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := bus.Close(context.Background()); err != nil {
					b.Fatal(err)
				}
			}()
			sent, err := eventbus.NewTopic[MessageSent](bus, "message.sent")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := sent.Subscribe("analytics", func(context.Context, *eventbus.Event[MessageSent]) error { return nil }, eventbus.WithQueueCapacity(1<<20)); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := sent.Publish(ctx, MessageSent{"conv-1", "Maria", "Hi"}); err != nil {
					b.Fatal(err)
				}
			}
			if err := bus.WaitIdle(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
