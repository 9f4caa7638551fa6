package eventbus

import (
	"context"
	"sync"
	"time"
)

// lazyTimeout is a context that ends a fixed time after it was made, as
// context.WithTimeout(context.Background(), d) does, but that starts a
// timer only once its Done channel is asked for. Acknowledging a delivery
// needs such a bound for the transports whose Ack waits for the broker,
// while most Ack calls only record the acknowledgement for a later round
// trip and never look at Done: for them the timer would cost more than
// the acknowledgement.
type lazyTimeout struct {
	deadline time.Time

	mu     sync.Mutex
	ctx    context.Context // nil until Done is first called
	cancel context.CancelFunc
	// stopped is set by stop: the context then reports context.Canceled,
	// as a stopped context.WithTimeout does.
	stopped bool
}

// newLazyTimeout returns a context that ends d from now. Its stop must be
// called once it is no longer used.
func newLazyTimeout(d time.Duration) *lazyTimeout {
	return &lazyTimeout{deadline: time.Now().Add(d)}
}

func (c *lazyTimeout) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *lazyTimeout) Value(any) any { return nil }

// Done starts the timer, on the first call, and returns its channel.
func (c *lazyTimeout) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithDeadline(context.Background(), c.deadline)
		if c.stopped {
			c.cancel()
		}
	}
	return c.ctx.Done()
}

func (c *lazyTimeout) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ctx != nil:
		return c.ctx.Err()
	case c.stopped:
		return context.Canceled
	case !time.Now().Before(c.deadline):
		return context.DeadlineExceeded
	}
	return nil
}

// stop ends the context, and its timer if it has one.
func (c *lazyTimeout) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.cancel != nil {
		c.cancel()
	}
}

func (c *lazyTimeout) String() string { return "eventbus.settleContext" }
