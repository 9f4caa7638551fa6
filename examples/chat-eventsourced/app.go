package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/eventstore"
	"github.com/busline/eventbus/examples/internal/chatfmt"
)

// isCustomer tells the people who write to support from the agents and
// the AI.
func isCustomer(name string) bool { return name == "alice" || name == "carol" }

// app is one run of the demo on a store.
type app[Tx any] struct {
	out   *lockedWriter
	store eventstore.Store
	db    eventstore.ProjectionDB[Tx]
	ops   sqlOps[Tx]
	ts    *types
	agg   *eventstore.Aggregate[conversation]

	handled  chan struct{} // one per event the transcript printed
	countsMu sync.Mutex
	counts   map[string]int // messages per conversation, for analytics
}

// run plays two support conversations on store: commands go through the
// conversation aggregate into the store; the outbox publishes what was
// stored on the bus, to a transcript, analytics, notifications and an AI
// responder, whose replies go through the aggregate too; a projection
// keeps the open conversations in the store's database. With rebuild the
// read model is built again from the first event first.
func run[Tx any](ctx context.Context, w io.Writer, store eventstore.Store, db eventstore.ProjectionDB[Tx], ops sqlOps[Tx], rebuild bool) error {
	ts, err := newTypes()
	if err != nil {
		return err
	}
	a := &app[Tx]{out: &lockedWriter{w: w}, store: store, db: db, ops: ops, ts: ts, agg: ts.aggregate(),
		handled: make(chan struct{}, 64), counts: make(map[string]int)}
	if err := db.InTx(ctx, func(tx Tx) error { return ops.exec(ctx, tx, createReadModel) }); err != nil {
		return err
	}
	committed := make(chan uint64, 1024)
	model := readModel(ts, ops, func(r eventstore.Record) { committed <- r.Position })
	if rebuild {
		if err := eventstore.RebuildProjection(ctx, db, model); err != nil {
			return err
		}
		a.out.printf("[store] read model emptied, to be rebuilt from the first event\n")
	}
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	a.out.printf("[store] %s stored before this run\n", chatfmt.Count(int(head), "event", "events"))

	bus, err := eventbus.New(eventbus.WithMiddleware(eventbus.Idempotent(4096)))
	if err != nil {
		return err
	}
	outbox, err := a.subscribe(bus)
	if err != nil {
		_ = bus.Close(ctx)
		return err
	}
	projection, err := eventstore.RunProjection(ctx, store, db, model)
	if err != nil {
		_ = bus.Close(ctx)
		return err
	}
	publisher, err := eventstore.RunOutbox(ctx, store, db, outbox)
	if err != nil {
		_ = projection.Stop(ctx)
		_ = bus.Close(ctx)
		return err
	}
	playErr := a.play(ctx, int(head))
	// Wait for the read model to take in every event, then stop.
	last, err := store.Head(ctx)
	for err == nil && playErr == nil {
		var p uint64
		select {
		case p = <-committed:
		case <-projection.Done():
			err = fmt.Errorf("projection: %w", projection.Err())
		case <-ctx.Done():
			err = ctx.Err()
		}
		if p >= last {
			break
		}
	}
	err = errors.Join(playErr, err, publisher.Stop(ctx), projection.Stop(ctx), bus.Close(ctx), publisher.Err(), projection.Err())
	if err != nil {
		return err
	}
	return a.report(ctx)
}

// subscribe adds the bus's subscribers and returns the outbox that feeds
// them.
func (a *app[Tx]) subscribe(bus *eventbus.Bus) (*eventstore.Outbox, error) {
	sent, err := eventbus.NewTopic[MessageSent](bus, a.ts.sent.Topic())
	if err != nil {
		return nil, err
	}
	assigned, err := eventbus.NewTopic[AgentAssigned](bus, a.ts.assigned.Topic())
	if err != nil {
		return nil, err
	}
	closed, err := eventbus.NewTopic[ConversationClosed](bus, a.ts.closed.Topic())
	if err != nil {
		return nil, err
	}
	subs := []func() error{
		func() error {
			_, err := sent.Subscribe("transcript", func(_ context.Context, e *eventbus.Event[MessageSent]) error {
				a.out.printf("[transcript] %s %s: %s\n", e.Payload.ConversationID, e.Payload.From, e.Payload.Text)
				a.handled <- struct{}{}
				return nil
			})
			return err
		},
		func() error {
			_, err := assigned.Subscribe("transcript", func(_ context.Context, e *eventbus.Event[AgentAssigned]) error {
				a.out.printf("[transcript] %s assigned to %s\n", e.Payload.ConversationID, e.Payload.Agent)
				a.handled <- struct{}{}
				return nil
			})
			return err
		},
		func() error {
			_, err := closed.Subscribe("transcript", func(_ context.Context, e *eventbus.Event[ConversationClosed]) error {
				a.out.printf("[transcript] %s closed\n", e.Payload.ConversationID)
				a.handled <- struct{}{}
				return nil
			})
			return err
		},
		func() error {
			_, err := sent.Subscribe("analytics", func(_ context.Context, e *eventbus.Event[MessageSent]) error {
				a.countsMu.Lock()
				a.counts[e.Payload.ConversationID]++
				a.countsMu.Unlock()
				return nil
			})
			return err
		},
		func() error {
			_, err := assigned.Subscribe("notifications", func(_ context.Context, e *eventbus.Event[AgentAssigned]) error {
				a.out.printf("[notify] %s: conversation %s is yours\n", e.Payload.Agent, e.Payload.ConversationID)
				return nil
			})
			return err
		},
		func() error {
			_, err := sent.Subscribe("ai-responder", a.respond)
			return err
		},
	}
	for _, sub := range subs {
		if err := sub(); err != nil {
			return nil, err
		}
	}
	outbox, err := eventstore.NewOutbox("bus", true)
	if err != nil {
		return nil, err
	}
	for _, route := range []error{
		eventstore.Route(outbox, a.ts.sent, sent),
		eventstore.Route(outbox, a.ts.assigned, assigned),
		eventstore.Route(outbox, a.ts.closed, closed),
	} {
		if route != nil {
			return nil, route
		}
	}
	return outbox, nil
}

