package postgres

import (
	"context"
	"errors"
	"strconv"

	"github.com/busline/eventbus/eventstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var _ eventstore.ProjectionDB[pgx.Tx] = (*Store)(nil)

// InTx runs fn in a transaction, committed if fn returns nil and rolled
// back otherwise. Use it to create a read model's tables;
// eventstore.RunProjection uses it to apply events.
func (s *Store) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if s.core.Closed() {
		return eventstore.ErrClosed
	}
	var tx pgx.Tx
	err := retry(ctx, s.attempts, func() (err error) {
		tx, err = s.pool.Begin(ctx)
		return err
	})
	if err != nil {
		return s.fail("begin", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return s.fail("commit", err)
	}
	return nil
}

// Checkpoint returns the position the projection name reads next, 1 when
// it has no checkpoint, and locks the checkpoint's row until tx ends, so
// that runners of one projection take turns.
func (s *Store) Checkpoint(ctx context.Context, tx pgx.Tx, name string) (uint64, error) {
	what := "read checkpoint " + strconv.Quote(name)
	if _, err := tx.Exec(ctx, `INSERT INTO eventstore_checkpoints (name, next) VALUES ($1, 1) ON CONFLICT (name) DO NOTHING`, name); err != nil {
		return 0, s.fail(what, err)
	}
	var next int64
	switch err := tx.QueryRow(ctx, `SELECT next FROM eventstore_checkpoints WHERE name = $1 FOR UPDATE`, name).Scan(&next); {
	case errors.Is(err, pgx.ErrNoRows): // removed by a rebuild that committed meanwhile
		return 1, nil
	case err != nil:
		return 0, s.fail(what, err)
	}
	return uint64(next), nil
}

// SetCheckpoint records next as the position the projection name reads
// next; 0 removes its checkpoint.
func (s *Store) SetCheckpoint(ctx context.Context, tx pgx.Tx, name string, next uint64) error {
	var err error
	if next == 0 {
		_, err = tx.Exec(ctx, `DELETE FROM eventstore_checkpoints WHERE name = $1`, name)
	} else {
		_, err = tx.Exec(ctx, `INSERT INTO eventstore_checkpoints (name, next) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET next = excluded.next`, name, int64(next))
	}
	if err != nil {
		return s.fail("write checkpoint "+strconv.Quote(name), err)
	}
	return nil
}

// Pool returns the store's connection pool, for queries of read models.
// It is closed by Close.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
