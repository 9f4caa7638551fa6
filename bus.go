package eventbus

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/busline/eventbus/internal/delivery"
)

// Bus is an in-process event bus: a registry of named, typed topics whose
// events are fanned out to every subscriber's own bounded queue.
//
// A Bus is safe for use by many goroutines at once, including from inside
// handlers. Make one with New and end it with Close; there is no default
// bus.
type Bus struct {
	logger     *slog.Logger
	middleware []Middleware
	onError    func(ctx context.Context, err *DeliveryError)
	ids        *idGenerator
	// transport, when set, carries every event through a broker; redelivery
	// and source then say how failures are redelivered and where events
	// come from.
	transport  Transport
	redelivery RetryPolicy
	source     string
	// publishHooks observe every publish (see WithPublishHook).
	publishHooks []PublishHook

	mu            sync.Mutex
	topics        map[string]*topicCore
	subscribers   map[*Subscription]struct{} // not yet retired, for Stats and Close
	retired       SubscriptionStats          // totals of retired subscribers
	closeStarted  bool
	closeBegun    chan struct{} // closed when Close begins
	closeFinished chan struct{}
	closeErr      error
	// done is closed once every goroutine of the bus has ended after Close.
	done chan struct{}

	// closing rejects publishes from outside the bus's handlers; stopped
	// rejects every publish.
	closing atomic.Bool
	stopped atomic.Bool
	// publishesStarted and publishesFinished count publishes; their
	// difference is the number in progress. Close waits for none to be in
	// progress and every lane to be idle, seeing no new publish meanwhile.
	publishesStarted  atomic.Uint64
	publishesFinished atomic.Uint64
	// idle wakes Close and WaitIdle, while they wait for the bus to go
	// idle, whenever a publish finishes, a worker parks or exits, or a
	// replay ends, for them to look again.
	idle idleSignal
	// workers owns the goroutines of every subscription's lanes.
	workers *delivery.Workers
	// patterns holds the live pattern subscriptions.
	patterns patternRegistry
	// consumerStarts counts the Subscribe and SubscribePattern calls of a
	// bus with a transport that are starting a broker consumer, so that
	// Close waits for a consumer that started after it had begun, which
	// the call stops and waits for itself.
	consumerStarts sync.WaitGroup
}

// New returns a new bus configured by opts.
func New(opts ...Option) (*Bus, error) {
	var cfg busConfig
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalidOption)
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	logger := cfg.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := &Bus{
		logger:        logger,
		middleware:    slices.Clip(cfg.middleware),
		onError:       cfg.onError,
		ids:           newIDGenerator(),
		transport:     cfg.transport,
		source:        cmp.Or(cfg.source, DefaultSource),
		publishHooks:  slices.Clip(cfg.publishHooks),
		topics:        make(map[string]*topicCore),
		subscribers:   make(map[*Subscription]struct{}),
		closeBegun:    make(chan struct{}),
		closeFinished: make(chan struct{}),
		done:          make(chan struct{}),
	}
	b.workers = delivery.NewWorkers(b.idle.notify)
	if cfg.redelivery != nil {
		b.redelivery = *cfg.redelivery
	} else {
		b.redelivery, _ = RetryPolicy{MaxAttempts: DefaultMaxDeliveries}.withDefaults()
	}
	if b.onError == nil {
		// Final failures are the one thing the bus never keeps quiet about:
		// without a logger of its own it reports them to slog's default.
		failures := cfg.logger
		if failures == nil {
			failures = slog.Default()
		}
		b.onError = func(ctx context.Context, err *DeliveryError) { logFailure(ctx, failures, err) }
	}
	return b, nil
}

// logFailure is the default error handler: one error record per final
// failure, with where the handler panicked if it did (see panicAttrs).
func logFailure(ctx context.Context, logger *slog.Logger, err *DeliveryError) {
	attrs := append([]slog.Attr{
		slog.String("topic", err.Topic),
		slog.String("subscriber", err.Subscriber),
		slog.String("event_id", err.EventID.String()),
		slog.Int("attempts", err.Attempts),
		slog.String("error", err.Err.Error()),
	}, panicAttrs(err.Err)...)
	logger.LogAttrs(ctx, slog.LevelError, "eventbus: delivery failed", attrs...)
}

// reportFailure hands a final failure to the error handler, shielding the
// worker from a panicking handler.
func (b *Bus) reportFailure(ctx context.Context, err *DeliveryError) {
	defer func() {
		if r := recover(); r != nil {
			b.logger.LogAttrs(ctx, slog.LevelError, "eventbus: error handler panicked",
				slog.Any("panic", r), slog.String("failure", err.Error()))
		}
	}()
	b.onError(ctx, err)
}