// respond is the AI responder: it answers a customer's message while the
// conversation has no agent, through the aggregate, as a consequence of
// the message.
func (a *app[Tx]) respond(ctx context.Context, e *eventbus.Event[MessageSent]) error {
	if !isCustomer(e.Payload.From) {
		return nil
	}
	id := e.Payload.ConversationID
	reply := MessageSent{ConversationID: id, From: "ai", Text: "Thanks, " + e.Payload.From + ". An agent will be with you shortly."}
	res, err := a.agg.Execute(ctx, a.store, stream(id), 3, func(c conversation, v uint64) ([]eventstore.Event, error) {
		if c.agent != "" || c.closed {
			return nil, nil
		}
		return a.ts.send(reply, eventstore.CausedBy(&e.Envelope))(c, v)
	})
	if err == nil && res.LastPosition != 0 {
		a.out.printf("[ai] replied in %s (%s)\n", id, chatfmt.Link(e.CorrelationID, e.ID.String()))
	}
	return err
}

// play runs the two conversations' commands, each step waiting until the
// transcript has printed the events it caused.
func (a *app[Tx]) play(ctx context.Context, before int) error {
	first, second := "c"+strconv.Itoa(before+1), "c"+strconv.Itoa(before+2)
	steps := []struct {
		stream string
		decide eventstore.Decide[conversation]
		events int // stored and published by the step, replies included
	}{
		{first, a.ts.send(MessageSent{ConversationID: first, From: "alice", Text: "Hi, my order is late."}), 2},
		{first, a.ts.assign(first, "bob"), 1},
		{first, a.ts.send(MessageSent{ConversationID: first, From: "alice", Text: "It is order 42."}), 1},
		{first, a.ts.send(MessageSent{ConversationID: first, From: "bob", Text: "It ships today, sorry for the wait."}), 1},
		{second, a.ts.send(MessageSent{ConversationID: second, From: "carol", Text: "Can I change my delivery address?"}), 2},
		{first, a.ts.close(first), 1},
	}
	for _, s := range steps {
		if _, err := a.agg.Execute(ctx, a.store, stream(s.stream), 3, s.decide); err != nil {
			return err
		}
		for range s.events {
			select {
			case <-a.handled:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	_, err := a.agg.Execute(ctx, a.store, stream(first), 0, a.ts.send(MessageSent{ConversationID: first, From: "alice", Text: "One more thing!"}))
	a.out.printf("[store] a message after the close is refused: %v\n", err)
	return nil
}

// report prints the analytics and the read model.
func (a *app[Tx]) report(ctx context.Context) error {
	a.countsMu.Lock()
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range a.counts {
			if !yield(id) {
				return
			}
		}
	})
	for _, id := range ids {
		a.out.printf("[analytics] %s: %s this run\n", id, chatfmt.Count(a.counts[id], "message", "messages"))
	}
	a.countsMu.Unlock()
	open, err := listOpen(ctx, a.db, a.ops)
	if err != nil {
		return err
	}
	a.out.printf("[read model] %s:\n", chatfmt.Count(len(open), "open conversation", "open conversations"))
	for _, c := range open {
		agent := c.agent
		if agent == "" {
			agent = "no agent yet"
		}
		a.out.printf("[read model]   %s: %s, %s\n", c.id, chatfmt.Count(int(c.messages), "message", "messages"), agent)
	}
	return nil
}

// lockedWriter serialises the lines that handlers write at once.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}
