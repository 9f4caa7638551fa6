package eventbusotel

import (
	"fmt"
	"sync"

	"github.com/busline/eventbus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracer and the meter: the
// module's import path.
const ScopeName = "github.com/busline/eventbus/otel"

// The messaging.operation.name of the spans and metric points.
const (
	operationPublish = "publish"
	operationProcess = "process"
)

// Attributes of this package's own, in the eventbus namespace.
const (
	// AttrDeliveryAttempt (int) is, on a consumer span, the number of the
	// last handler call the span covers: 1, or more after retries by the
	// Retry middleware (eventbus.DeliveryInfo.Attempt).
	AttrDeliveryAttempt = attribute.Key("eventbus.delivery.attempt")
	// AttrDeliveryCount (int) is, on a consumer span, how many times the
	// broker of the bus's transport has delivered the event to this
	// subscriber, this delivery included; always 1 without a transport
	// (eventbus.DeliveryInfo.Deliveries).
	AttrDeliveryCount = attribute.Key("eventbus.delivery.count")
	// AttrDeliveryReplayed (bool) is set to true on the consumer span of an
	// event replayed from the topic's retained events
	// (eventbus.DeliveryInfo.Replayed).
	AttrDeliveryReplayed = attribute.Key("eventbus.delivery.replayed")
	// AttrDeliveryDeadLettered (bool) is set to true on a consumer span
	// whose event the DeadLetter middleware published to the dead-letter
	// topic.
	AttrDeliveryDeadLettered = attribute.Key("eventbus.delivery.dead_lettered")
	// AttrMessageSequence (int) is the event's Envelope.Sequence.
	AttrMessageSequence = attribute.Key("eventbus.message.sequence")
	// AttrMessageCausationID (string) is the event's Envelope.CausationID,
	// set when the event was published by a handler.
	AttrMessageCausationID = attribute.Key("eventbus.message.causation_id")
	// AttrDropReason (string) says, on eventbus.dropped.messages, why the
	// events were dropped: queue_full, evicted, rejected, canceled,
	// unsubscribed, shutdown or expired (the fields of
	// eventbus.DropStats).
	AttrDropReason = attribute.Key("eventbus.drop.reason")
)

// ErrorTypeDeadLettered is the error.type of a delivery whose handler
// chain failed and whose event the DeadLetter middleware then published to
// the dead-letter topic (the chain reports success to the bus, the span
// and the metrics report the failure).
const ErrorTypeDeadLettered = "dead_lettered"

// ErrorTypePanic is the error.type of a delivery whose handler panicked
// with no Recover middleware inside the telemetry's to turn the panic into
// an error.
const ErrorTypePanic = "panic"

// Telemetry makes the spans and metrics of the buses it is plugged into
// (see the package documentation). Make one with New; it is safe for
// concurrent use, and one Telemetry may serve several buses.
type Telemetry struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	meter      metric.Meter
	system     attribute.KeyValue
	linksOnly  bool

	// Synchronous instruments, recorded by the hook and the middleware.
	sent            metric.Int64Counter
	publishDuration metric.Float64Histogram
	consumed        metric.Int64Counter
	processDuration metric.Float64Histogram
	latency         metric.Float64Histogram

	// Asynchronous instruments, observed from the buses' stats.
	stats statsInstruments

	// sets holds the attribute sets of the metric points of successful
	// operations by setKey, made once each.
	sets sync.Map

	mu       sync.Mutex
	observed map[*eventbus.Bus]bool
}

// setKey identifies the attribute set of the metric points of the
// successful operations (publish or process) on a topic by a subscriber
// (empty for a publish).
type setKey struct{ operation, topic, subscriber string }

// metricSet returns the attribute set of key, made of attrs the first time.
func (t *Telemetry) metricSet(key setKey, attrs []attribute.KeyValue) attribute.Set {
	if set, ok := t.sets.Load(key); ok {
		return set.(attribute.Set)
	}
	set, _ := t.sets.LoadOrStore(key, attribute.NewSet(attrs...))
	return set.(attribute.Set)
}

