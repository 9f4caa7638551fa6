// Package eventbusotel traces and measures an eventbus.Bus with
// OpenTelemetry, following the semantic conventions for messaging: a
// PRODUCER span per publish, a CONSUMER span per handled delivery, one
// trace following an event and the events its handlers publish, across
// processes when the bus has a transport, and metrics of publishes,
// deliveries, failures, retries, dead letters, drops, queues, handler
// durations and publish-to-handle latencies.
//
// It is a module of its own, github.com/busline/eventbus/otel, so that
// the core module does not depend on OpenTelemetry.
//
// # Plugging it in
//
//	tel, err := eventbusotel.New() // the global providers, or WithTracerProvider, WithMeterProvider
//	if err != nil { ... }
//	bus, err := eventbus.New(
//		eventbus.WithPublishHook(tel.PublishHook()),
//		eventbus.WithMiddleware(
//			tel.Middleware(), // first: outermost
//			eventbus.DeadLetter(),
//			eventbus.Retry(eventbus.RetryPolicy{}),
//			eventbus.Recover(),
//		),
//	)
//	if err != nil { ... }
//	unregister, err := tel.ObserveStats(bus) // the stats counters, as asynchronous instruments
//
// Give the bus both the hook and the middleware: the hook makes the
// producer spans and puts their context into the events, the middleware
// makes the consumer spans from it. A process that only publishes needs
// the hook, one that only consumes the middleware, but a handler's
// publishes are children of its consumer span only with both.
//
// # Traces
//
// The publish hook starts a span "publish <topic>" (kind PRODUCER,
// messaging.operation.type "send", messaging.operation.name "publish") as
// a child of the publisher's ctx, and writes its context into the event's
// trace context (Envelope.SetTraceContext) with the propagator (W3C Trace
// Context by default, see WithPropagator). The bus carries them with the
// event: in the process, in the shared *Event; across a broker, in the
// CloudEvents document's distributed tracing extension attributes
// traceparent and tracestate. The publish span is therefore the event's
// creation context, in the words of the conventions.
//
// The middleware starts a span "process <topic>" (kind CONSUMER,
// messaging.operation.type "process") for each delivery. The conventions
// ask that a process span link to the creation context of the message it
// processes; they leave the parent to the instrumentation. Delivery is
// push-based here (the bus calls the handler), so the handler's ctx has no
// span of its own, and the consumer span is made the creation context's
// child as well as linked to it: the trace then reads, in one piece and
// across processes, publish message.sent → process message.sent →
// publish ai.reply.generated → process ai.reply.generated. Each
// subscriber's span is a child of the one publish span, and a redelivery
// after a failure is a second child, with a higher
// eventbus.delivery.count. When the handler's ctx already carries a span,
// that span is the parent and the creation context only a link; with
// WithLinksOnly every consumer span starts a trace of its own, linked to
// its creation context, for events with very many subscribers or handled
// long after their publish.
//
// The handler's ctx is the consumer span's ctx, so whatever the handler
// publishes, or traces itself, is part of the span.
//
// # Where the middleware goes
//
// Put tel.Middleware() first in eventbus.WithMiddleware, outermost. Its
// span then covers the whole handling of a delivery, as the conventions'
// process span does: every attempt of the Retry middleware (the span's
// eventbus.delivery.attempt is the last attempt's number), the Timeout,
// the Idempotent middleware's skips, and the DeadLetter middleware, whose
// dead-letter publish becomes the span's child and whose swallowed failure
// still gives the span an error status (error.type "dead_lettered"), seen
// through the publish hook. The latency is measured once per delivery, and
// the duration is the delivery's, backoffs included. Placed inside Retry
// instead, it makes one span per attempt, each with its own attempt
// number, the failed ones with an error status, and counts and measures
// each attempt as a delivery; that suits those who want to see each
// attempt and accept that a failure the chain later recovers from shows as
// an error. Over a transport each delivery by the broker
// gets its own span either way.
//
// # Metrics
//
// Recorded by the hook and the middleware, with messaging.system,
// messaging.operation.name, messaging.destination.name (the topic),
// messaging.consumer.group.name (the subscriber) on the consumer side, and
// error.type on failures (the Go type of the error, as semconv.ErrorType
// gives it, or "dead_lettered", or "panic"):
//
//	messaging.client.sent.messages       counter    {message}  publishes
//	messaging.client.operation.duration  histogram  s          duration of a publish (operation type send)
//	messaging.client.consumed.messages   counter    {message}  deliveries to a handler chain
//	messaging.process.duration           histogram  s          duration of a delivery's handling
//	eventbus.delivery.latency            histogram  s          start of handling minus the event's publish Time
//
// The latency is not recorded for events replayed from a topic's
// retention (eventbus.DeliveryInfo.Replayed); across processes it includes
// the difference between their clocks (a negative latency is recorded as
// 0). Over a transport the broker's replays (WithStart) look like live
// deliveries and are recorded too. The histograms use the bucket
// boundaries the conventions advise for messaging durations, from 5ms to
// 10s, and the latency's go on to 5 minutes.
//
// ObserveStats adds the counters that only the bus's stats know
// (delivered, failed, retried, dead-lettered, dropped by reason, queue
// length, events in flight) as asynchronous instruments, whose callback
// reads bus.SubscriptionStats() at each collection; see ObserveStats for
// their names.
package eventbusotel
