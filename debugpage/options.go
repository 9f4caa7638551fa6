package debugpage

import (
	"fmt"
	"time"

	"github.com/busline/eventbus"
)

// Option configures a Handler.
type Option func(*config) error

type config struct {
	recorder   *Recorder
	actions    bool
	interval   time.Duration
	rateWindow time.Duration
}

const (
	// DefaultUpdateInterval is the least time between two live updates of
	// one page, unless WithUpdateInterval says otherwise: at most four a
	// second.
	DefaultUpdateInterval = 250 * time.Millisecond
	// DefaultRateWindow is the window rates are computed over, unless
	// WithRateWindow says otherwise.
	DefaultRateWindow = 5 * time.Second
	// minUpdateInterval is the least WithUpdateInterval accepts.
	minUpdateInterval = 10 * time.Millisecond
)

// WithRecorder gives the page a Recorder, made before the bus and plugged
// into it (see Recorder): the page then shows recent events, causal traces
// and dead letters.
func WithRecorder(r *Recorder) Option {
	return func(c *config) error {
		if r == nil {
			return fmt.Errorf("debugpage: %w: nil Recorder", eventbus.ErrInvalidOption)
		}
		c.recorder = r
		return nil
	}
}

// WithActions enables the page's actions that change the bus's state:
// republishing a dead letter (which needs a Recorder, where the dead
// letters come from). Without it, the page is read-only and its action
// URLs answer 403 Forbidden.
func WithActions() Option {
	return func(c *config) error {
		c.actions = true
		return nil
	}
}

// WithUpdateInterval sets the least time between two live updates sent to
// one page (default DefaultUpdateInterval); the changes in between are
// coalesced into the next update. It must be at least 10ms.
func WithUpdateInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < minUpdateInterval {
			return fmt.Errorf("debugpage: %w: update interval %s, want at least %s", eventbus.ErrInvalidOption, d, minUpdateInterval)
		}
		c.interval = d
		return nil
	}
}

// WithRateWindow sets the window over which the page computes rates, in
// events per second (default DefaultRateWindow). It must be at least twice
// the update interval, the period at which the page samples the counters.
func WithRateWindow(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("debugpage: %w: rate window %s, want a positive duration", eventbus.ErrInvalidOption, d)
		}
		c.rateWindow = d
		return nil
	}
}

// newConfig applies opts to the defaults and checks the result.
func newConfig(opts []Option) (config, error) {
	c := config{interval: DefaultUpdateInterval, rateWindow: DefaultRateWindow}
	for _, opt := range opts {
		if opt == nil {
			return c, fmt.Errorf("debugpage: %w: nil Option", eventbus.ErrInvalidOption)
		}
		if err := opt(&c); err != nil {
			return c, err
		}
	}
	if c.rateWindow < 2*c.interval {
		return c, fmt.Errorf("debugpage: %w: rate window %s, want at least twice the update interval %s", eventbus.ErrInvalidOption, c.rateWindow, c.interval)
	}
	return c, nil
}
