package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/busline/eventbus"
)

// Order is the payload of the "order.placed" topic in the stats examples.
type Order struct {
	ID     string
	Amount int
}

// placeOrders returns a bus with two subscribers of "order.placed",
// billing (which rejects an amount of zero) and shipping, after publishing
// three orders on it and one on "order.cancelled", which nobody subscribes
// to. Every order has been handled when it returns.
func placeOrders() *eventbus.Bus {
	// Failures go to the PublishSync caller; the error handler is for the
	// rest, and there is none here.
	bus, err := eventbus.New(eventbus.WithErrorHandler(func(context.Context, *eventbus.DeliveryError) {}))
	if err != nil {
		log.Fatal(err)
	}
	placed, err := eventbus.NewTopic[Order](bus, "order.placed")
	if err != nil {
		log.Fatal(err)
	}
	cancelled, err := eventbus.NewTopic[Order](bus, "order.cancelled")
	if err != nil {
		log.Fatal(err)
	}
	_, err = placed.Subscribe("billing", func(ctx context.Context, e *eventbus.Event[Order]) error {
		if e.Payload.Amount == 0 {
			return errors.New("nothing to bill")
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = placed.Subscribe("shipping", func(ctx context.Context, e *eventbus.Event[Order]) error {
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	for _, o := range []Order{{"o-1", 30}, {"o-2", 0}, {"o-3", 12}} {
		// PublishSync returns once both subscribers have handled the order.
		if err := placed.PublishSync(ctx, o); err != nil {
			fmt.Println("order", o.ID, "failed")
		}
	}
	if err := cancelled.Publish(ctx, Order{ID: "o-2"}); err != nil {
		log.Fatal(err)
	}
	return bus
}

// WriteStatsTable prints a row per subscription and the bus's totals.
func ExampleWriteStatsTable() {
	bus := placeOrders()
	defer bus.Close(context.Background())

	if err := eventbus.WriteStatsTable(os.Stdout, bus.SubscriptionStats(), bus.Stats()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// order o-2 failed
	// TOPIC         SUBSCRIBER  ENQUEUED  DELIVERED  FAILED  RETRIED  DEAD-LETTERED  DROPPED  PENDING
	// order.placed  billing     3         2          1       0        0              0        0
	// order.placed  shipping    3         3          0       0        0              0        0
	// TOTAL                     6         5          1       0        0              0        0
	// Published 4 events on 2 topics (1 with no subscriber).
}

// Every stats snapshot prints as a one-line summary that leaves out the
// counts that are zero.
func ExampleSubscriptionStats_String() {
	bus := placeOrders()
	defer bus.Close(context.Background())

	for _, s := range bus.SubscriptionStats() {
		fmt.Println(s)
	}
	for _, t := range bus.TopicStats() {
		fmt.Println(t)
	}
	fmt.Println(bus.Stats())
	// Output:
	// order o-2 failed
	// order.placed/billing: 3 enqueued, 2 delivered, 1 failed
	// order.placed/shipping: 3 enqueued, 3 delivered
	// order.cancelled (eventbus_test.Order): 1 published (1 with no subscriber), 0 subscribers
	// order.placed (eventbus_test.Order): 3 published, 2 subscribers
	// 4 published (1 with no subscriber) on 2 topics; subscriptions: 2 live, 6 enqueued, 5 delivered, 1 failed
}
