package eventstore

import (
	"context"
	"fmt"
)

// Projection is a read model kept in the database of its store, built
// from the store's events in position order. Tx is the database's
// transaction type (*sql.Tx for package sqlite, pgx.Tx for package
// postgres). The store applies each event to it in a transaction that also
// records the projection's checkpoint, the position it reads next: a crash
// before the commit loses both, after it keeps both, so the read model
// neither skips an event nor applies one twice.
type Projection[Tx any] struct {
	// Name identifies the projection's checkpoint. It must be a valid
	// stream name (ValidateStreamName).
	Name string
	// Apply updates the read model for r within tx. An error rolls the
	// transaction back and stops the projection, which reports it (see
	// Subscription.Err); running it again starts from r.
	Apply func(ctx context.Context, tx Tx, r Record) error
	// Reset empties the read model within tx, for RebuildProjection. Nil
	// means there is nothing to empty.
	Reset func(ctx context.Context, tx Tx) error
	// Committed, when set, is called after the transaction that applied r
	// committed.
	Committed func(r Record)
}

// ProjectionDB is what a store gives RunProjection and RebuildProjection:
// transactions on its database and the projections' checkpoints in it.
type ProjectionDB[Tx any] interface {
	// InTx runs fn in a transaction, committed if fn returns nil and
	// rolled back otherwise.
	InTx(ctx context.Context, fn func(tx Tx) error) error
	// Checkpoint returns the position the projection reads next, 1 when it
	// has none, locking it until tx ends.
	Checkpoint(ctx context.Context, tx Tx, name string) (uint64, error)
	// SetCheckpoint records next as the position the projection reads
	// next; 0 removes the checkpoint.
	SetCheckpoint(ctx context.Context, tx Tx, name string, next uint64) error
}

// RunProjection subscribes p to store from its checkpoint and applies each
// event in a transaction of db that advances the checkpoint. An event at a
// position below the checkpoint found in the transaction (applied by
// another runner of the same projection) is skipped, and one above it,
// which means the checkpoint went back (a rebuild while this runner ran),
// stops the projection with an error. The returned Subscription stops it.
func RunProjection[Tx any](ctx context.Context, store Store, db ProjectionDB[Tx], p Projection[Tx]) (*Subscription, error) {
	if err := ValidateStreamName(p.Name); err != nil {
		return nil, fmt.Errorf("%w: projection name: %w", ErrInvalidOption, err)
	}
	if p.Apply == nil {
		return nil, fmt.Errorf("%w: projection %q has no Apply", ErrInvalidOption, p.Name)
	}
	from, err := loadCheckpoint(ctx, db, p.Name)
	if err != nil {
		return nil, err
	}
	return store.SubscribeAll(ctx, from, func(ctx context.Context, r Record) error {
		applied := false
		err := db.InTx(ctx, func(tx Tx) error {
			next, err := db.Checkpoint(ctx, tx, p.Name)
			switch {
			case err != nil:
				return err
			case next > r.Position:
				return nil
			case next < r.Position:
				return fmt.Errorf("eventstore: projection %q: checkpoint at %d, behind the event at %d: was it rebuilt while it ran?", p.Name, next, r.Position)
			}
			if err := p.Apply(ctx, tx, r); err != nil {
				return err
			}
			applied = true
			return db.SetCheckpoint(ctx, tx, p.Name, r.Position+1)
		})
		if err == nil && applied && p.Committed != nil {
			p.Committed(r)
		}
		return err
	})
}

// RebuildProjection empties p's read model with p.Reset and removes its
// checkpoint, in one transaction of db, so that RunProjection builds it
// again from the first event. Stop the projection's runners first.
func RebuildProjection[Tx any](ctx context.Context, db ProjectionDB[Tx], p Projection[Tx]) error {
	if err := ValidateStreamName(p.Name); err != nil {
		return fmt.Errorf("%w: projection name: %w", ErrInvalidOption, err)
	}
	return db.InTx(ctx, func(tx Tx) error {
		if p.Reset != nil {
			if err := p.Reset(ctx, tx); err != nil {
				return err
			}
		}
		return db.SetCheckpoint(ctx, tx, p.Name, 0)
	})
}

// loadCheckpoint returns the checkpoint of name in db.
func loadCheckpoint[Tx any](ctx context.Context, db ProjectionDB[Tx], name string) (next uint64, err error) {
	err = db.InTx(ctx, func(tx Tx) (err error) {
		next, err = db.Checkpoint(ctx, tx, name)
		return err
	})
	return next, err
}
