package eventstore

import (
	"context"
	"sync"
)

// Subscription is a running SubscribeAll. It ends when Stop is called,
// when the store is closed, when the ctx given to SubscribeAll ends, when
// its handler returns an error, or when reading the store fails; Done is
// closed then, once the handler has returned.
type Subscription struct {
	cancel context.CancelFunc
	live   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	stopped bool // Stop or Close ended it
	err     error
	next    uint64
}

// Live is closed once the subscription has handled every event that was
// stored when it last found no more to read: it has caught up and follows
// the appends as they commit. It stays open if the subscription ends
// before.
func (s *Subscription) Live() <-chan struct{} { return s.live }

// Done is closed when the subscription has ended and its handler has
// returned.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns why the subscription ended: nil while it runs and after
// Stop or the store's Close; the error of the ctx given to SubscribeAll
// when that ended; the handler's error, wrapped with its position; or the
// store's error when a read failed.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Next returns the position the subscription reads next: one past the
// last event its handler returned nil for. After the subscription ends, a
// new one from Next goes on where it stopped.
func (s *Subscription) Next() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// Stop ends the subscription: the ctx of a handler call in progress is
// canceled, and Stop waits until the handler has returned, or until ctx
// ends, returning its error. Stopping an ended subscription returns nil.
func (s *Subscription) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.cancel()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// end records err as the reason the subscription ended, unless it was
// stopped.
func (s *Subscription) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.err = err
	}
}

// advance records that the event at position p was handled.
func (s *Subscription) advance(p uint64) {
	s.mu.Lock()
	s.next = p + 1
	s.mu.Unlock()
}
