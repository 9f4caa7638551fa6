package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/busline/eventbus/eventstore"
)

var _ eventstore.ProjectionDB[*sql.Tx] = (*Store)(nil)

// InTx runs fn in an immediate transaction on the store's write
// connection, committed if fn returns nil and rolled back otherwise. Use
// it to create a read model's tables; eventstore.RunProjection uses it to
// apply events.
func (s *Store) InTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	if s.core.Closed() {
		return eventstore.ErrClosed
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.fail("begin", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.fail("commit", err)
	}
	return nil
}

// Checkpoint returns the position the projection name reads next, 1 when
// it has no checkpoint.
func (s *Store) Checkpoint(ctx context.Context, tx *sql.Tx, name string) (uint64, error) {
	var next int64
	switch err := tx.QueryRowContext(ctx, `SELECT next FROM eventstore_checkpoints WHERE name = ?`, name).Scan(&next); {
	case errors.Is(err, sql.ErrNoRows):
		return 1, nil
	case err != nil:
		return 0, s.fail("read checkpoint "+strconv.Quote(name), err)
	}
	return uint64(next), nil
}

// SetCheckpoint records next as the position the projection name reads
// next; 0 removes its checkpoint.
func (s *Store) SetCheckpoint(ctx context.Context, tx *sql.Tx, name string, next uint64) error {
	var err error
	if next == 0 {
		_, err = tx.ExecContext(ctx, `DELETE FROM eventstore_checkpoints WHERE name = ?`, name)
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO eventstore_checkpoints (name, next) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET next = excluded.next`, name, int64(next))
	}
	if err != nil {
		return s.fail("write checkpoint "+strconv.Quote(name), err)
	}
	return nil
}

// DB returns the database handle that reads use, for queries of read
// models; it is read-only for a file (writes go through InTx), and is
// closed by Close.
func (s *Store) DB() *sql.DB { return s.read }
