package main

import (
	"context"

	"github.com/busline/eventbus/eventstore"
)

// sqlOps runs the read model's statements in a transaction of type Tx of
// the store's database: *sql.Tx for SQLite, pgx.Tx for PostgreSQL.
type sqlOps[Tx any] struct {
	exec func(ctx context.Context, tx Tx, query string, args ...any) error
	// rows runs a query and calls row with each row's scan function.
	rows func(ctx context.Context, tx Tx, query string, row func(scan func(dest ...any) error) error) error
}

// openConversation is a row of the read model.
type openConversation struct {
	id       string
	messages int64
	agent    string
}

const createReadModel = `CREATE TABLE IF NOT EXISTS open_conversations (
	id       TEXT PRIMARY KEY,
	messages INTEGER NOT NULL,
	agent    TEXT NOT NULL
)`

// readModel returns the projection of the open conversations.
func readModel[Tx any](ts *types, ops sqlOps[Tx], committed func(r eventstore.Record)) eventstore.Projection[Tx] {
	return eventstore.Projection[Tx]{
		Name: "open-conversations",
		Apply: func(ctx context.Context, tx Tx, r eventstore.Record) error {
			switch {
			case ts.sent.Is(r):
				e, err := ts.sent.Decode(r)
				if err != nil {
					return err
				}
				return ops.exec(ctx, tx, `INSERT INTO open_conversations (id, messages, agent) VALUES ($1, 1, '')
ON CONFLICT (id) DO UPDATE SET messages = open_conversations.messages + 1`, e.Payload.ConversationID)
			case ts.assigned.Is(r):
				e, err := ts.assigned.Decode(r)
				if err != nil {
					return err
				}
				return ops.exec(ctx, tx, `INSERT INTO open_conversations (id, messages, agent) VALUES ($1, 0, $2)
ON CONFLICT (id) DO UPDATE SET agent = excluded.agent`, e.Payload.ConversationID, e.Payload.Agent)
			case ts.closed.Is(r):
				e, err := ts.closed.Decode(r)
				if err != nil {
					return err
				}
				return ops.exec(ctx, tx, `DELETE FROM open_conversations WHERE id = $1`, e.Payload.ConversationID)
			}
			return nil
		},
		Reset: func(ctx context.Context, tx Tx) error {
			return ops.exec(ctx, tx, `DELETE FROM open_conversations`)
		},
		Committed: committed,
	}
}

// listOpen reads the read model.
func listOpen[Tx any](ctx context.Context, db eventstore.ProjectionDB[Tx], ops sqlOps[Tx]) ([]openConversation, error) {
	var out []openConversation
	err := db.InTx(ctx, func(tx Tx) error {
		out = out[:0]
		return ops.rows(ctx, tx, `SELECT id, messages, agent FROM open_conversations ORDER BY id`, func(scan func(dest ...any) error) error {
			var c openConversation
			if err := scan(&c.id, &c.messages, &c.agent); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}