// durationBuckets are the histogram bucket boundaries, in seconds, that
// the messaging semantic conventions advise for durations.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// latencyBuckets extend durationBuckets to minutes, for events that wait
// in a queue or a broker.
var latencyBuckets = append(append([]float64(nil), durationBuckets...), 30, 60, 300)

// New returns a Telemetry configured by opts. It fails with an error
// matching ErrInvalidOption for a nil or invalid option, or with the
// meter's error if an instrument cannot be made.
func New(opts ...Option) (*Telemetry, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	t := &Telemetry{
		tracer:     cfg.tracerProvider.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL)),
		propagator: cfg.propagator,
		meter:      cfg.meterProvider.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL)),
		system:     semconv.MessagingSystemKey.String(cfg.system),
		linksOnly:  cfg.linksOnly,
		observed:   make(map[*eventbus.Bus]bool),
	}
	if err := t.makeInstruments(); err != nil {
		return nil, err
	}
	return t, nil
}

// makeInstruments makes the meter's instruments.
func (t *Telemetry) makeInstruments() error {
	m := t.meter
	err := makeEach([]instrument[metric.Int64Counter]{
		{&t.sent, "messaging.client.sent.messages", "{message}",
			"Number of events published, failed publishes included (with error.type).", nil},
		{&t.consumed, "messaging.client.consumed.messages", "{message}",
			"Number of deliveries of events to a subscriber's handler chain, failed ones included (with error.type).", nil},
	}, func(in instrument[metric.Int64Counter]) (metric.Int64Counter, error) {
		return m.Int64Counter(in.name, metric.WithUnit(in.unit), metric.WithDescription(in.description))
	})
	if err != nil {
		return err
	}
	err = makeEach([]instrument[metric.Float64Histogram]{
		{&t.publishDuration, "messaging.client.operation.duration", "s",
			"Duration of publishes, until the event is queued for every subscriber or stored by the broker.", durationBuckets},
		{&t.processDuration, "messaging.process.duration", "s",
			"Duration of the handling of a delivery by a subscriber's handler chain.", durationBuckets},
		{&t.latency, "eventbus.delivery.latency", "s",
			"Time from the publish of an event (its Envelope.Time) to the start of its handling by a subscriber.", latencyBuckets},
	}, func(in instrument[metric.Float64Histogram]) (metric.Float64Histogram, error) {
		return m.Float64Histogram(in.name, metric.WithUnit(in.unit), metric.WithDescription(in.description),
			metric.WithExplicitBucketBoundaries(in.buckets...))
	})
	if err != nil {
		return err
	}
	return t.stats.make(m)
}

// instrument describes an instrument to make: where to keep it, its name,
// unit, description and, for a histogram, its bucket boundaries.
type instrument[I any] struct {
	dst         *I
	name, unit  string
	description string
	buckets     []float64
}

// makeEach makes every instrument of list with newInstrument, and stores
// it.
func makeEach[I any](list []instrument[I], newInstrument func(instrument[I]) (I, error)) error {
	for _, in := range list {
		made, err := newInstrument(in)
		if err != nil {
			return fmt.Errorf("eventbusotel: make instrument %s: %w", in.name, err)
		}
		*in.dst = made
	}
	return nil
}

// errorType returns the error.type attribute of err: the type of err, or,
// for errors joined with errors.Join (such as Publish's, one per refusing
// subscriber), of the first of them, as semconv.ErrorType names types (it
// looks through fmt.Errorf's wrapping, and uses an ErrorType method when
// there is one).
func errorType(err error) attribute.KeyValue {
	for {
		joined, ok := err.(interface{ Unwrap() []error })
		if !ok {
			break
		}
		errs := joined.Unwrap()
		if len(errs) == 0 || errs[0] == nil {
			break
		}
		err = errs[0]
	}
	return semconv.ErrorType(err)
}
