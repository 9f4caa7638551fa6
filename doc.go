// Package eventbus is an embeddable, in-process event bus with typed topics.
//
// Publishers emit events on named topics; the bus stamps each one into an
// envelope (a UUIDv7 ID, the publish time, a per-topic sequence number,
// correlation and causation IDs, an ordering key and metadata) and fans it
// out to every subscriber's own bounded queue, drained by the subscriber's
// own worker goroutines through a middleware chain.
//
// A bus, a topic, a subscriber, an event and a graceful shutdown (the
// package's Example is a runnable version):
//
//	bus, err := eventbus.New()
//	if err != nil {
//		return err
//	}
//	sent, err := eventbus.NewTopic[MessageSent](bus, "message.sent")
//	if err != nil {
//		return err
//	}
//	_, err = sent.Subscribe("printer", func(ctx context.Context, e *eventbus.Event[MessageSent]) error {
//		fmt.Printf("#%d %s: %s\n", e.Sequence, e.Payload.From, e.Payload.Text)
//		return nil
//	})
//	if err != nil {
//		return err
//	}
//	// Publish queues the event for every subscriber and returns at once.
//	err = sent.Publish(ctx, MessageSent{ConversationID: "c-1", From: "alice", Text: "Hi!"})
//	if err != nil {
//		return err
//	}
//	// Close returns once every queued event has been handled.
//	return bus.Close(ctx)
//
// # Topics and events
//
// A Bus is a registry of topics, each bound to one payload type (NewTopic).
// Topic names are dot-separated tokens of ASCII letters, digits, '-' and
// '_' (see ValidateTopicName). Publishing allocates one *Event[T], shared by
// every subscriber: handlers must not modify it.
//
// When a handler publishes with the ctx it was given, the new event's
// causation ID is the handled event's ID and it inherits the handled event's
// correlation ID, so a chain of events can be traced.
//
// # Subscribers and queues
//
// Each Subscription has a bounded queue (DefaultQueueCapacity) and one or
// more workers (WithConcurrency), goroutines that run only while there are
// events to handle. With one worker, events are handled one at a time in
// the order they were accepted. With several, the queue is split
// into one lane per worker; events with the same ordering key (WithKey at
// publish, or WithKeyFunc on the subscription) share a lane and keep
// their order, while other events go to the shortest lane.
//
// When a queue is full, the subscription's Overflow policy applies: the
// publisher blocks until its ctx ends (OverflowBlock, the default), the new
// or the oldest event is dropped and counted (OverflowDropNewest,
// OverflowDropOldest), or Publish reports ErrQueueFull for that subscriber
// (OverflowFail). Other subscribers get the event in every case.
//
// # Pattern subscriptions
//
// Bus.SubscribePattern subscribes one handler to every topic whose name
// matches a pattern ("message.*": '*' matches one token; "chat.>": '>'
// matches one or more trailing tokens; see ValidatePattern), including
// topics created later. The handler gets each event as a Message, its
// payload boxed in an any, so the matching topics may carry different
// payload types. Each matching topic gets a member subscription of its
// own, so events keep their order per topic, as for a plain subscriber,
// and have no order across topics. Over a transport, the transport must
// implement PatternTransport, or SubscribePattern returns an error matching
// errors.ErrUnsupported.
//
// # Middleware
//
// Handlers run inside a chain of Middleware: the bus-level chain
// (WithMiddleware) around the subscription's own (WithSubscriptionMiddleware),
// the first middleware given outermost in each. Built in: Recover, Retry,
// Logging, Timeout and DeadLetter.
//
// # Failures
//
// An event is never lost silently. A handler chain that finally fails goes
// to the dead-letter topic when the DeadLetter middleware is in the chain,
// and to the bus's error handler (WithErrorHandler; by default an error
// record on the bus's logger, or on slog.Default() when it has none)
// otherwise. Events dropped by an overflow policy, by Unsubscribe or by a
// forced Close are counted in SubscriptionStats. A panicking handler never
// kills its worker.
//
// Subscription.Stats, Bus.Stats, Bus.SubscriptionStats and Bus.TopicStats
// return snapshots of the counters. Each snapshot prints as a one-line
// summary, and WriteStatsTable writes a table with a row per subscription.
//
// # Retention and replay
//
// A topic made WithRetention keeps its last events, bounded by a count and
// optionally an age. Topic.Retained and Topic.RetainedBetween read them back
// by sequence or by time while publishers run. A subscription made
// WithStart(FromOldest()), FromSequence or FromTime first gets the retained
// events from there, then every live one: the hand-off misses nothing and
// repeats nothing. Subscription.Live tells when it has caught up, and
// DeliveryInfo.Replayed tells a handler which events came from the
// retention. A start before the oldest retained event fails with
// ErrNotRetained rather than skipping.
//
// # Testing
//
// Bus.WaitIdle waits until the bus has nothing left to do, whole chains of
// events included, and says what is still busy when its ctx ends: tests
// wait with it rather than sleep. Package
// [github.com/busline/eventbus/bustest] builds on it: recorders of the
// events a topic or a pattern sees, causal traces, fault-injection
// middleware, and buses that work inside testing/synctest bubbles, where
// retry backoffs and timeouts pass in virtual time.
//
// # Across processes
//
// With WithTransport the same API runs over a message broker: Publish
// returns once the broker has stored the event, each subscriber name is a
// durable consumer group shared by the processes that subscribe with it,
// and delivery is at least once. The documentation of Transport says what
// else changes. [github.com/busline/eventbus/transport/memory.Broker] is a
// Transport inside one process; github.com/busline/eventbus/transport/nats
// is the NATS JetStream one, github.com/busline/eventbus/transport/kafka
// the Kafka one, github.com/busline/eventbus/transport/redis the Redis
// Streams one and github.com/busline/eventbus/transport/rabbitmq the
// RabbitMQ one.
//
// # Concurrency
//
// The bus never calls user code (handlers, filters, key functions, the
// error handler) while holding one of its locks. Publish, PublishSync,
// NewTopic, Subscribe, Unsubscribe and Drain may all be called from inside a
// handler.
//
// # Goroutines
//
// Publish runs on the caller's goroutine, and so do the filters and
// ordering key functions it calls. The bus starts goroutines of the kinds
// below; Close returns once all of them have ended, and Bus.Done is closed
// then:
//
//   - Workers. Each lane of a subscription (one, or WithConcurrency's
//     number) has at most one worker, started by the first event queued for
//     the lane. It runs the handler chain and the error handler, parks when
//     the lane is empty, and ends when the lane has stayed empty for some
//     tens of milliseconds, or when the subscription stops (Unsubscribe;
//     Drain, once the lane is empty) or the bus closes. Done is closed after
//     the subscription's last worker has ended; Close waits for every
//     worker.
//   - Idle checks. A lane with a worker has a timer whose function runs
//     briefly every few tens of milliseconds, to end a worker that stayed
//     parked; Close waits for the runs in progress, and later ones do
//     nothing.
//   - Replays. A subscription started in the past (WithStart) has one
//     goroutine that offers it the retained events, as a publisher would,
//     and calls its filter and ordering key function; it ends once the
//     subscription has caught up and gets live events, or when the
//     subscription stops or the bus closes. Done is closed after it has
//     ended; Close waits for it.
//   - With a transport, each subscription's broker consumer runs goroutines
//     of the transport's (see Transport), which call the filters and
//     ordering key functions; they end when the subscription stops or the
//     bus closes. When a subscription has stopped, one goroutine waits for
//     its consumer to end and then closes Done; Close waits for the Done of
//     every subscription.
//   - After a Close whose ctx ended while handlers that ignore their ctx
//     were still running, Close returns without them, and one goroutine
//     waits for all of the above to end and then closes Bus.Done. It ends
//     with the last of those handlers.
//
// # Shutdown
//
// Bus.Close stops new publishes, lets every queued event be handled, and
// returns once every goroutine of the bus has exited; if its ctx ends first,
// it cancels the handlers, discards the queued events, and returns at once a
// *CloseError saying what was not delivered and which handlers were still
// running; Bus.Done tells when those have returned.
package eventbus
