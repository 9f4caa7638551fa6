package eventstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/busline/eventbus/eventstore"
	"github.com/busline/eventbus/eventstore/sqlite"
)

type messageSent struct {
	Text string `json:"text"`
}

type conversationClosed struct{}

// conversation is the state of a conversation stream.
type conversation struct {
	messages int
	closed   bool
}

var errClosedConversation = errors.New("conversation is closed")

// conversations is a conversation aggregate over its two event types.
type conversations struct {
	sent   *eventstore.Type[messageSent]
	closed *eventstore.Type[conversationClosed]
	agg    eventstore.Aggregate[conversation]
}

func newConversations(t *testing.T) *conversations {
	t.Helper()
	sent, err := eventstore.NewType[messageSent]("message.sent", nil)
	if err != nil {
		t.Fatal(err)
	}
	closed, err := eventstore.NewType[conversationClosed]("conversation.closed", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &conversations{sent: sent, closed: closed}
	c.agg.Apply = func(s conversation, r eventstore.Record) (conversation, error) {
		switch {
		case sent.Is(r):
			if _, err := sent.Decode(r); err != nil {
				return s, err
			}
			s.messages++
		case closed.Is(r):
			s.closed = true
		}
		return s, nil
	}
	return c
}

// send decides a message.
func (c *conversations) send(text string) eventstore.Decide[conversation] {
	return func(s conversation, _ uint64) ([]eventstore.Event, error) {
		if s.closed {
			return nil, errClosedConversation
		}
		e, err := c.sent.New(messageSent{Text: text})
		return []eventstore.Event{e}, err
	}
}

func openMemory(t *testing.T) *sqlite.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return st
}

func TestAggregate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := openMemory(t)
	c := newConversations(t)

	state, version, err := c.agg.Load(ctx, st, "conversation-1")
	if err != nil || version != 0 || state != (conversation{}) {
		t.Fatalf("a new stream loads as %+v at version %d, %v", state, version, err)
	}
	for _, text := range []string{"Hi!", "Hello."} {
		if _, err := c.agg.Execute(ctx, st, "conversation-1", 0, c.send(text)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.agg.Execute(ctx, st, "conversation-1", 0, func(s conversation, v uint64) ([]eventstore.Event, error) {
		if s.messages != 2 || v != 2 {
			t.Errorf("decide got %+v at version %d, want 2 messages at version 2", s, v)
		}
		e, err := c.closed.New(conversationClosed{})
		return []eventstore.Event{e}, err
	})
	if err != nil || res.LastVersion != 3 {
		t.Fatalf("close: %+v, %v", res, err)
	}
	if _, err := c.agg.Execute(ctx, st, "conversation-1", 0, c.send("late")); !errors.Is(err, errClosedConversation) {
		t.Errorf("sending to a closed conversation: %v, want the decision's error", err)
	}
	res, err = c.agg.Execute(ctx, st, "conversation-1", 0, func(conversation, uint64) ([]eventstore.Event, error) { return nil, nil })
	if err != nil || res.LastVersion != 3 || res.LastPosition != 0 {
		t.Errorf("a decision without events: %+v, %v", res, err)
	}
	if _, err := c.agg.Execute(ctx, st, "conversation-1", 0, nil); !errors.Is(err, eventstore.ErrInvalidOption) {
		t.Errorf("nil decide: %v", err)
	}

	// A writer that gets in between makes the append conflict; a retry
	// decides again on the new state.
	interfere := func(retries int) (int, error) {
		calls := 0
		_, err := c.agg.Execute(ctx, st, "conversation-2", retries, func(s conversation, v uint64) ([]eventstore.Event, error) {
			calls++
			if calls == 1 {
				if _, err := c.agg.Execute(ctx, st, "conversation-2", 0, c.send("in between")); err != nil {
					return nil, err
				}
			}
			return c.send("mine")(s, v)
		})
		return calls, err
	}
	calls, err := interfere(0)
	var ce *eventstore.ConflictError
	if !errors.As(err, &ce) || calls != 1 {
		t.Fatalf("without retries: %v after %d calls, want a *ConflictError after 1", err, calls)
	}
	calls, err = interfere(1)
	if err != nil || calls != 2 {
		t.Fatalf("with a retry: %v after %d calls, want success after 2", err, calls)
	}

	// Concurrent commands on one stream all succeed with enough retries.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if _, err := c.agg.Execute(ctx, st, "conversation-3", 100, c.send("concurrent")); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s, v, err := c.agg.Load(ctx, st, "conversation-3"); err != nil || s.messages != 8 || v != 8 {
		t.Errorf("after 8 concurrent commands: %+v at version %d, %v", s, v, err)
	}

	// An Apply error fails the load.
	broken := eventstore.Aggregate[int]{Apply: func(int, eventstore.Record) (int, error) { return 0, errors.New("bad fold") }}
	if _, _, err := broken.Load(ctx, st, "conversation-1"); err == nil {
		t.Error("an Apply error did not fail the load")
	}
}
