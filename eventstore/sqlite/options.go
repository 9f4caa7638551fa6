package sqlite

import (
	"fmt"
	"time"

	"github.com/busline/eventbus/eventstore"
)

// DefaultBusyTimeout is how long a write waits for another process's
// write to the same file to end before it fails.
const DefaultBusyTimeout = 10 * time.Second

// DefaultPollInterval is how often a subscription that has caught up looks
// for events appended by other processes; the store's own appends wake it
// at once.
const DefaultPollInterval = time.Second

// Option configures a Store.
type Option func(*config) error

type config struct {
	busyTimeout time.Duration
	poll        time.Duration
	readers     int
}

func defaultConfig() config {
	return config{busyTimeout: DefaultBusyTimeout, poll: DefaultPollInterval, readers: 4}
}

// WithBusyTimeout sets how long a write waits for the lock of a database
// file that another process is writing, at least a millisecond.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("%w: sqlite: busy timeout %v, want at least 1ms", eventstore.ErrInvalidOption, d)
		}
		c.busyTimeout = d
		return nil
	}
}

// WithPollInterval sets how often a subscription that has caught up looks
// for events appended by other processes; zero makes it wait for the
// store's own appends alone.
func WithPollInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: sqlite: negative poll interval %v", eventstore.ErrInvalidOption, d)
		}
		c.poll = d
		return nil
	}
}

// WithReaders sets the number of connections that reads use, at least
// one; it does not apply to an in-memory store, which has one connection.
func WithReaders(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: sqlite: %d readers, want at least 1", eventstore.ErrInvalidOption, n)
		}
		c.readers = n
		return nil
	}
}
