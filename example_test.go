package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"sync"
	"time"

	"github.com/busline/eventbus"
)

// MessageSent is the payload of the "message.sent" topic in the examples.
type MessageSent struct {
	ConversationID string
	From           string
	Text           string
}

// The quick start: a bus, a typed topic, one subscriber, two events and a
// graceful shutdown.
func Example() {
	bus, err := eventbus.New()
	if err != nil {
		log.Fatal(err)
	}
	sent, err := eventbus.NewTopic[MessageSent](bus, "message.sent")
	if err != nil {
		log.Fatal(err)
	}

	_, err = sent.Subscribe("printer", func(ctx context.Context, e *eventbus.Event[MessageSent]) error {
		fmt.Printf("#%d [%s] %s: %s\n", e.Sequence, e.Payload.ConversationID, e.Payload.From, e.Payload.Text)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	for _, m := range []MessageSent{
		{ConversationID: "c-1", From: "alice", Text: "Hi!"},
		{ConversationID: "c-1", From: "bob", Text: "Hello, Alice."},
	} {
		// Publish queues the event for every subscriber and returns at once.
		if err := sent.Publish(ctx, m); err != nil {
			log.Fatal(err)
		}
	}

	// Close waits until every queued event has been handled.
	if err := bus.Close(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// #1 [c-1] alice: Hi!
	// #2 [c-1] bob: Hello, Alice.
}

// PublishSync waits for every subscriber's handler chain and returns their
// failures, each as a *eventbus.DeliveryError.
func ExampleTopic_PublishSync() {
	type Payment struct {
		Order  string
		Amount int
	}

	bus, err := eventbus.New()
	if err != nil {
		log.Fatal(err)
	}
	payments, err := eventbus.NewTopic[Payment](bus, "payment.requested")
	if err != nil {
		log.Fatal(err)
	}
	_, err = payments.Subscribe("billing", func(ctx context.Context, e *eventbus.Event[Payment]) error {
		if e.Payload.Amount <= 0 {
			return fmt.Errorf("invalid amount %d", e.Payload.Amount)
		}
		fmt.Printf("billing: charged %d for %s\n", e.Payload.Amount, e.Payload.Order)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	err = payments.PublishSync(ctx, Payment{Order: "A-1", Amount: 30})
	fmt.Println("A-1:", err)

	err = payments.PublishSync(ctx, Payment{Order: "A-2", Amount: -5})
	var failure *eventbus.DeliveryError
	if errors.As(err, &failure) {
		fmt.Printf("A-2: subscriber %s failed after %d attempt(s): %v\n", failure.Subscriber, failure.Attempts, failure.Err)
	}

	if err := bus.Close(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// billing: charged 30 for A-1
	// A-1: <nil>
	// A-2: subscriber billing failed after 1 attempt(s): invalid amount -5
}

// Several workers handle a subscription's events in parallel, while the
// events of one account are handled one at a time, in publish order.
func ExampleWithKeyFunc() {
	type Deposit struct {
		Account string
		N       int
	}

	bus, err := eventbus.New()
	if err != nil {
		log.Fatal(err)
	}
	deposits, err := eventbus.NewTopic[Deposit](bus, "account.deposit")
	if err != nil {
		log.Fatal(err)
	}

	var mu sync.Mutex
	seen := make(map[string][]int) // account -> deposits in the order handled
	_, err = deposits.Subscribe("ledger",
		func(ctx context.Context, e *eventbus.Event[Deposit]) error {
			mu.Lock()
			seen[e.Payload.Account] = append(seen[e.Payload.Account], e.Payload.N)
			mu.Unlock()
			return nil
		},
		eventbus.WithConcurrency(4),
		eventbus.WithKeyFunc(func(e *eventbus.Event[Deposit]) string { return e.Payload.Account }),
	)
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	for n := 1; n <= 5; n++ {
		for _, account := range []string{"alice", "bob", "carol"} {
			if err := deposits.Publish(ctx, Deposit{Account: account, N: n}); err != nil {
				log.Fatal(err)
			}
		}
	}
	if err := bus.Close(ctx); err != nil {
		log.Fatal(err)
	}

	// The accounts were handled concurrently, so only the order within one
	// account is fixed.
	accounts := make([]string, 0, len(seen))
	for account := range seen {
		accounts = append(accounts, account)
	}
	slices.Sort(accounts)
	for _, account := range accounts {
		fmt.Println(account, seen[account])
	}
	// Output:
	// alice [1 2 3 4 5]
	// bob [1 2 3 4 5]
	// carol [1 2 3 4 5]
}

// The Retry middleware calls a failing handler again after a backoff; the
// handler sees which attempt it is in through DeliveryFromContext.
func ExampleRetry() {
	retry := eventbus.Retry(eventbus.RetryPolicy{
		MaxAttempts:     5,
		InitialInterval: time.Millisecond,
		MaxInterval:     10 * time.Millisecond,
	})
	// An invalid policy would make New return an error matching
	// ErrInvalidOption.
	bus, err := eventbus.New(eventbus.WithMiddleware(retry))
	if err != nil {
		log.Fatal(err)
	}
	sent, err := eventbus.NewTopic[MessageSent](bus, "message.sent")
	if err != nil {
		log.Fatal(err)
	}

	sub, err := sent.Subscribe("push", func(ctx context.Context, e *eventbus.Event[MessageSent]) error {
		d, _ := eventbus.DeliveryFromContext(ctx)
		if d.Attempt < 3 {
			fmt.Printf("attempt %d: gateway unavailable\n", d.Attempt)
			return errors.New("gateway unavailable")
		}
		fmt.Printf("attempt %d: pushed %q\n", d.Attempt, e.Payload.Text)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	err = sent.PublishSync(ctx, MessageSent{ConversationID: "c-1", From: "alice", Text: "Hi!"})
	fmt.Println("error:", err)
	st := sub.Stats()
	fmt.Printf("delivered=%d retried=%d failed=%d\n", st.Delivered, st.Retried, st.Failed)

	if err := bus.Close(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// attempt 1: gateway unavailable
	// attempt 2: gateway unavailable
	// attempt 3: pushed "Hi!"
	// error: <nil>
	// delivered=1 retried=2 failed=0
}

// With the DeadLetter middleware outermost, an event whose handler still
// fails after its retries is published on the "deadletter" topic as a
// FailedDelivery, and counted as dead-lettered rather than failed.
func ExampleDeadLetter() {
	bus, err := eventbus.New(eventbus.WithMiddleware(
		eventbus.DeadLetter(),
		eventbus.Retry(eventbus.RetryPolicy{MaxAttempts: 3, InitialInterval: time.Millisecond}),
	))
	if err != nil {
		log.Fatal(err)
	}

	dead, err := eventbus.NewTopic[eventbus.FailedDelivery](bus, eventbus.DefaultDeadLetterTopic)
	if err != nil {
		log.Fatal(err)
	}
	_, err = dead.Subscribe("inspector", func(ctx context.Context, e *eventbus.Event[eventbus.FailedDelivery]) error {
		dl := e.Payload
		fmt.Printf("dead letter on %q: topic=%s subscriber=%s attempts=%d error=%q\n",
			e.Topic, dl.Envelope.Topic, dl.Subscriber, dl.Attempts, dl.Error)
		fmt.Printf("payload: %+v\n", dl.Payload)
		fmt.Println("caused by the failed event:", e.CausationID == dl.Envelope.ID)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	sent, err := eventbus.NewTopic[MessageSent](bus, "message.sent")
	if err != nil {
		log.Fatal(err)
	}
	translator, err := sent.Subscribe("translator", func(ctx context.Context, e *eventbus.Event[MessageSent]) error {
		return errors.New("translation service down")
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	if err := sent.Publish(ctx, MessageSent{ConversationID: "c-7", From: "bob", Text: "Hallo"}); err != nil {
		log.Fatal(err)
	}
	// Close also waits for the dead letter, which the translator's chain
	// published while the bus drained.
	if err := bus.Close(ctx); err != nil {
		log.Fatal(err)
	}
	st := translator.Stats()
	fmt.Printf("translator: delivered=%d failed=%d dead-lettered=%d retried=%d\n",
		st.Delivered, st.Failed, st.DeadLettered, st.Retried)
	// Output:
	// dead letter on "deadletter": topic=message.sent subscriber=translator attempts=3 error="translation service down"
	// payload: {ConversationID:c-7 From:bob Text:Hallo}
	// caused by the failed event: true
	// translator: delivered=0 failed=0 dead-lettered=1 retried=2
}

// Close lets every queued event be handled; from then on Publish fails with
// ErrClosed. A Close whose ctx ends first cancels the running handlers,
// discards what is still queued and reports it in a *CloseError.
func ExampleBus_Close() {
	type Job struct{ N int }
	ctx := context.Background()

	// A graceful close.
	bus, err := eventbus.New()
	if err != nil {
		log.Fatal(err)
	}
	jobs, err := eventbus.NewTopic[Job](bus, "jobs")
	if err != nil {
		log.Fatal(err)
	}
	handled := 0
	_, err = jobs.Subscribe("worker", func(ctx context.Context, e *eventbus.Event[Job]) error {
		handled++
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	for n := 1; n <= 3; n++ {
		if err := jobs.Publish(ctx, Job{N: n}); err != nil {
			log.Fatal(err)
		}
	}
	closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	fmt.Println("close:", bus.Close(closeCtx))
	fmt.Println("handled:", handled) // Close returned after every handler
	err = jobs.Publish(ctx, Job{N: 4})
	fmt.Println("publish after close is ErrClosed:", errors.Is(err, eventbus.ErrClosed))

	// A forced close: the handler ignores its ctx and is stuck.
	bus, err = eventbus.New()
	if err != nil {
		log.Fatal(err)
	}
	jobs, err = eventbus.NewTopic[Job](bus, "jobs")
	if err != nil {
		log.Fatal(err)
	}
	started, unstick := make(chan struct{}, 1), make(chan struct{})
	_, err = jobs.Subscribe("worker", func(ctx context.Context, e *eventbus.Event[Job]) error {
		select {
		case started <- struct{}{}:
		default:
		}
		<-unstick // not <-ctx.Done(): a handler that ignores its ctx
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	for n := 1; n <= 3; n++ {
		if err := jobs.Publish(ctx, Job{N: n}); err != nil {
			log.Fatal(err)
		}
	}
	<-started // job 1 is being handled, jobs 2 and 3 wait in the queue

	shortCtx, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelShort()
	err = bus.Close(shortCtx) // returns when shortCtx ends, stuck handler or not
	var closeErr *eventbus.CloseError
	fmt.Println("forced close returned a *CloseError:", errors.As(err, &closeErr))
	fmt.Println("it unwraps to the ctx's error:", errors.Is(err, context.DeadlineExceeded))
	// Undelivered counts, per "topic/subscriber", the queued events that
	// were discarded; Running names the handlers still running.
	fmt.Println("undelivered:", closeErr.Undelivered)
	for _, r := range closeErr.Running {
		fmt.Printf("still running: %s/%s\n", r.Topic, r.Subscriber)
	}
	// Done is closed once those handlers have returned.
	close(unstick)
	<-bus.Done()
	fmt.Println("done")
	// Output:
	// close: <nil>
	// handled: 3
	// publish after close is ErrClosed: true
	// forced close returned a *CloseError: true
	// it unwraps to the ctx's error: true
	// undelivered: map[jobs/worker:2]
	// still running: jobs/worker
	// done
}

// When a subscriber's queue is full, its overflow policy decides: here one
// subscriber drops the newest events and another the oldest queued ones.
// Both are counted in the subscription's Dropped stats; Publish itself does
// not fail.
func ExampleWithOverflow() {
	type Tick struct{ N int }

	bus, err := eventbus.New()
	if err != nil {
		log.Fatal(err)
	}
	ticks, err := eventbus.NewTopic[Tick](bus, "ticks")
	if err != nil {
		log.Fatal(err)
	}

	// slowSubscriber handles one tick, then waits for release before the
	// next, so its queue (capacity 2) fills up.
	release := make(chan struct{})
	slowSubscriber := func(name string, policy eventbus.Overflow, handled *[]int, started chan<- struct{}) *eventbus.Subscription {
		first := true
		sub, err := ticks.Subscribe(name, func(ctx context.Context, e *eventbus.Event[Tick]) error {
			if first {
				first = false
				started <- struct{}{}
				<-release
			}
			*handled = append(*handled, e.Payload.N)
			return nil
		}, eventbus.WithQueueCapacity(2), eventbus.WithOverflow(policy))
		if err != nil {
			log.Fatal(err)
		}
		return sub
	}
	var newestHandled, oldestHandled []int
	started := make(chan struct{}, 2)
	dropNewest := slowSubscriber("drop-newest", eventbus.OverflowDropNewest, &newestHandled, started)
	dropOldest := slowSubscriber("drop-oldest", eventbus.OverflowDropOldest, &oldestHandled, started)

	ctx := context.Background()
	publish := func(n int) {
		if err := ticks.Publish(ctx, Tick{N: n}); err != nil {
			log.Fatal(err)
		}
	}
	publish(1)
	<-started
	<-started // both handlers hold tick 1; their queues are empty
	for n := 2; n <= 5; n++ {
		publish(n)
	}
	close(release)
	if err := bus.Close(ctx); err != nil {
		log.Fatal(err)
	}

	for _, r := range []struct {
		sub     *eventbus.Subscription
		handled []int
	}{{dropNewest, newestHandled}, {dropOldest, oldestHandled}} {
		st := r.sub.Stats()
		fmt.Printf("%s: handled %v, dropped %d (queue full %d, evicted %d)\n",
			r.sub.Name(), r.handled, st.Dropped.Total(), st.Dropped.QueueFull, st.Dropped.Evicted)
	}
	// Output:
	// drop-newest: handled [1 2 3], dropped 2 (queue full 2, evicted 0)
	// drop-oldest: handled [1 4 5], dropped 2 (queue full 0, evicted 2)
}
