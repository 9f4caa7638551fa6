package eventbusotel

import (
	"context"
	"testing"

	"github.com/busline/eventbus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Two subscriptions of one topic and name (one draining, one new) are one
// series, the sum of both; others keep their own.
func TestObserveSumsSubscriptionsOfOneName(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { require.NoError(t, mp.Shutdown(context.Background())) }()
	tel, err := New(WithMeterProvider(mp))
	require.NoError(t, err)
	stats := []eventbus.SubscriptionStats{
		{Topic: "message.sent", Subscriber: "audit", Delivered: 3, InFlight: 1, Dropped: eventbus.DropStats{Unsubscribed: 2}},
		{Topic: "message.sent", Subscriber: "audit", Delivered: 1, QueueLength: 4, Dropped: eventbus.DropStats{Unsubscribed: 1, Evicted: 5}},
		{Topic: "message.sent", Subscriber: "billing", Delivered: 7},
	}
	_, err = tel.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		tel.observe(o, stats, nil)
		return nil
	}, tel.stats.all()...)
	require.NoError(t, err)
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))

	got := make(map[string]map[string]int64) // metric → "group/reason" → value
	for _, m := range rm.ScopeMetrics[0].Metrics {
		data, ok := m.Data.(metricdata.Sum[int64])
		if !ok {
			continue
		}
		got[m.Name] = make(map[string]int64)
		for _, p := range data.DataPoints {
			group, _ := p.Attributes.Value("messaging.consumer.group.name")
			reason, _ := p.Attributes.Value(AttrDropReason)
			got[m.Name][group.AsString()+"/"+reason.AsString()] = p.Value
		}
	}
	require.Equal(t, map[string]int64{"audit/": 4, "billing/": 7}, got["eventbus.delivered.messages"])
	require.Equal(t, map[string]int64{"audit/": 1, "billing/": 0}, got["eventbus.delivery.active"])
	require.Equal(t, map[string]int64{"audit/": 4, "billing/": 0}, got["eventbus.queue.length"])
	require.Equal(t, map[string]int64{"audit/unsubscribed": 3, "audit/evicted": 5}, got["eventbus.dropped.messages"])
}
