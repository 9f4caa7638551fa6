package eventbusotel

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Sentinel errors. Every error returned by this package that has one of
// these causes matches it with [errors.Is].
var (
	// ErrInvalidOption is wrapped by the error New returns for a nil or
	// invalid option.
	ErrInvalidOption = errors.New("eventbusotel: invalid option")

	// ErrAlreadyObserved is returned by ObserveStats for a bus that the
	// same Telemetry already observes.
	ErrAlreadyObserved = errors.New("eventbusotel: bus already observed")
)

// DefaultSystem is the messaging.system attribute of every span and metric
// unless WithSystem sets another.
const DefaultSystem = "eventbus"

// Option configures a Telemetry. New validates the options; an invalid one
// makes it return an error matching [ErrInvalidOption].
type Option func(*config) error

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagator     propagation.TextMapPropagator
	system         string
	linksOnly      bool
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		propagator: propagation.TraceContext{},
		system:     DefaultSystem,
	}
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil Option (option %d)", ErrInvalidOption, i)
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	if c.tracerProvider == nil {
		c.tracerProvider = otel.GetTracerProvider()
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	return c, nil
}

// WithTracerProvider sets the provider of the tracer that makes the spans.
// The default is the global one, otel.GetTracerProvider(), looked up when
// New is called (the global provider delegates to the one set later with
// otel.SetTracerProvider).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) error {
		if tp == nil {
			return fmt.Errorf("%w: nil TracerProvider", ErrInvalidOption)
		}
		c.tracerProvider = tp
		return nil
	}
}

// WithMeterProvider sets the provider of the meter that makes the metric
// instruments. The default is the global one, otel.GetMeterProvider(),
// looked up when New is called.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) error {
		if mp == nil {
			return fmt.Errorf("%w: nil MeterProvider", ErrInvalidOption)
		}
		c.meterProvider = mp
		return nil
	}
}

// WithPropagator sets the propagator that writes the publish span's context
// into the event's envelope and reads it back on the consumer side. The
// envelope carries a trace context of two strings (Envelope.TraceContext),
// which the propagator sees as the keys "traceparent" and "tracestate"; other keys
// (baggage, say) are not carried. The default is
// propagation.TraceContext{}, the W3C Trace Context, whatever the global
// propagator is (whose own default propagates nothing); pass
// otel.GetTextMapPropagator() to use the global one.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) error {
		if p == nil {
			return fmt.Errorf("%w: nil TextMapPropagator", ErrInvalidOption)
		}
		c.propagator = p
		return nil
	}
}

// WithSystem sets the messaging.system attribute of every span and metric
// point ([DefaultSystem], "eventbus", by default): the broker's name, such
// as "kafka" or "rabbitmq", identifies the broker of the bus's transport
// to tools that know it. The name must not be empty.
func WithSystem(name string) Option {
	return func(c *config) error {
		if name == "" {
			return fmt.Errorf("%w: empty messaging system name", ErrInvalidOption)
		}
		c.system = name
		return nil
	}
}

// WithLinksOnly makes every consumer span the root of a trace of its own,
// linked to the publish span of its event, instead of that span's child.
// Use it when one event fans out to so many subscribers, or its handling
// comes so late, that a single trace from publisher to handlers would be
// unwieldy; tools that follow span links still lead from one to the other.
func WithLinksOnly() Option {
	return func(c *config) error {
		c.linksOnly = true
		return nil
	}
}
