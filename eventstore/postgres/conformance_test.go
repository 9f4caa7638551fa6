package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/busline/eventbus/eventstore"
	"github.com/busline/eventbus/eventstore/eventstoretest"
)

func TestConformance(t *testing.T) {
	urls := make(map[eventstore.Store]string)
	eventstoretest.Run(t, eventstoretest.Harness{
		Open: func(t *testing.T) eventstore.Store {
			url := newDatabase(t)
			s := open(t, url)
			urls[s] = url
			return s
		},
		Reopen: func(t *testing.T, s eventstore.Store) eventstore.Store {
			closeStore(t, s)
			return open(t, urls[s])
		},
	})
}

// newDatabase creates an empty database on the test server and returns
// its URL.
func newDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, err := testServer.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// open opens a store on url; the caller closes it.
func open(t testing.TB, url string, opts ...Option) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, url, opts...)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return s
}

// closeStore closes s.
func closeStore(t testing.TB, s eventstore.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}