// refuses reports whether b turns away a publish or a new topic: every
// one once it has stopped, and while it closes all but those of its own
// handlers (inside, the bus's own work such as dead letters).
func (b *Bus) refuses(inside bool) bool {
	return b.stopped.Load() || (b.closing.Load() && !inside)
}

// admit begins a publish with ctx, which the caller must end with
// publishEnd whatever admit returns, and returns the delivery whose handler
// publishes (nil: none of b's), or ErrClosed when b refuses the publish.
func (b *Bus) admit(ctx context.Context) (*deliveryContext, error) {
	parent := b.publisher(ctx)
	b.publishBegin()
	if b.refuses(parent != nil) {
		return nil, ErrClosed
	}
	return parent, nil
}

// publishBegin registers a publish in progress; publishEnd ends it.
func (b *Bus) publishBegin() { b.publishesStarted.Add(1) }

func (b *Bus) publishEnd() {
	b.publishesFinished.Add(1)
	b.idle.notify()
}

// quiescent reports whether no publish is in progress and no lane has work,
// with no publish starting while it looked: then none can start but from a
// handler, and no handler runs.
func (b *Bus) quiescent() bool { return b.quiescentWith(nil) }

// quiescentWith is quiescent, with busy, if not nil, saying of each
// subscription whether it has work besides its lanes'.
func (b *Bus) quiescentWith(busy func(*Subscription) bool) bool {
	started := b.publishesStarted.Load()
	if b.publishesFinished.Load() != started {
		return false
	}
	for _, s := range b.liveSubscriptions() {
		if s.queue.Busy() || (busy != nil && busy(s)) {
			return false
		}
	}
	return b.publishesStarted.Load() == started
}

// Stats returns a snapshot of the bus's counters.
func (b *Bus) Stats() BusStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := BusStats{Topics: len(b.topics), Subscriptions: len(b.subscribers), Totals: b.retired}
	for _, t := range b.topics {
		st.Published += t.published() // one sequence number per publish
		st.NoSubscribers += t.noSubscribers.Load()
	}
	for s := range b.subscribers {
		st.Totals.add(s.stats())
	}
	return st
}

// SubscriptionStats returns a snapshot of every live subscription's
// counters, ordered by topic and then subscriber name.
func (b *Bus) SubscriptionStats() []SubscriptionStats {
	b.mu.Lock()
	out := make([]SubscriptionStats, 0, len(b.subscribers))
	for s := range b.subscribers {
		out = append(out, s.stats())
	}
	b.mu.Unlock()
	slices.SortFunc(out, func(a, b SubscriptionStats) int {
		if a.Topic != b.Topic {
			return strings.Compare(a.Topic, b.Topic)
		}
		return strings.Compare(a.Subscriber, b.Subscriber)
	})
	return out
}

// TopicStats returns a snapshot of every topic's counters, ordered by name.
func (b *Bus) TopicStats() []TopicStats {
	b.mu.Lock()
	topics := make([]*topicCore, 0, len(b.topics))
	for _, t := range b.topics {
		topics = append(topics, t)
	}
	b.mu.Unlock()
	out := make([]TopicStats, 0, len(topics))
	for _, t := range topics {
		out = append(out, t.stats())
	}
	slices.SortFunc(out, func(a, b TopicStats) int { return strings.Compare(a.Topic, b.Topic) })
	return out
}

