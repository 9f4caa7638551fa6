package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/busline/eventbus/eventstore"
	"github.com/busline/eventbus/eventstore/eventstoretest"
)

func TestConformanceFile(t *testing.T) {
	eventstoretest.Run(t, eventstoretest.Harness{
		Open: func(t *testing.T) eventstore.Store {
			return open(t, filepath.Join(t.TempDir(), "events.db"))
		},
		Reopen: func(t *testing.T, s eventstore.Store) eventstore.Store {
			path := s.(*Store).path
			closeStore(t, s)
			return open(t, path)
		},
	})
}

func TestConformanceMemory(t *testing.T) {
	eventstoretest.Run(t, eventstoretest.Harness{
		Open: func(t *testing.T) eventstore.Store { return open(t, Memory) },
	})
}

// open opens a store at path; the caller closes it.
func open(t testing.TB, path string, opts ...Option) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Open(ctx, path, opts...)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return s
}

// closeStore closes s.
func closeStore(t testing.TB, s eventstore.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}
