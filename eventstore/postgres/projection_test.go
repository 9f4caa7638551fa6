package postgres

import (
	"context"
	"testing"

	"github.com/busline/eventbus/eventstore"
	"github.com/busline/eventbus/eventstore/eventstoretest"
	"github.com/jackc/pgx/v5"
)

func TestProjections(t *testing.T) {
	eventstoretest.RunProjections(t, eventstoretest.ProjectionHarness[pgx.Tx]{
		Open: func(t *testing.T) (eventstore.Store, eventstore.ProjectionDB[pgx.Tx]) {
			s := open(t, newDatabase(t))
			return s, s
		},
		Exec: func(ctx context.Context, tx pgx.Tx, query string, args ...any) error {
			_, err := tx.Exec(ctx, query, args...)
			return err
		},
		Pairs: func(ctx context.Context, tx pgx.Tx, query string) (map[string]int64, error) {
			rows, err := tx.Query(ctx, query)
			if err != nil {
				return nil, err
			}
			out := make(map[string]int64)
			var k string
			var v int64
			_, err = pgx.ForEachRow(rows, []any{&k, &v}, func() error {
				out[k] = v
				return nil
			})
			return out, err
		},
	})
}
