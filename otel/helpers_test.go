package eventbusotel_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	eventbusotel "github.com/busline/eventbus/otel"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// MessageSent and AIReplyGenerated are the chat example's events.
type MessageSent struct{ ConversationID, From, Text string }

type AIReplyGenerated struct{ ConversationID, Text string }

// process is the telemetry of one process: its own tracer and meter
// providers, recording in memory, and the Telemetry made on them.
type process struct {
	spans  *tracetest.SpanRecorder
	tracer trace.Tracer
	reader *sdkmetric.ManualReader
	tel    *eventbusotel.Telemetry
}

// newProcess returns a process whose Telemetry has opts besides the
// providers; the providers shut down when the test ends.
func newProcess(t *testing.T, opts ...eventbusotel.Option) *process {
	t.Helper()
	p := &process{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(p.reader))
	t.Cleanup(func() {
		require.NoError(t, tp.Shutdown(context.Background()))
		require.NoError(t, mp.Shutdown(context.Background()))
	})
	p.tracer = tp.Tracer("test")
	tel, err := eventbusotel.New(append([]eventbusotel.Option{
		eventbusotel.WithTracerProvider(tp), eventbusotel.WithMeterProvider(mp),
	}, opts...)...)
	require.NoError(t, err)
	p.tel = tel
	return p
}

// newBus returns a bus of p with its publish hook and its middleware
// outermost, followed by mws, and opts; the bus is closed when the test
// ends.
func (p *process) newBus(t *testing.T, mws []eventbus.Middleware, opts ...eventbus.Option) *eventbus.Bus {
	t.Helper()
	return bustest.NewBus(t, append([]eventbus.Option{
		eventbus.WithPublishHook(p.tel.PublishHook()),
		eventbus.WithMiddleware(append([]eventbus.Middleware{p.tel.Middleware()}, mws...)...),
	}, opts...)...)
}

// holdFirst subscribes name to topic with opts, and a handler that holds
// its first event until release is called; it publishes that event and
// returns once the handler has it, so that the subscription's queue is
// empty and its worker busy.
func holdFirst(t *testing.T, topic *eventbus.Topic[MessageSent], name string, opts ...eventbus.SubscribeOption) (release func()) {
	t.Helper()
	held := make(chan struct{})
	started := make(chan struct{})
	first := true
	_, err := topic.Subscribe(name, func(context.Context, *eventbus.Event[MessageSent]) error {
		if first {
			first = false
			close(started)
			<-held
		}
		return nil
	}, opts...)
	require.NoError(t, err)
	require.NoError(t, topic.Publish(t.Context(), MessageSent{Text: "held"}))
	<-started
	return func() { close(held) }
}

// observe observes b's stats until the test ends.
func (p *process) observe(t *testing.T, b *eventbus.Bus) {
	t.Helper()
	unregister, err := p.tel.ObserveStats(b)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, unregister()) })
}

// span returns the one ended span of p named name; it fails the test if
// there is not exactly one.
func (p *process) span(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	spans := p.named(name)
	require.Len(t, spans, 1, "spans named %q among %s", name, spanNames(p.spans.Ended()))
	return spans[0]
}

// named returns the ended spans of p named name, in the order they ended.
func (p *process) named(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range p.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func spanNames(spans []sdktrace.ReadOnlySpan) string {
	names := make([]string, len(spans))
	for i, s := range spans {
		names[i] = s.Name()
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// attrs returns the attributes of s as a map.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := make(map[attribute.Key]attribute.Value)
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

// requireAttrs fails the test unless s has every attribute of want.
func requireAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want ...attribute.KeyValue) {
	t.Helper()
	got := attrs(s)
	for _, kv := range want {
		v, ok := got[kv.Key]
		require.True(t, ok, "span %q has no attribute %s; it has %v", s.Name(), kv.Key, s.Attributes())
		require.Equal(t, kv.Value.Emit(), v.Emit(), "span %q attribute %s", s.Name(), kv.Key)
	}
}

// requireChildOf fails the test unless child's parent is parent.
func requireChildOf(t *testing.T, child, parent sdktrace.ReadOnlySpan) {
	t.Helper()
	require.Equal(t, parent.SpanContext().TraceID(), child.SpanContext().TraceID(), "%q and %q are not in one trace", child.Name(), parent.Name())
	require.Equal(t, parent.SpanContext().SpanID(), child.Parent().SpanID(), "%q is not a child of %q", child.Name(), parent.Name())
}

// requireLinkedTo fails the test unless s links to target.
func requireLinkedTo(t *testing.T, s, target sdktrace.ReadOnlySpan) {
	t.Helper()
	for _, l := range s.Links() {
		if l.SpanContext.TraceID() == target.SpanContext().TraceID() && l.SpanContext.SpanID() == target.SpanContext().SpanID() {
			return
		}
	}
	t.Fatalf("%q has no link to %q; links: %v", s.Name(), target.Name(), s.Links())
}

// metrics collects p's metrics.
func (p *process) metrics(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, p.reader.Collect(context.Background(), &rm))
	return rm
}

// find returns the metric named name, and false if rm has none.
func find(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// matches reports whether set has every attribute of want.
func matches(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := set.Value(kv.Key)
		if !ok || v.Emit() != kv.Value.Emit() {
			return false
		}
	}
	return true
}

// sum returns the sum of the points of the int64 sum metric named name
// whose attributes include want, and fails the test if the metric is
// missing or of another type.
func sum(t *testing.T, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := find(rm, name)
	require.True(t, ok, "no metric %s", name)
	data, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "metric %s is a %T, not an int64 sum", name, m.Data)
	var n int64
	for _, p := range data.DataPoints {
		if matches(p.Attributes, want) {
			n += p.Value
		}
	}
	return n
}

// histogram returns the count and the sum of the points of the float64
// histogram named name whose attributes include want.
func histogram(t *testing.T, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) (count uint64, total float64) {
	t.Helper()
	m, ok := find(rm, name)
	require.True(t, ok, "no metric %s", name)
	data, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "metric %s is a %T, not a float64 histogram", name, m.Data)
	for _, p := range data.DataPoints {
		if matches(p.Attributes, want) {
			count += p.Count
			total += p.Sum
		}
	}
	return count, total
}

// pointSets returns the attribute sets of the points of the metric named
// name, each as "key=value,..." text, sorted.
func pointSets(rm metricdata.ResourceMetrics, name string) []string {
	m, ok := find(rm, name)
	if !ok {
		return nil
	}
	var sets []attribute.Set
	switch data := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range data.DataPoints {
			sets = append(sets, p.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, p := range data.DataPoints {
			sets = append(sets, p.Attributes)
		}
	}
	out := make([]string, len(sets))
	for i, s := range sets {
		out[i] = s.Encoded(attribute.DefaultEncoder())
	}
	slices.Sort(out)
	return out
}
