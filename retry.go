package eventbus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// RetryPolicy configures the Retry middleware. A zero field takes the
// default given in its comment.
type RetryPolicy struct {
	// MaxAttempts is the most times the handler is called for one event,
	// the first call included. Default 3.
	MaxAttempts int
	// InitialInterval is the wait before the second attempt. Default 100ms.
	InitialInterval time.Duration
	// MaxInterval caps every wait. Default 10s, or InitialInterval if that
	// is longer.
	MaxInterval time.Duration
	// Multiplier scales the wait after each attempt; at least 1. Default 2.
	Multiplier float64
	// Jitter is the fraction of each wait that is random: a wait w becomes
	// a uniform draw from [w*(1-Jitter), w*(1+Jitter)], then capped at
	// MaxInterval. Between 0 and 1; default 0.2; a negative value turns
	// jitter off.
	Jitter float64
	// MaxElapsedTime stops retrying when the next attempt would start more
	// than this long after the first one. Default 0: no limit.
	MaxElapsedTime time.Duration
	// Retryable decides which errors are retried. Default: every error
	// except those made with Permanent. Permanent errors are never retried,
	// whatever Retryable says.
	Retryable func(error) bool
}

// withDefaults validates p and fills in its zero fields.
func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	switch {
	case p.MaxAttempts < 0:
		return p, fmt.Errorf("%w: retry: MaxAttempts %d is negative", ErrInvalidOption, p.MaxAttempts)
	case p.InitialInterval < 0 || p.MaxInterval < 0 || p.MaxElapsedTime < 0:
		return p, fmt.Errorf("%w: retry: negative duration", ErrInvalidOption)
	case p.Multiplier != 0 && (p.Multiplier < 1 || math.IsInf(p.Multiplier, 0) || math.IsNaN(p.Multiplier)):
		return p, fmt.Errorf("%w: retry: Multiplier %v, want at least 1", ErrInvalidOption, p.Multiplier)
	case p.Jitter > 1 || math.IsNaN(p.Jitter):
		return p, fmt.Errorf("%w: retry: Jitter %v, want at most 1", ErrInvalidOption, p.Jitter)
	}
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 3
	}
	if p.InitialInterval == 0 {
		p.InitialInterval = 100 * time.Millisecond
	}
	if p.MaxInterval == 0 {
		p.MaxInterval = max(10*time.Second, p.InitialInterval)
	}
	if p.MaxInterval < p.InitialInterval {
		return p, fmt.Errorf("%w: retry: MaxInterval %s is below InitialInterval %s", ErrInvalidOption, p.MaxInterval, p.InitialInterval)
	}
	if p.Multiplier == 0 {
		p.Multiplier = 2
	}
	switch {
	case p.Jitter == 0:
		p.Jitter = 0.2
	case p.Jitter < 0:
		p.Jitter = 0
	}
	return p, nil
}

// Backoff returns the wait before attempt number attempt+1, after attempt
// failed attempts (attempt >= 1), before jitter: InitialInterval times
// Multiplier to the power attempt-1, capped at MaxInterval. Zero fields take
// their defaults.
func (p RetryPolicy) Backoff(attempt int) time.Duration {
	p, err := p.withDefaults()
	if err != nil || attempt < 1 {
		return 0
	}
	return p.backoff(attempt)
}

func (p RetryPolicy) backoff(attempt int) time.Duration {
	w := float64(p.InitialInterval) * math.Pow(p.Multiplier, float64(attempt-1))
	if w > float64(p.MaxInterval) {
		return p.MaxInterval
	}
	return time.Duration(w)
}

func (p RetryPolicy) jittered(w time.Duration) time.Duration {
	if p.Jitter > 0 {
		delta := float64(w) * p.Jitter
		w = time.Duration(float64(w) - delta + rand.Float64()*2*delta)
	}
	return min(w, p.MaxInterval)
}

// Retry returns middleware that calls the rest of the chain again when it
// fails, up to p.MaxAttempts times in all, waiting an exponentially growing,
// jittered interval between calls. It stops early on a success, on an error
// that p.Retryable rejects or that was made with Permanent, when
// p.MaxElapsedTime would be exceeded, or when the handler's ctx ends
// (Unsubscribe, forced Close). It returns the last error, joined with the
// ctx's error when the ctx ended the retries.
//
// Each repeated call increases the Attempt seen by DeliveryFromContext and
// is counted in SubscriptionStats.Retried. A worker waiting to retry holds
// its lane: later events of that lane wait, which keeps per-key order.
//
// An invalid policy gives middleware whose Err matches [ErrInvalidOption].
func Retry(policy RetryPolicy) Middleware {
	p, err := policy.withDefaults()
	if err != nil {
		return invalidMiddleware(err)
	}
	return NewMiddleware(func(next MessageHandler) MessageHandler {
		return func(ctx context.Context, m Message) error {
			d := deliveryFrom(ctx)
			start := time.Now()
			for attempt := 1; ; attempt++ {
				if d != nil {
					d.attempt.Store(int32(attempt))
				}
				err := next(ctx, m)
				if err == nil {
					return nil
				}
				if attempt >= p.MaxAttempts || IsPermanent(err) || (p.Retryable != nil && !p.Retryable(err)) {
					return err
				}
				if ctx.Err() != nil {
					return errors.Join(err, ctx.Err())
				}
				wait := p.jittered(p.backoff(attempt))
				if p.MaxElapsedTime > 0 && time.Since(start)+wait > p.MaxElapsedTime {
					return err
				}
				timer := time.NewTimer(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
					timer.Stop()
					return errors.Join(err, ctx.Err())
				}
				if d != nil {
					d.sub.counters.Retried.Add(1)
				}
			}
		}
	})
}

// permanentError marks an error that Retry must not retry.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying: Retry returns it at once. The
// result wraps err, so errors.Is and errors.As still see it. Permanent(nil)
// is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was made with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
