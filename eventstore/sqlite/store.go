package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/busline/eventbus/eventstore"
	"github.com/busline/eventbus/eventstore/internal/storekit"
	"github.com/google/uuid"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// Memory is the path of an in-memory store, which lives as long as the
// Store.
const Memory = ":memory:"

// Store is an eventstore.Store in an SQLite database. Make one with Open.
type Store struct {
	path  string
	write *sql.DB // one connection: appends are serialised in the process
	stmts statements
	read  *sql.DB // the write connection for an in-memory store
	core  *storekit.Core
}

var _ eventstore.Store = (*Store)(nil)

// Open opens the store in the SQLite database file at path, creating the
// file and the store's tables when they are missing, or an in-memory store
// for the path Memory. A file is put in WAL mode. The path must not hold a
// '?'. Errors about options match eventstore.ErrInvalidOption.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if path == "" || strings.Contains(path, "?") {
		return nil, fmt.Errorf("%w: sqlite: path %q: want a file path without '?', or %q", eventstore.ErrInvalidOption, path, Memory)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(0)")
	if path != Memory {
		q.Add("_pragma", "journal_mode(wal)")
		q.Add("_pragma", "synchronous(full)")
	}
	readQuery := q.Encode()
	q.Set("_txlock", "immediate")
	write, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("eventstore: sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	s := &Store{path: path, write: write, read: write}
	if _, err := write.ExecContext(ctx, schema); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("eventstore: sqlite: create tables in %s: %w", path, err)
	}
	if s.stmts, err = prepare(ctx, write); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("eventstore: sqlite: %s: %w", path, err)
	}
	if path != Memory {
		read, err := sql.Open("sqlite", path+"?"+readQuery+"&_pragma=query_only(1)")
		if err != nil {
			_ = write.Close()
			return nil, fmt.Errorf("eventstore: sqlite: open %s: %w", path, err)
		}
		read.SetMaxOpenConns(cfg.readers)
		read.SetMaxIdleConns(cfg.readers)
		s.read = read
	}
	s.core = storekit.NewCore(storekit.Backend{
		Append: s.append, StreamPage: s.readStreamPage, AllPage: s.readAllPage,
		Head: s.head, StreamVersion: s.streamVersion, Release: s.release, Poll: cfg.poll,
	})
	return s, nil
}

// Append appends events to stream, as eventstore.Store describes, in one
// immediate transaction: the stream's version and the next positions are
// read and the events written under SQLite's write lock, so positions
// commit in order.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.Event) (eventstore.AppendResult, error) {
	return s.core.Append(ctx, stream, expected, events)
}

func (s *Store) append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events []eventstore.Event) (res eventstore.AppendResult, err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return res, s.fail("append to "+strconv.Quote(stream), err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var version, head uint64
	err = tx.StmtContext(ctx, s.stmts.versions).QueryRowContext(ctx, stream).Scan(&version, &head)
	if err != nil {
		return res, s.fail("append to "+strconv.Quote(stream), err)
	}
	if err := expected.Check(stream, version); err != nil {
		return res, err
	}
	n := uint64(len(events))
	if n > eventstore.MaxVersion-version {
		return res, fmt.Errorf("%w: stream %q at version %d cannot take %d more events", eventstore.ErrVersionOverflow, stream, version, n)
	}
	if n > eventstore.MaxVersion-head {
		return res, fmt.Errorf("%w: the store at position %d cannot take %d more events", eventstore.ErrVersionOverflow, head, n)
	}
	insert := tx.StmtContext(ctx, s.stmts.insert)
	for i, e := range events {
		meta, err := storekit.EncodeMetadata(e.Envelope.Metadata)
		if err != nil {
			return res, err
		}
		attrs, err := storekit.EncodeCloudEvent(e.Envelope.CloudEvent)
		if err != nil {
			return res, err
		}
		var causation []byte
		if e.Envelope.CausationID != uuid.Nil {
			causation = e.Envelope.CausationID[:]
		} else {
			causation = []byte{}
		}
		_, err = insert.ExecContext(ctx, int64(head)+int64(i)+1, stream, int64(version)+int64(i)+1,
			e.Envelope.ID[:], e.Envelope.Topic, e.Envelope.Time.UnixMicro(), e.Envelope.CorrelationID,
			causation, e.Envelope.Key, meta, attrs,
			e.ContentType, e.Data)
		if err != nil {
			return res, s.fail("append to "+strconv.Quote(stream), err)
		}
	}
	if _, err := tx.StmtContext(ctx, s.stmts.setVersion).ExecContext(ctx, stream, int64(version+n)); err != nil {
		return res, s.fail("append to "+strconv.Quote(stream), err)
	}
	if err := tx.Commit(); err != nil {
		return res, s.fail("append to "+strconv.Quote(stream), err)
	}
	return eventstore.AppendResult{
		FirstVersion: version + 1, LastVersion: version + n,
		FirstPosition: head + 1, LastPosition: head + n,
	}, nil
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
		`SELECT `+columns+` FROM eventstore_events WHERE stream = ? AND version >= ? ORDER BY version LIMIT ?`, stream, int64(from), limit)
}

