package storekit

import (
	"context"
	"fmt"
	"iter"
	"sync/atomic"

	"github.com/busline/eventbus/eventstore"
)

// PageReader reads at most limit events from version or position from on.
type PageReader = eventstore.PageReader

// Reads implements a store's ReadStream and ReadAll on its page queries.
type Reads struct {
	// Closed is set when the store is closed.
	Closed *atomic.Bool
	// StreamPage reads a page of stream's events by version.
	StreamPage func(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.Record, error)
	// AllPage reads a page of every event by position.
	AllPage PageReader
	// StreamVersion returns the stream's version, 0 when it has no event.
	StreamVersion func(ctx context.Context, stream string) (uint64, error)
}

// ReadStream is eventstore.Store.ReadStream: it yields an error matching
// ErrStreamNotFound when the first page is empty and the stream has no
// event.
func (r Reads) ReadStream(ctx context.Context, stream string, from uint64) iter.Seq2[eventstore.Record, error] {
	if err := eventstore.ValidateStreamName(stream); err != nil {
		return Failed(err)
	}
	from, err := r.start(from, fmt.Sprintf("read stream %q from version", stream))
	if err != nil {
		return Failed(err)
	}
	return func(yield func(eventstore.Record, error) bool) {
		first := true
		read := func(ctx context.Context, from uint64, limit int) ([]eventstore.Record, error) {
			page, err := r.StreamPage(ctx, stream, from, limit)
			if err != nil || !first || len(page) > 0 {
				first = false
				return page, err
			}
			first = false
			version, err := r.StreamVersion(ctx, stream)
			if err == nil && version == 0 {
				err = fmt.Errorf("%w: %q", eventstore.ErrStreamNotFound, stream)
			}
			return nil, err
		}
		Pages(ctx, from, read, func(rec eventstore.Record) uint64 { return rec.Version + 1 })(yield)
	}
}

// ReadAll is eventstore.Store.ReadAll.
func (r Reads) ReadAll(ctx context.Context, from uint64) iter.Seq2[eventstore.Record, error] {
	from, err := r.start(from, "read all from position")
	if err != nil {
		return Failed(err)
	}
	return Pages(ctx, from, r.AllPage, func(rec eventstore.Record) uint64 { return rec.Position + 1 })
}

// start checks a read's start: the store open, from (0 counting as 1) at
// most MaxVersion.
func (r Reads) start(from uint64, what string) (uint64, error) {
	if r.Closed.Load() {
		return 0, eventstore.ErrClosed
	}
	if from == 0 {
		from = 1
	}
	if from > eventstore.MaxVersion {
		return 0, fmt.Errorf("%w: %s %d", eventstore.ErrVersionOverflow, what, from)
	}
	return from, nil
}
