package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/examples/internal/chatfmt"
)

// MessageSent is the payload of the "message.sent" topic.
type MessageSent struct {
	ConversationID string `json:"conversationId"`
	From           string `json:"from"`
	FromAgent      bool   `json:"fromAgent,omitempty"`
	Text           string `json:"text"`
	Attachment     string `json:"attachment,omitempty"`
}

// AIReplyGenerated is the payload of the "ai.reply.generated" topic.
type AIReplyGenerated struct {
	ConversationID string `json:"conversationId"`
	Text           string `json:"text"`
}

const (
	topicMessageSent = "message.sent"
	topicAIReply     = "ai.reply.generated"
)

// script is the conversation the chat service plays, in order.
var script = []MessageSent{
	{ConversationID: "conv-1001", From: "alice", Text: "Hi! My order #4411 still hasn't arrived."},
	{ConversationID: "conv-1002", From: "bob", Text: "How do I change my billing address?"},
	{ConversationID: "conv-1001", From: "alice", Text: "It was due last Monday."},
	{ConversationID: "conv-1003", From: "chen", Text: "I was charged twice this month, statement attached.", Attachment: "statement.pdf"},
	{ConversationID: "conv-1001", From: "maria", FromAgent: true, Text: "Hi Alice, the courier will redeliver #4411 tomorrow morning."},
	{ConversationID: "conv-1002", From: "bob", Text: "Found it, thanks!"},
	{ConversationID: "conv-1003", From: "chen", Text: "Great, how long does a refund take?"},
}

// expectedReplies is how many AI replies the script earns: one per
// customer message without an attachment.
func expectedReplies() int {
	n := 0
	for _, m := range script {
		if !m.FromAgent && m.Attachment == "" {
			n++
		}
	}
	return n
}

// agents assigns each conversation to the agent the notification alerts.
var agents = map[string]string{"conv-1001": "maria", "conv-1002": "maria", "conv-1003": "sam"}

// chatTopics returns the two topics of the chat, which both processes use.
func chatTopics(bus *eventbus.Bus) (*eventbus.Topic[MessageSent], *eventbus.Topic[AIReplyGenerated], error) {
	sent, err := eventbus.NewTopic[MessageSent](bus, topicMessageSent)
	if err != nil {
		return nil, nil, err
	}
	replies, err := eventbus.NewTopic[AIReplyGenerated](bus, topicAIReply)
	return sent, replies, err
}

