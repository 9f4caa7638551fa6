package postgres

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/busline/eventbus/eventstore"
	"github.com/busline/eventbus/eventstore/internal/storekit"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is an eventstore.Store in a PostgreSQL database. Make one with
// Open.
type Store struct {
	pool     *pgxpool.Pool
	core     *storekit.Core
	listener *worker
	notifier *notifier
	attempts int // see retry
}

var _ eventstore.Store = (*Store)(nil)

// Open connects to the PostgreSQL database at url (a URL or a keyword/value
// connection string, as pgx takes it), creates the store's tables when they
// are missing, and starts listening for the appends of other processes.
// Errors about options match eventstore.ErrInvalidOption.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	poolCfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%w: postgres: connection string: %v", eventstore.ErrInvalidOption, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("eventstore: postgres: connect: %w", err)
	}
	if err := createSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, attempts: int(poolCfg.MaxConns) + 1}
	s.notifier = startNotifier(pool)
	s.core = storekit.NewCore(storekit.Backend{
		Append: s.append, Appended: s.notifier.signal, StreamPage: s.readStreamPage, AllPage: s.readAllPage,
		Head: s.head, StreamVersion: s.streamVersion, Release: s.release, Poll: cfg.poll,
	})
	s.listener = startListener(poolCfg.ConnConfig, s.core.Notify, pool.Reset)
	return s, nil
}

// createSchema creates the tables under an advisory lock.
func createSchema(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("eventstore: postgres: create tables: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
		return fmt.Errorf("eventstore: postgres: create tables: %w", err)
	}
	if _, err := tx.Exec(ctx, schema); err != nil {
		return fmt.Errorf("eventstore: postgres: create tables: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("eventstore: postgres: create tables: %w", err)
	}
	return nil
}

// Append appends events to stream, as eventstore.Store describes, in one
// transaction that locks the stream's row, then the head row, which it
// holds until it commits: see the package documentation for why positions
// therefore commit in order.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.Event) (eventstore.AppendResult, error) {
	return s.core.Append(ctx, stream, expected, events)
}

func (s *Store) append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events []eventstore.Event) (res eventstore.AppendResult, err error) {
	for range s.attempts {
		res, err = s.appendIn(ctx, s.pool, stream, expected, events)
		if err == nil || !pgconn.SafeToRetry(err) || ctx.Err() != nil {
			break
		}
	}
	return res, err
}

// querier runs a statement: the pool, where it is a transaction of its
// own, or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// appendIn runs the append statement (see appendHead) through q. Its
// locks are held until q's transaction ends: at once for the pool.
func (s *Store) appendIn(ctx context.Context, q querier, stream string, expected eventstore.ExpectedVersion, events []eventstore.Event) (eventstore.AppendResult, error) {
	var res eventstore.AppendResult
	what := "append to " + strconv.Quote(stream)
	n := int64(len(events))
	cols := newColumns(events)
	if cols.err != nil {
		return res, cols.err
	}
	statement := appendAny
	want, exact := expected.Version()
	switch {
	case exact && want == 0:
		statement = appendNoStream
	case exact:
		statement = appendExactly
	}
	var version, last, echo int64
	err := q.QueryRow(ctx, statement, stream, int64(want), n, cols.ids, cols.types, cols.times, cols.correlations, cols.causations,
		cols.keys, cols.metadata, cols.cloudEvents, cols.contentTypes, cols.data).Scan(&version, &last, &echo)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		var actual int64
		switch err := q.QueryRow(ctx, `SELECT version FROM eventstore_streams WHERE name = $1`, stream).Scan(&actual); {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return res, s.fail(what, err)
		}
		if err := expected.Check(stream, uint64(actual)); err != nil {
			return res, err
		}
		return res, &eventstore.ConflictError{Stream: stream, Expected: expected, Actual: uint64(actual)}
	case err != nil:
		return res, s.fail(what, err)
	}
	return eventstore.AppendResult{
		FirstVersion: uint64(version - n + 1), LastVersion: uint64(version),
		FirstPosition: uint64(last - n + 1), LastPosition: uint64(last),
	}, nil
}

// eventColumns are the events of an append, column by column.
type eventColumns struct {
	ids, causations                                  []pgtype.UUID
	types, correlations, keys, metadata, cloudEvents []string
	contentTypes                                     []string
	times                                            []time.Time
	data                                             [][]byte
	err                                              error
}

func newColumns(events []eventstore.Event) *eventColumns {
	c := &eventColumns{}
	for _, e := range events {
		meta, err := storekit.EncodeMetadata(e.Envelope.Metadata)
		if err != nil {
			c.err = err
			return c
		}
		c.ids = append(c.ids, pgtype.UUID{Bytes: e.Envelope.ID, Valid: true})
		c.causations = append(c.causations, pgtype.UUID{Bytes: e.Envelope.CausationID, Valid: true})
		c.types = append(c.types, e.Envelope.Topic)
		c.times = append(c.times, e.Envelope.Time)
		c.correlations = append(c.correlations, e.Envelope.CorrelationID)
		c.keys = append(c.keys, e.Envelope.Key)
		c.metadata = append(c.metadata, meta)
		attrs, err := storekit.EncodeCloudEvent(e.Envelope.CloudEvent)
		if err != nil {
			c.err = err
			return c
		}
		c.cloudEvents = append(c.cloudEvents, attrs)
		c.contentTypes = append(c.contentTypes, e.ContentType)
		c.data = append(c.data, e.Data)
	}
	return c
}

