package storekit

import (
	"context"
	"errors"
	"iter"
	"sync/atomic"
	"time"

	"github.com/busline/eventbus/eventstore"
)

// Backend is what a store implements over its database; Core does the
// rest of eventstore.Store.
type Backend struct {
	// Append appends events, completed by Prepare, to stream in one
	// transaction.
	Append func(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error)
	// Appended, when set, is called after each append committed.
	Appended func()
	// StreamPage reads a page of stream's events by version.
	StreamPage func(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.Record, error)
	// AllPage reads a page of every event by position.
	AllPage PageReader
	// Head returns the last position, 0 when there is no event.
	Head func(ctx context.Context) (uint64, error)
	// StreamVersion returns the stream's version, 0 when it has no event.
	StreamVersion func(ctx context.Context, stream string) (uint64, error)
	// Release releases the database, once the subscriptions have stopped.
	Release func(ctx context.Context) error
	// Poll is the subscriptions' poll interval (see eventstore.Follower).
	Poll time.Duration
}

// Core is eventstore.Store on a Backend: the checks of each call, Close,
// reads in pages, and subscriptions through an eventstore.Follower.
type Core struct {
	b        Backend
	follower *eventstore.Follower
	closed   atomic.Bool
}

// NewCore returns the Core of b.
func NewCore(b Backend) *Core {
	return &Core{b: b, follower: eventstore.NewFollower(b.AllPage, b.Poll)}
}

// Closed reports whether Close was called.
func (c *Core) Closed() bool { return c.closed.Load() }

// Notify wakes the subscriptions, for appends made elsewhere.
func (c *Core) Notify() { c.follower.Notify() }

// Append is eventstore.Store.Append.
func (c *Core) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	if c.closed.Load() {
		return eventstore.AppendResult{}, eventstore.ErrClosed
	}
	prepared, err := Prepare(stream, expected, events, time.Now())
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	res, err := c.b.Append(ctx, stream, expected, prepared)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	c.follower.Notify()
	if c.b.Appended != nil {
		c.b.Appended()
	}
	return res, nil
}

// ReadStream is eventstore.Store.ReadStream.
func (c *Core) ReadStream(ctx context.Context, stream string, from uint64) iter.Seq2[eventstore.Record, error] {
	return c.reads().ReadStream(ctx, stream, from)
}

// ReadAll is eventstore.Store.ReadAll.
func (c *Core) ReadAll(ctx context.Context, from uint64) iter.Seq2[eventstore.Record, error] {
	return c.reads().ReadAll(ctx, from)
}

func (c *Core) reads() Reads {
	return Reads{Closed: &c.closed, StreamPage: c.b.StreamPage, AllPage: c.b.AllPage, StreamVersion: c.StreamVersion}
}

// SubscribeAll is eventstore.Store.SubscribeAll.
func (c *Core) SubscribeAll(ctx context.Context, from uint64, handler eventstore.Handler) (*eventstore.Subscription, error) {
	if c.closed.Load() {
		return nil, eventstore.ErrClosed
	}
	return c.follower.Subscribe(ctx, from, handler)
}

// Head is eventstore.Store.Head.
func (c *Core) Head(ctx context.Context) (uint64, error) {
	if c.closed.Load() {
		return 0, eventstore.ErrClosed
	}
	return c.b.Head(ctx)
}

// StreamVersion is eventstore.Store.StreamVersion.
func (c *Core) StreamVersion(ctx context.Context, stream string) (uint64, error) {
	if err := eventstore.ValidateStreamName(stream); err != nil {
		return 0, err
	}
	if c.closed.Load() {
		return 0, eventstore.ErrClosed
	}
	return c.b.StreamVersion(ctx, stream)
}

// Close is eventstore.Store.Close: it stops the subscriptions, then
// releases the backend whether or not they stopped before ctx ended.
func (c *Core) Close(ctx context.Context) error {
	if c.closed.Swap(true) {
		return nil
	}
	err := c.follower.Close(ctx)
	return errors.Join(err, c.b.Release(ctx))
}

// Rows are the rows of a query of records, as database/sql and pgx have
// them.
type Rows interface {
	Next() bool
	Err() error
}

// Collect returns the records that scan reads from each of rows, of which
// there are at most limit.
func Collect[R Rows](rows R, scan func(R) (eventstore.Record, error), limit int) ([]eventstore.Record, error) {
	page := make([]eventstore.Record, 0, limit)
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		page = append(page, r)
	}
	return page, rows.Err()
}