// Close shuts the bus down. Publishes from outside the bus fail with
// ErrClosed from the moment Close is called; events that handlers publish
// (with the ctx they were given) while the bus drains are still accepted, so
// chains of events complete. Close returns once every queued event has been
// handled, every handler has returned and every goroutine of the bus has
// exited.
//
// If ctx ends first, Close cancels the handlers' contexts, discards the
// events still queued, and returns at once a *CloseError that counts the
// discarded events per subscriber, names the handlers still running, and
// unwraps to ctx's error; it also logs them once, at warn level. Close does
// not wait for those handlers: Done is closed once they have returned, and
// the bus's Stats are final then. A handler that returns an error matching
// context.Canceled once its ctx is cancelled had its event dropped at
// shutdown: it is counted in DropStats.Shutdown, not as a failure, and not
// reported to the error handler.
//
// Close is idempotent and safe to call concurrently: later calls wait for
// the first to finish (or for their own ctx) and return its result.
func (b *Bus) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closeStarted {
		b.mu.Unlock()
		select {
		case <-b.closeFinished:
			return b.closeErr
		default:
		}
		select {
		case <-b.closeFinished:
			return b.closeErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b.closeStarted = true
	b.closing.Store(true)
	close(b.closeBegun)
	b.mu.Unlock()

	err := b.shutdown(ctx)
	b.closeErr = err
	close(b.closeFinished)
	return err
}

func (b *Bus) shutdown(ctx context.Context) error {
	b.patterns.busClosing()
	if b.transport != nil {
		// The broker keeps what was not fetched yet for the next consumer:
		// drain only what reached this process.
		for _, s := range b.liveSubscriptions() {
			s.stopConsumer()
		}
	}
	forced := false
	b.idle.enter()
	for !forced {
		changed := b.idle.changed()
		if b.quiescent() {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			forced = true
		}
	}
	b.idle.leave()
	b.stopped.Store(true)

	b.mu.Lock()
	subs := make([]*Subscription, 0, len(b.subscribers))
	for s := range b.subscribers {
		subs = append(subs, s)
	}
	topics := make([]*topicCore, 0, len(b.topics))
	for _, t := range b.topics {
		topics = append(topics, t)
	}
	b.mu.Unlock()
	for _, t := range topics {
		t.detachAll()
	}
	for _, s := range subs {
		s.detach() // removed from its topic already: only marks it
	}

	var undelivered map[string]int
	for _, s := range subs {
		if !forced {
			s.finish()
			continue
		}
		if n := s.stop(delivery.Shutdown); n > 0 {
			if undelivered == nil {
				undelivered = make(map[string]int)
			}
			undelivered[s.topic.name+"/"+s.name] += n
		}
	}
	if !forced {
		b.waitGoroutines(subs)
		close(b.done)
		return nil
	}

	// The handlers' ctx is cancelled: Close does not wait for those that
	// ignore it, and Done tells when they have returned.
	var running []RunningHandler
	for _, s := range subs {
		running = append(running, s.runningHandlers()...)
	}
	if len(running) == 0 {
		b.waitGoroutines(subs)
		close(b.done)
	} else {
		slices.SortFunc(running, func(a, b RunningHandler) int {
			return cmp.Or(strings.Compare(a.Topic, b.Topic), strings.Compare(a.Subscriber, b.Subscriber))
		})
		go func() {
			b.waitGoroutines(subs)
			close(b.done)
		}()
	}
	still := make([]string, len(running))
	for i, r := range running {
		still[i] = r.String()
	}
	b.logger.LogAttrs(context.Background(), slog.LevelWarn, "eventbus: close ended before every event was delivered",
		slog.Any("undelivered", undelivered), slog.Any("running", still))
	return &CloseError{Undelivered: undelivered, Running: running, Err: ctx.Err()}
}

// waitGoroutines waits until every worker, idle check and broker consumer
// of the bus has ended, once subs, every subscription left, have stopped.
func (b *Bus) waitGoroutines(subs []*Subscription) {
	b.consumerStarts.Wait()
	b.workers.Wait()
	b.patterns.waitConsumers()
	for _, s := range subs {
		if s.consumer.Load() != nil {
			<-s.done // the broker's consumer may outlive the lanes briefly
		}
	}
}

// Transport returns the bus's Transport (WithTransport), or nil for a bus
// that runs in process only.
func (b *Bus) Transport() Transport { return b.transport }

// Done returns a channel that is closed once Close has shut the bus down
// and every goroutine the bus started has ended: right before Close returns,
// or, when Close's ctx ended while handlers that ignore their ctx were
// still running, once they have returned.
func (b *Bus) Done() <-chan struct{} { return b.done }

// liveSubscriptions returns the subscriptions not yet retired, so that
// they can be worked on without the bus's lock.
func (b *Bus) liveSubscriptions() []*Subscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	subs := make([]*Subscription, 0, len(b.subscribers))
	for s := range b.subscribers {
		subs = append(subs, s)
	}
	return subs
}

// beginConsumerStart counts a subscription that will start a broker
// consumer, unless the bus is closing; endConsumerStart ends the count once
// the consumer is started, or stopped and ended.
func (b *Bus) beginConsumerStart() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing.Load() {
		return ErrClosed
	}
	b.consumerStarts.Add(1)
	return nil
}

func (b *Bus) endConsumerStart() { b.consumerStarts.Done() }

// register adds a subscriber unless the bus is closing, and starts its
// replay, if it has one, on a goroutine that Close waits for.
func (b *Bus) register(s *Subscription, replay func()) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing.Load() {
		return ErrClosed
	}
	b.subscribers[s] = struct{}{}
	if replay != nil {
		b.workers.Go(replay)
	}
	return nil
}

// retire moves a finished subscriber's counters into the bus's totals.
func (b *Bus) retire(s *Subscription) {
	b.mu.Lock()
	delete(b.subscribers, s)
	b.retired.add(s.stats())
	b.mu.Unlock()
}
