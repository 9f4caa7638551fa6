package storekit

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/busline/eventbus/eventstore"
)

// pagedLog is a log of n records at positions 1 to n, read a page at a
// time; it records the limit of every read.
type pagedLog struct {
	n      int
	limits []int
}

func (l *pagedLog) read(_ context.Context, from uint64, limit int) ([]eventstore.Record, error) {
	l.limits = append(l.limits, limit)
	var page []eventstore.Record
	for p := from; p <= uint64(l.n) && len(page) < limit; p++ {
		page = append(page, eventstore.Record{Position: p})
	}
	return page, nil
}

func nextPosition(r eventstore.Record) uint64 { return r.Position + 1 }

func TestPages(t *testing.T) {
	for _, tt := range []struct {
		n      int
		limits []int
	}{
		{0, []int{256}},
		{255, []int{256}},
		{256, []int{256, 512}},
		{257, []int{256, 512}},
		{256 + 512 + 1024 + 2048, []int{256, 512, 1024, 2048, 4096}},
		{256 + 512 + 1024 + 2048 + 4096 + 1, []int{256, 512, 1024, 2048, 4096, 4096}},
	} {
		log := &pagedLog{n: tt.n}
		want := uint64(1)
		for r, err := range Pages(context.Background(), 1, log.read, nextPosition) {
			if err != nil {
				t.Fatalf("n=%d: %v", tt.n, err)
			}
			if r.Position != want {
				t.Fatalf("n=%d: position %d, want %d", tt.n, r.Position, want)
			}
			want++
		}
		if want != uint64(tt.n+1) {
			t.Errorf("n=%d: read %d records", tt.n, want-1)
		}
		if !slices.Equal(log.limits, tt.limits) {
			t.Errorf("n=%d: page sizes asked for %v, want %v", tt.n, log.limits, tt.limits)
		}
	}
}

func TestPagesStops(t *testing.T) {
	t.Run("when the loop ends", func(t *testing.T) {
		log := &pagedLog{n: 10000}
		seen := 0
		for range Pages(context.Background(), 1, log.read, nextPosition) {
			if seen++; seen == 300 {
				break
			}
		}
		if !slices.Equal(log.limits, []int{256, 512}) {
			t.Errorf("page sizes asked for %v, want [256 512]", log.limits)
		}
	})
	t.Run("on a read error, yielded once", func(t *testing.T) {
		errRead := errors.New("read failed")
		calls := 0
		read := func(ctx context.Context, from uint64, limit int) ([]eventstore.Record, error) {
			if calls++; calls == 2 {
				return nil, errRead
			}
			return (&pagedLog{n: 10000}).read(ctx, from, limit)
		}
		var errs []error
		n := 0
		for _, err := range Pages(context.Background(), 1, read, nextPosition) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
		if n != 256 || len(errs) != 1 || errs[0] != errRead {
			t.Errorf("%d records and errors %v, want 256 and [%v]", n, errs, errRead)
		}
	})
	t.Run("when ctx ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		log := &pagedLog{n: 10000}
		var errs []error
		for _, err := range Pages(ctx, 1, log.read, nextPosition) {
			if err != nil {
				errs = append(errs, err)
			}
			cancel()
		}
		if !slices.Equal(log.limits, []int{256}) {
			t.Errorf("page sizes asked for %v, want [256]", log.limits)
		}
		if len(errs) != 1 || !errors.Is(errs[0], context.Canceled) {
			t.Errorf("errors %v, want one matching context.Canceled", errs)
		}
	})
}
