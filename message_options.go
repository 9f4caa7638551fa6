package eventbus

import "fmt"

// WithMessageFilter sets a predicate that an event must satisfy to enter
// the subscription's queue, as WithFilter does, but on the type-erased
// Message, so that it serves a pattern subscription, whose topics may
// carry different payload types (see Bus.SubscribePattern). Events it
// rejects are counted as filtered. It is called by the publishing
// goroutine (over a transport, the consumer's); a panic in it counts the
// event as failed for this subscriber and reports it to the error handler.
func WithMessageFilter(keep func(m Message) bool) SubscribeOption {
	return func(c *subscribeConfig) error {
		if keep == nil {
			return fmt.Errorf("%w: nil message filter", ErrInvalidOption)
		}
		c.filter = keep
		return nil
	}
}

// WithMessageKeyFunc sets the function that gives an event's ordering key
// for this subscription, as WithKeyFunc does, but on the type-erased
// Message, so that it serves a pattern subscription (see
// Bus.SubscribePattern).
func WithMessageKeyFunc(keyOf func(m Message) string) SubscribeOption {
	return func(c *subscribeConfig) error {
		if keyOf == nil {
			return fmt.Errorf("%w: nil message ordering key function", ErrInvalidOption)
		}
		c.keyOf = keyOf
		return nil
	}
}
