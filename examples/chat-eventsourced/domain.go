package main

import (
	"errors"
	"fmt"

	"github.com/busline/eventbus/eventstore"
)

// The events of a conversation.
type (
	// MessageSent is a message written in a conversation.
	MessageSent struct {
		ConversationID string `json:"conversationId"`
		From           string `json:"from"`
		Text           string `json:"text"`
	}
	// AgentAssigned gives a conversation to a support agent.
	AgentAssigned struct {
		ConversationID string `json:"conversationId"`
		Agent          string `json:"agent"`
	}
	// ConversationClosed ends a conversation.
	ConversationClosed struct {
		ConversationID string `json:"conversationId"`
	}
)

// errClosed refuses a command on a closed conversation.
var errClosed = errors.New("the conversation is closed")

// types are the event types of a conversation, named as the bus topics.
type types struct {
	sent     *eventstore.Type[MessageSent]
	assigned *eventstore.Type[AgentAssigned]
	closed   *eventstore.Type[ConversationClosed]
}

func newTypes() (*types, error) {
	sent, err := eventstore.NewType[MessageSent]("message.sent", nil)
	if err != nil {
		return nil, err
	}
	assigned, err := eventstore.NewType[AgentAssigned]("agent.assigned", nil)
	if err != nil {
		return nil, err
	}
	closed, err := eventstore.NewType[ConversationClosed]("conversation.closed", nil)
	if err != nil {
		return nil, err
	}
	return &types{sent: sent, assigned: assigned, closed: closed}, nil
}

// conversation is the state of the conversation aggregate.
type conversation struct {
	messages int
	agent    string
	closed   bool
}

// aggregate folds a conversation's events.
func (ts *types) aggregate() *eventstore.Aggregate[conversation] {
	return &eventstore.Aggregate[conversation]{
		Apply: func(c conversation, r eventstore.Record) (conversation, error) {
			switch {
			case ts.sent.Is(r):
				c.messages++
			case ts.assigned.Is(r):
				e, err := ts.assigned.Decode(r)
				if err != nil {
					return c, err
				}
				c.agent = e.Payload.Agent
			case ts.closed.Is(r):
				c.closed = true
			}
			return c, nil
		},
	}
}

// stream is the name of a conversation's stream.
func stream(conversationID string) string { return "conversation-" + conversationID }

// send decides a message, refused once the conversation is closed.
func (ts *types) send(m MessageSent, opts ...eventstore.EventOption) eventstore.Decide[conversation] {
	return func(c conversation, _ uint64) ([]eventstore.Event, error) {
		if c.closed {
			return nil, fmt.Errorf("%s: %w", m.ConversationID, errClosed)
		}
		e, err := ts.sent.New(m, opts...)
		return []eventstore.Event{e}, err
	}
}

// assign decides an agent's assignment, if the conversation has none.
func (ts *types) assign(id, agent string) eventstore.Decide[conversation] {
	return func(c conversation, _ uint64) ([]eventstore.Event, error) {
		if c.closed {
			return nil, fmt.Errorf("%s: %w", id, errClosed)
		}
		if c.agent == agent {
			return nil, nil
		}
		e, err := ts.assigned.New(AgentAssigned{ConversationID: id, Agent: agent})
		return []eventstore.Event{e}, err
	}
}

// close decides the end of the conversation, once.
func (ts *types) close(id string) eventstore.Decide[conversation] {
	return func(c conversation, _ uint64) ([]eventstore.Event, error) {
		if c.closed {
			return nil, nil
		}
		e, err := ts.closed.New(ConversationClosed{ConversationID: id})
		return []eventstore.Event{e}, err
	}
}
