package eventbusotel

import (
	"github.com/busline/eventbus"
)

// The keys under which a propagator finds the envelope's trace context:
// those of the W3C Trace Context, and of the CloudEvents distributed
// tracing extension that carries them across brokers.
const (
	traceParentKey = "traceparent"
	traceStateKey  = "tracestate"
)

// envelopeCarrier is a propagation.TextMapCarrier over an envelope's
// TraceParent and TraceState; it ignores every other key.
type envelopeCarrier struct {
	env *eventbus.Envelope
}

func (c envelopeCarrier) Get(key string) string {
	switch key {
	case traceParentKey:
		return c.env.TraceParent
	case traceStateKey:
		return c.env.TraceState
	}
	return ""
}

func (c envelopeCarrier) Set(key, value string) {
	switch key {
	case traceParentKey:
		c.env.TraceParent = value
	case traceStateKey:
		c.env.TraceState = value
	}
}

func (c envelopeCarrier) Keys() []string {
	var keys []string
	if c.env.TraceParent != "" {
		keys = append(keys, traceParentKey)
	}
	if c.env.TraceState != "" {
		keys = append(keys, traceStateKey)
	}
	return keys
}
