package postgres

import (
	"fmt"
	"time"

	"github.com/busline/eventbus/eventstore"
)

// DefaultPollInterval is how often a subscription that has caught up
// reads the store when no notification came, in case one was lost while
// the store's listening connection was down.
const DefaultPollInterval = 5 * time.Second

// Option configures a Store.
type Option func(*config) error

type config struct {
	poll time.Duration
}

func defaultConfig() config { return config{poll: DefaultPollInterval} }

// WithPollInterval sets how often a subscription that has caught up reads
// the store without a notification; zero makes it wait for notifications
// alone.
func WithPollInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("%w: postgres: negative poll interval %v", eventstore.ErrInvalidOption, d)
		}
		c.poll = d
		return nil
	}
}