func (s *Store) readAllPage(ctx context.Context, from uint64, limit int) ([]eventstore.Record, error) {
	return s.query(ctx, "read all", limit, `SELECT `+columns+` FROM eventstore_events WHERE position >= ? ORDER BY position LIMIT ?`, int64(from), limit)
}

// SubscribeAll follows every event from position from on, as
// eventstore.Store describes. The store's own appends wake a subscription
// at once; those of other processes writing the same file are seen within
// the poll interval (WithPollInterval).
func (s *Store) SubscribeAll(ctx context.Context, from uint64, handler eventstore.Handler) (*eventstore.Subscription, error) {
	return s.core.SubscribeAll(ctx, from, handler)
}

// Head returns the position of the last event, 0 when there is none.
func (s *Store) Head(ctx context.Context) (uint64, error) { return s.core.Head(ctx) }

func (s *Store) head(ctx context.Context) (uint64, error) {
	var head int64
	if err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(position), 0) FROM eventstore_events`).Scan(&head); err != nil {
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
	switch err := s.read.QueryRowContext(ctx, `SELECT version FROM eventstore_streams WHERE name = ?`, stream).Scan(&version); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, s.fail("read version of stream "+strconv.Quote(stream), err)
	}
	return uint64(version), nil
}

// Close stops the subscriptions, waits for their handlers, and closes the
// database, as eventstore.Store describes. An in-memory store's events are
// gone then.
func (s *Store) Close(ctx context.Context) error { return s.core.Close(ctx) }

// release closes the database.
func (s *Store) release(context.Context) error {
	var err error
	if s.read != s.write {
		err = s.read.Close()
	}
	return errors.Join(err, s.stmts.close(), s.write.Close())
}

// query runs a read of at most limit records.
func (s *Store) query(ctx context.Context, what string, limit int, query string, args ...any) ([]eventstore.Record, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, s.fail(what, err)
	}
	defer rows.Close()
	page, err := storekit.Collect(rows, scanRecord, limit)
	if err != nil {
		return nil, s.fail(what, err)
	}
	return page, nil
}

// scanRecord reads one row of the columns.
func scanRecord(rows *sql.Rows) (eventstore.Record, error) {
	var (
		r                 eventstore.Record
		position, version int64
		id, causation     []byte
		micros            int64
		meta, attrs       string
	)
	e := &r.Envelope
	if err := rows.Scan(&position, &r.Stream, &version, &id, &e.Topic, &micros, &e.CorrelationID, &causation,
		&e.Key, &meta, &attrs, &r.ContentType, &r.Data); err != nil {
		return r, err
	}
	err := storekit.Complete(&r, position, version, meta, attrs)
	if err != nil {
		return r, err
	}
	if e.ID, err = uuid.FromBytes(id); err != nil {
		return r, fmt.Errorf("stored event id at position %d: %w", position, err)
	}
	if len(causation) > 0 {
		if e.CausationID, err = uuid.FromBytes(causation); err != nil {
			return r, fmt.Errorf("stored causation id at position %d: %w", position, err)
		}
	}
	e.Time = time.UnixMicro(micros).UTC()
	return r, nil
}

// fail wraps a database error of the operation what; after Close it is
// eventstore.ErrClosed, and a ctx error is kept matchable.
func (s *Store) fail(what string, err error) error {
	if s.core != nil && s.core.Closed() {
		return fmt.Errorf("eventstore: sqlite: %s: %w", what, eventstore.ErrClosed)
	}
	return fmt.Errorf("eventstore: sqlite: %s: %w", what, err)
}
