package storekit

import (
	"context"
	"iter"

	"github.com/busline/eventbus/eventstore"
)

// A read fetches events a page at a time: first PageSize, then twice as
// many after each full page, up to MaxPageSize. A short read costs one
// small query, and a long one few round trips, with at most MaxPageSize
// records in memory.
const (
	PageSize    = 256
	MaxPageSize = 4096
)

// Pages yields the records that read returns page after page, from from
// on, until a page is shorter than asked for; next gives the start of the
// page after a record. Between pages no connection is held, so the loop
// body may use the store. A read error, or ctx's, is yielded once and ends
// the sequence.
func Pages(ctx context.Context, from uint64, read func(ctx context.Context, from uint64, limit int) ([]eventstore.Record, error), next func(r eventstore.Record) uint64) iter.Seq2[eventstore.Record, error] {
	return func(yield func(eventstore.Record, error) bool) {
		for size := PageSize; ; size = min(2*size, MaxPageSize) {
			if err := ctx.Err(); err != nil {
				yield(eventstore.Record{}, err)
				return
			}
			page, err := read(ctx, from, size)
			if err != nil {
				yield(eventstore.Record{}, err)
				return
			}
			for _, r := range page {
				if !yield(r, nil) {
					return
				}
			}
			if len(page) < size {
				return
			}
			from = next(page[len(page)-1])
		}
	}
}

// Failed yields err alone.
func Failed(err error) iter.Seq2[eventstore.Record, error] {
	return func(yield func(eventstore.Record, error) bool) {
		yield(eventstore.Record{}, err)
	}
}
