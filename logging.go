package eventbus

import (
	"context"
	"log/slog"
	"time"
)

// Logging returns middleware that writes one log/slog record per call of
// the rest of the chain: at debug level with its duration when it succeeds,
// and at error level when it fails, except when it returns its ctx's error
// after the bus cancelled that ctx (Close, Unsubscribe, Drain), which is not
// a failure and is logged at debug level as "eventbus: handler cancelled".
// Records carry the topic, subscriber,
// event ID, sequence, attempt, duration and, on failure, the error, and for
// a panic where it happened: panic_at, the file and line of the function
// that panicked, and stack, the first frames from there outwards. Placed
// inside Retry it logs every attempt; outside, only each event's outcome.
// A nil logger discards the records.
func Logging(logger *slog.Logger) Middleware {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return NewMiddleware(func(next MessageHandler) MessageHandler {
		return func(ctx context.Context, m Message) error {
			start := time.Now()
			err := next(ctx, m)
			level := slog.LevelDebug
			msg := "eventbus: event handled"
			if err != nil {
				level = slog.LevelError
				msg = "eventbus: handler failed"
				if d := deliveryFrom(ctx); d != nil {
					if _, cancelled := d.sub.cancelledBy(d, err); cancelled {
						level = slog.LevelDebug
						msg = "eventbus: handler cancelled"
					}
				}
			}
			if !logger.Enabled(ctx, level) {
				return err
			}
			h := m.EventEnvelope()
			attrs := make([]slog.Attr, 0, 8)
			attrs = append(attrs,
				slog.String("topic", h.Topic),
				slog.String("event_id", h.ID.String()),
				slog.Uint64("sequence", h.Sequence))
			if d, ok := DeliveryFromContext(ctx); ok {
				attrs = append(attrs, slog.String("subscriber", d.Subscriber), slog.Int("attempt", d.Attempt))
			}
			attrs = append(attrs, slog.Duration("duration", time.Since(start)))
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()))
				attrs = append(attrs, panicAttrs(err)...)
			}
			logger.LogAttrs(ctx, level, msg, attrs...)
			return err
		}
	})
}