// ReadStream yields the events of stream from version from on, as
// eventstore.Store describes.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64) iter.Seq2[eventstore.Record, error] {
	return s.core.ReadStream(ctx, stream, from)
}

// ReadAll yields the events of every stream from position from on, as
// eventstore.Store describes.
func (s *Store) ReadAll(ctx context.Context, from uint64) iter.Seq2[eventstore.Record, error] {
	return s.core.ReadAll(ctx, from)
}

func (s *Store) readStreamPage(ctx context.Context, stream string, from uint64, limit int) ([]eventstore.Record, error) {
	return s.query(ctx, "read stream "+strconv.Quote(stream), limit,
		`SELECT `+columns+` FROM eventstore_events WHERE stream = $1 AND version >= $2 ORDER BY version LIMIT $3`, stream, int64(from), limit)
}

func (s *Store) readAllPage(ctx context.Context, from uint64, limit int) ([]eventstore.Record, error) {
	return s.query(ctx, "read all", limit, `SELECT `+columns+` FROM eventstore_events WHERE position >= $1 ORDER BY position LIMIT $2`, int64(from), limit)
}

// SubscribeAll follows every event from position from on, as
// eventstore.Store describes. Appends through this store wake a
// subscription at once, and so do those of other stores on the same
// database, through a notification the append sends when it commits.
func (s *Store) SubscribeAll(ctx context.Context, from uint64, handler eventstore.Handler) (*eventstore.Subscription, error) {
	return s.core.SubscribeAll(ctx, from, handler)
}

// Head returns the position of the last event, 0 when there is none.
func (s *Store) Head(ctx context.Context) (uint64, error) { return s.core.Head(ctx) }

func (s *Store) head(ctx context.Context) (uint64, error) {
	var head int64
	err := retry(ctx, s.attempts, func() error {
		return s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(position), 0) FROM eventstore_events`).Scan(&head)
	})
	if err != nil {
		return 0, s.fail("read head", err)
	}
	return uint64(head), nil
}

// StreamVersion returns the version of the stream's last event, 0 when it
// has none.
func (s *Store) StreamVersion(ctx context.Context, stream string) (uint64, error) {
	return s.core.StreamVersion(ctx, stream)
}

func (s *Store) streamVersion(ctx context.Context, stream string) (uint64, error) {
	var version int64
	err := retry(ctx, s.attempts, func() error {
		return s.pool.QueryRow(ctx, `SELECT version FROM eventstore_streams WHERE name = $1`, stream).Scan(&version)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, s.fail("read version of stream "+strconv.Quote(stream), err)
	}
	return uint64(version), nil
}

// Close stops the subscriptions, waits for their handlers, stops
// listening and closes the connections, as eventstore.Store describes.
func (s *Store) Close(ctx context.Context) error { return s.core.Close(ctx) }

// release stops the listener and the notifier and closes the pool.
func (s *Store) release(ctx context.Context) error {
	err := errors.Join(s.listener.stop(ctx), s.notifier.stop(ctx))
	s.pool.Close()
	return err
}

// query runs a read of at most limit records.
func (s *Store) query(ctx context.Context, what string, limit int, query string, args ...any) ([]eventstore.Record, error) {
	var page []eventstore.Record
	err := retry(ctx, s.attempts, func() error {
		rows, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		page, err = storekit.Collect(rows, scanRecord, limit)
		return err
	})
	if err != nil {
		return nil, s.fail(what, err)
	}
	return page, nil
}

// scanRecord reads one row of the columns.
func scanRecord(rows pgx.Rows) (eventstore.Record, error) {
	var (
		r                 eventstore.Record
		position, version int64
		id, causation     pgtype.UUID
		meta, attrs       string
	)
	e := &r.Envelope
	if err := rows.Scan(&position, &r.Stream, &version, &id, &e.Topic, &e.Time, &e.CorrelationID, &causation,
		&e.Key, &meta, &attrs, &r.ContentType, &r.Data); err != nil {
		return r, err
	}
	e.ID, e.CausationID = uuid.UUID(id.Bytes), uuid.UUID(causation.Bytes)
	e.Time = e.Time.UTC()
	return r, storekit.Complete(&r, position, version, meta, attrs)
}

// fail wraps a database error of the operation what: after Close it
// matches eventstore.ErrClosed, and a number out of range (a version or a
// position past MaxVersion) eventstore.ErrVersionOverflow.
func (s *Store) fail(what string, err error) error {
	if s.core != nil && s.core.Closed() {
		return fmt.Errorf("eventstore: postgres: %s: %w", what, eventstore.ErrClosed)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22003" {
		return fmt.Errorf("%w: postgres: %s: %w", eventstore.ErrVersionOverflow, what, err)
	}
	return fmt.Errorf("eventstore: postgres: %s: %w", what, err)
}
