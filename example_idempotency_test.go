package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/busline/eventbus"
)

// Idempotent makes a handler run once per event even when the source
// delivers the event again. Here a stand-in for a broker delivers every
// event twice; the mailer's first attempt at the second invoice fails, so
// the redelivery runs the handler again.
func ExampleIdempotent() {
	idem := eventbus.Idempotent(1024)
	// redeliverTwice simulates an at-least-once source: it delivers each
	// event a second time and reports the outcome of the second delivery.
	redeliverTwice := eventbus.NewMiddleware(func(next eventbus.MessageHandler) eventbus.MessageHandler {
		return func(ctx context.Context, m eventbus.Message) error {
			_ = next(ctx, m)
			return next(ctx, m)
		}
	})

	bus, err := eventbus.New()
	if err != nil {
		log.Fatal(err)
	}
	invoices, err := eventbus.NewTopic[string](bus, "invoice.issued")
	if err != nil {
		log.Fatal(err)
	}
	failed := false
	_, err = invoices.Subscribe("mailer", func(ctx context.Context, e *eventbus.Event[string]) error {
		if e.Payload == "inv-2" && !failed {
			failed = true
			fmt.Println("mailing", e.Payload, "failed")
			return errors.New("smtp unavailable")
		}
		fmt.Println("mailed", e.Payload)
		return nil
	}, eventbus.WithSubscriptionMiddleware(redeliverTwice, idem))
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	for _, id := range []string{"inv-1", "inv-2"} {
		if err := invoices.PublishSync(ctx, id); err != nil {
			log.Fatal(err)
		}
	}
	if err := bus.Close(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// mailed inv-1
	// mailing inv-2 failed
	// mailed inv-2
}
