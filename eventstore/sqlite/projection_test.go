package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/busline/eventbus/eventstore"
	"github.com/busline/eventbus/eventstore/eventstoretest"
)

func TestProjections(t *testing.T) {
	for name, path := range map[string]func(t *testing.T) string{
		"File":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "events.db") },
		"Memory": func(*testing.T) string { return Memory },
	} {
		t.Run(name, func(t *testing.T) {
			eventstoretest.RunProjections(t, eventstoretest.ProjectionHarness[*sql.Tx]{
				Open: func(t *testing.T) (eventstore.Store, eventstore.ProjectionDB[*sql.Tx]) {
					s := open(t, path(t))
					return s, s
				},
				Exec: func(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
					_, err := tx.ExecContext(ctx, query, args...)
					return err
				},
				Pairs: func(ctx context.Context, tx *sql.Tx, query string) (map[string]int64, error) {
					rows, err := tx.QueryContext(ctx, query)
					if err != nil {
						return nil, err
					}
					defer rows.Close()
					out := make(map[string]int64)
					for rows.Next() {
						var k string
						var v int64
						if err := rows.Scan(&k, &v); err != nil {
							return nil, err
						}
						out[k] = v
					}
					return out, rows.Err()
				},
			})
		})
	}
}
