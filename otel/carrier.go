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

// envelopeCarrier is a propagation.TextMapCarrier over an envelope's trace
// context (Envelope.TraceContext and SetTraceContext); it ignores every
// other key.
type envelopeCarrier struct {
	env *eventbus.Envelope
}

func (c envelopeCarrier) Get(key string) string {
	parent, state := c.env.TraceContext()
	switch key {
	case traceParentKey:
		return parent
	case traceStateKey:
		return state
	}
	return ""
}

func (c envelopeCarrier) Set(key, value string) {
	parent, state := c.env.TraceContext()
	switch key {
	case traceParentKey:
		c.env.SetTraceContext(value, state)
	case traceStateKey:
		c.env.SetTraceContext(parent, value)
	}
}

func (c envelopeCarrier) Keys() []string {
	parent, state := c.env.TraceContext()
	var keys []string
	if parent != "" {
		keys = append(keys, traceParentKey)
	}
	if state != "" {
		keys = append(keys, traceStateKey)
	}
	return keys
}