// runService is the chat service's process: it publishes the script on
// "message.sent" and shows the AI's replies, which arrive from the workers'
// process through the broker, until it has them all. It returns the
// subscriptions it made, for their stats.
func runService(ctx context.Context, bus *eventbus.Bus, w io.Writer) ([]*eventbus.Subscription, error) {
	sent, replies, err := chatTopics(bus)
	if err != nil {
		return nil, err
	}
	shown := make(chan *eventbus.Event[AIReplyGenerated], len(script))
	sub, err := replies.Subscribe("chat-service", func(ctx context.Context, e *eventbus.Event[AIReplyGenerated]) error {
		select {
		case shown <- e:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	if err != nil {
		return nil, err
	}
	subs := []*eventbus.Subscription{sub}

	fmt.Fprintf(w, "publishing %s\n", chatfmt.Count(len(script), "message", "messages"))
	for _, m := range script {
		// Publish returns once the broker has stored the event.
		if err := sent.Publish(ctx, m, eventbus.WithKey(m.ConversationID)); err != nil {
			return subs, fmt.Errorf("publish: %w", err)
		}
		fmt.Fprintf(w, "[%s] %s: %s\n", m.ConversationID, m.From, m.Text)
	}

	want := expectedReplies()
	wait := time.NewTimer(30 * time.Second)
	defer wait.Stop()
	for got := 0; got < want; got++ {
		select {
		case e := <-shown:
			fmt.Fprintf(w, "[%s] AI assistant: %s\n", e.Payload.ConversationID, e.Payload.Text)
			fmt.Fprintf(w, "    %s\n", chatfmt.Link(e.CorrelationID, e.CausationID.String()))
		case <-wait.C:
			return subs, fmt.Errorf("only %d of %d AI replies arrived in time", got, want)
		case <-ctx.Done():
			return subs, ctx.Err()
		}
	}
	fmt.Fprintf(w, "all %d AI replies received\n", want)
	return subs, nil
}

// expectedTasks is how many handler successes the script causes in the
// workers' process: analytics and notification succeed once for every
// message (notification has nothing to do for an agent's), the AI
// responder for every message without an attachment (it has nothing to do
// for an agent's either), and the operations inbox once for each message
// with an attachment, whose failure it reads. Counting the messages a
// handler has nothing to do for means that once every task is done, every
// subscriber has handled every event, and the delivery stats are final.
func expectedTasks() int {
	attachments := 0
	for _, m := range script {
		if m.Attachment != "" {
			attachments++
		}
	}
	return len(script) + len(script) + (len(script) - attachments) + attachments
}

// workers are the subscribers that run in the workers' process.
type workers struct {
	out     *roleWriter
	gateway *pushGateway
	subs    []*eventbus.Subscription // for their stats

	mu       sync.Mutex
	counts   map[string]int // messages per conversation, for analytics
	tasks    int            // handler successes so far
	expected int            // tasks the script causes
	done     chan<- struct{}
}

// taskDone records a handler success, and says so once every task the
// script causes is done.
func (wk *workers) taskDone() {
	wk.mu.Lock()
	wk.tasks++
	finished := wk.tasks == wk.expected
	wk.mu.Unlock()
	if finished {
		wk.out.printf(doneLine)
		if wk.done != nil {
			close(wk.done)
		}
	}
}

func newWorkers(out *roleWriter) *workers {
	return &workers{out: out, gateway: &pushGateway{failFirst: 2}, counts: make(map[string]int), expected: expectedTasks()}
}

// subscribe wires the analytics, notification and AI responder
// subscribers, and the operations inbox of dead letters, to bus.
func (wk *workers) subscribe(bus *eventbus.Bus) error {
	sent, replies, err := chatTopics(bus)
	if err != nil {
		return err
	}
	dead, err := eventbus.NewTopic[eventbus.FailedDelivery](bus, eventbus.DefaultDeadLetterTopic)
	if err != nil {
		return err
	}
	// Delivery through a broker is at least once: the Idempotent middleware
	// makes analytics count each message once even if it comes again.
	once := eventbus.Idempotent(10_000)
	respond := func(ctx context.Context, e *eventbus.Event[MessageSent]) error {
		m := e.Payload
		if m.FromAgent {
			wk.taskDone()
			return nil
		}
		if m.Attachment != "" {
			// Redelivering will not help: a permanent error is dead-lettered
			// at once.
			return eventbus.Permanent(fmt.Errorf("ai-responder cannot read attachment %q", m.Attachment))
		}
		// Published with the handler's ctx, the reply continues the
		// message's correlation chain.
		err := replies.Publish(ctx, AIReplyGenerated{ConversationID: m.ConversationID, Text: cannedReply(m.Text)},
			eventbus.WithKey(m.ConversationID))
		if err == nil {
			wk.out.printf("ai-responder: replied to %s in %s", m.From, m.ConversationID)
			wk.taskDone()
		}
		return err
	}
	add := func(sub *eventbus.Subscription, err error) error {
		if err == nil {
			wk.subs = append(wk.subs, sub)
		}
		return err
	}
	return errors.Join(
		add(sent.Subscribe("analytics", wk.count, eventbus.WithSubscriptionMiddleware(once))),
		add(sent.Subscribe("notification", wk.notify)),
		add(sent.Subscribe("ai-responder", respond)),
		add(dead.Subscribe("ops-inbox", wk.inbox)),
	)
}

func (wk *workers) count(_ context.Context, e *eventbus.Event[MessageSent]) error {
	wk.mu.Lock()
	wk.counts[e.Payload.ConversationID]++
	n := wk.counts[e.Payload.ConversationID]
	wk.mu.Unlock()
	wk.out.printf("analytics: %s has %s", e.Payload.ConversationID, chatfmt.Count(n, "message", "messages"))
	wk.taskDone()
	return nil
}

// notify alerts the conversation's agent; the push gateway fails at first,
// and the broker delivers the event again after a backoff.
func (wk *workers) notify(ctx context.Context, e *eventbus.Event[MessageSent]) error {
	m := e.Payload
	if m.FromAgent {
		wk.taskDone()
		return nil
	}
	deliveries := 1
	if d, ok := eventbus.DeliveryFromContext(ctx); ok {
		deliveries = d.Deliveries
	}
	agent := agents[m.ConversationID]
	if err := wk.gateway.push(); err != nil {
		wk.out.printf("notification: delivery %d of %s failed: %v", deliveries, e.ID, err)
		return fmt.Errorf("alert %s: %w", agent, err)
	}
	wk.out.printf("notification: %s alerted about %s's message on delivery %d", agent, m.From, deliveries)
	wk.taskDone()
	return nil
}

func (wk *workers) inbox(_ context.Context, e *eventbus.Event[eventbus.FailedDelivery]) error {
	dl := e.Payload
	wk.out.printf("ops-inbox: dead letter from %s after %s: %s", dl.Subscriber, chatfmt.Count(dl.Attempts, "delivery", "deliveries"), dl.Error)
	wk.taskDone()
	return nil
}

// printSummary prints the analytics counts, one conversation per line.
func (wk *workers) printSummary() {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	for _, conv := range []string{"conv-1001", "conv-1002", "conv-1003"} {
		wk.out.printf("analytics: %s: %s in all", conv, chatfmt.Count(wk.counts[conv], "message", "messages"))
	}
}

// pushGateway stands for a mobile push service that fails its first calls.
type pushGateway struct {
	mu        sync.Mutex
	failFirst int
}

func (g *pushGateway) push() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failFirst > 0 {
		g.failFirst--
		return errors.New("push gateway unavailable")
	}
	return nil
}

func cannedReply(text string) string {
	switch {
	case strings.Contains(text, "order"):
		return "I'm checking your order with the courier now."
	case strings.Contains(text, "billing"):
		return "You can change it under Settings > Billing."
	case strings.Contains(text, "refund"):
		return "Refunds reach your account within 5 business days."
	}
	return "Thanks, glad I could help!"
}
