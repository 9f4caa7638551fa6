package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// retry runs op, which must be safe to repeat (a read, or a BEGIN), again
// while it fails for a broken connection: after a server restart the pool
// may hold connections that fail at their first use, and each one that
// fails is dropped from the pool. It tries at most attempts times. An
// append, which is not safe to repeat once sent, is retried only when it
// failed before anything was sent (see Store.append).
func retry(ctx context.Context, attempts int, op func() error) error {
	var err error
	for range attempts {
		err = op()
		if err == nil || !brokenConnection(ctx, err) {
			return err
		}
	}
	return err
}

// brokenConnection reports whether err is a failure to talk to the server
// rather than an error the server returned.
func brokenConnection(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, pgx.ErrNoRows) {
		return false
	}
	var pgErr *pgconn.PgError
	return !errors.As(err, &pgErr)
}
