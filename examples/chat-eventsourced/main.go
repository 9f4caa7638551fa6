// Command chat-eventsourced is the chat service with its state kept as
// events: a conversation aggregate (message sent, agent assigned,
// conversation closed) appends to an event store, an outbox publishes
// what was stored on the bus to the transcript, analytics, notification
// and AI-responder handlers, and a projection keeps the open
// conversations, with their message counts, in the store's database.
//
// The store is an SQLite file by default (-db), or a PostgreSQL database
// (-postgres URL). Each run adds two conversations; the read model, kept
// in the database, survives from run to run, and -rebuild builds it again
// from the first event.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/busline/eventbus/eventstore/postgres"
	"github.com/busline/eventbus/eventstore/sqlite"
	"github.com/jackc/pgx/v5"
)

func main() {
	dbPath := flag.String("db", "chat-events.db", "SQLite file of the event store and the read model")
	pgURL := flag.String("postgres", "", "URL of a PostgreSQL database to use instead of the SQLite file")
	rebuild := flag.Bool("rebuild", false, "empty the read model and build it again from the first event")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var err error
	if *pgURL != "" {
		err = runPostgres(ctx, os.Stdout, *pgURL, *rebuild)
	} else {
		err = runSQLite(ctx, os.Stdout, *dbPath, *rebuild)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat-eventsourced:", err)
		os.Exit(1)
	}
}

// runSQLite runs the demo on the SQLite file at path.
func runSQLite(ctx context.Context, w io.Writer, path string, rebuild bool) (err error) {
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(context.WithoutCancel(ctx)); err == nil {
			err = cerr
		}
	}()
	fmt.Fprintf(w, "[store] SQLite file %s\n", path)
	return run(ctx, w, store, store, sqlOps[*sql.Tx]{
		exec: func(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
			_, err := tx.ExecContext(ctx, query, args...)
			return err
		},
		rows: func(ctx context.Context, tx *sql.Tx, query string, row func(scan func(dest ...any) error) error) error {
			rows, err := tx.QueryContext(ctx, query)
			if err != nil {
				return err
			}
			defer rows.Close()
			return eachRow(rows, row)
		},
	}, rebuild)
}

// runPostgres runs the demo on the PostgreSQL database at url.
func runPostgres(ctx context.Context, w io.Writer, url string, rebuild bool) (err error) {
	store, err := postgres.Open(ctx, url)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(context.WithoutCancel(ctx)); err == nil {
			err = cerr
		}
	}()
	fmt.Fprintln(w, "[store] PostgreSQL")
	return run(ctx, w, store, store, sqlOps[pgx.Tx]{
		exec: func(ctx context.Context, tx pgx.Tx, query string, args ...any) error {
			_, err := tx.Exec(ctx, query, args...)
			return err
		},
		rows: func(ctx context.Context, tx pgx.Tx, query string, row func(scan func(dest ...any) error) error) error {
			rows, err := tx.Query(ctx, query)
			if err != nil {
				return err
			}
			defer rows.Close()
			return eachRow(rows, row)
		},
	}, rebuild)
}

// rows is what database/sql's and pgx's rows have in common.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// eachRow calls row with the scan function of each row of rs.
func eachRow(rs rows, row func(scan func(dest ...any) error) error) error {
	for rs.Next() {
		if err := row(rs.Scan); err != nil {
			return err
		}
	}
	return rs.Err()
}
