package eventstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// PageReader reads at most limit events of a store's global order, from
// position from on, in position order. It returns fewer than limit only
// when it reached the last event committed.
type PageReader func(ctx context.Context, from uint64, limit int) ([]Record, error)

// DefaultPageSize is the number of events a Follower reads at a time.
const DefaultPageSize = 512

// Follower runs the subscriptions of one store: it is how implementations
// of Store provide SubscribeAll. Each subscription reads pages of the
// global order through the PageReader, hands their events to its handler,
// and, once it has read everything, waits for Notify, which the store calls
// after each append commits, or for the poll interval to pass, which lets
// it see the appends of other processes. Because it reads from the
// position after the last event it handled, it sees each event once, and
// every event if the store's positions commit in order, as Store requires.
type Follower struct {
	read     PageReader
	poll     time.Duration
	pageSize int

	mu      sync.Mutex
	changed chan struct{}
	closed  bool
	subs    map[*Subscription]struct{}
}

// NewFollower returns a Follower that reads with read and looks for new
// events at least every poll; a poll of zero waits for Notify alone.
func NewFollower(read PageReader, poll time.Duration) *Follower {
	return &Follower{read: read, poll: poll, pageSize: DefaultPageSize, changed: make(chan struct{}), subs: make(map[*Subscription]struct{})}
}

// Notify wakes the subscriptions that wait for new events.
func (f *Follower) Notify() {
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// changes returns a channel that Notify closes.
func (f *Follower) changes() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// Subscribe starts a subscription from position from (0 counts as 1), as
// Store.SubscribeAll describes. It fails with an error matching
// [ErrClosed] after Close and with one matching [ErrInvalidOption] for a
// nil handler.
func (f *Follower) Subscribe(ctx context.Context, from uint64, handler Handler) (*Subscription, error) {
	if handler == nil {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalidOption)
	}
	if from == 0 {
		from = 1
	}
	if from > MaxVersion {
		return nil, fmt.Errorf("%w: position %d is beyond %d", ErrVersionOverflow, from, uint64(MaxVersion))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	subCtx, cancel := context.WithCancel(ctx)
	s := &Subscription{cancel: cancel, live: make(chan struct{}), done: make(chan struct{}), next: from}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		cancel()
		return nil, ErrClosed
	}
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	go f.run(subCtx, s, from, handler)
	return s, nil
}

// run is the goroutine of subscription s.
func (f *Follower) run(ctx context.Context, s *Subscription, next uint64, handler Handler) {
	defer close(s.done)
	defer func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}()
	defer s.cancel()
	var tick <-chan time.Time
	if f.poll > 0 {
		ticker := time.NewTicker(f.poll)
		defer ticker.Stop()
		tick = ticker.C
	}
	live := false
	for {
		changed := f.changes() // before the read, so that no Notify is missed
		page, err := f.read(ctx, next, f.pageSize)
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			s.end(err)
			return
		}
		for _, r := range page {
			if err := ctx.Err(); err != nil {
				s.end(err)
				return
			}
			if r.Position != next {
				s.end(fmt.Errorf("eventstore: subscription read position %d where %d was due", r.Position, next))
				return
			}
			if err := handler(ctx, r); err != nil {
				if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
					err = ctx.Err()
				} else {
					err = fmt.Errorf("eventstore: subscription handler at position %d: %w", r.Position, err)
				}
				s.end(err)
				return
			}
			s.advance(r.Position)
			next = r.Position + 1
		}
		if len(page) == f.pageSize {
			continue
		}
		if !live {
			live = true
			close(s.live)
		}
		select {
		case <-changed:
		case <-tick:
		case <-ctx.Done():
			s.end(ctx.Err())
			return
		}
	}
}

// Close stops every subscription and waits until their handlers have
// returned, or until ctx ends, returning its error. Subscribe fails
// afterwards.
func (f *Follower) Close(ctx context.Context) error {
	f.mu.Lock()
	f.closed = true
	subs := make([]*Subscription, 0, len(f.subs))
	for s := range f.subs {
		subs = append(subs, s)
	}
	f.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		s.cancel()
	}
	for _, s := range subs {
		select {
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
