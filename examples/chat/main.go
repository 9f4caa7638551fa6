// Command chat is a small customer-support chat service built on eventbus.
//
// The service publishes a "message.sent" event for every message of a short
// scripted conversation. Four subscribers react to it:
//
//   - analytics counts messages per conversation;
//   - notification alerts the conversation's agent through a push gateway
//     that is flaky at first: its first calls fail, and the Retry
//     middleware calls the handler again after a few milliseconds;
//   - ai-responder answers customers with a canned reply, published on
//     "ai.reply.generated" with the handler's ctx, so that the reply carries
//     the message's correlation ID and has the message's ID as its causation
//     ID. It cannot read attachments: such a message fails permanently and
//     the DeadLetter middleware routes it to the "deadletter" topic, where
//     an operations inbox picks it up;
//   - audit-log records every event of every topic with its event ID: it
//     subscribes to the pattern ">", which matches every topic name.
//
// The chat service subscribes to "ai.reply.generated" to show the replies
// in the transcript. "message.sent" keeps its last messages (WithRetention),
// so that once the script has played, a transcript subscriber that joins
// late replays the whole conversation from the oldest message
// (WithStart(FromOldest())) and then follows it live: the agent's closing
// message reaches it as a live event. At the end the program closes the bus
// and prints the delivery stats.
//
// Run it with:
//
//	go run ./examples/chat
//
// With -debug, it also serves the bus's debug page (package debugpage) on
// the address given, prints its URL, and keeps running after the script
// until interrupted, publishing each line read from the standard input as
// a new customer message (see debug.go):
//
//	go run ./examples/chat -debug 127.0.0.1:6060
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/examples/internal/chatfmt"
)

// MessageSent is the payload of the "message.sent" topic.
type MessageSent struct {
	ConversationID string
	From           string
	FromAgent      bool // written by a support agent, not a customer
	Text           string
	Attachment     string // file name of an attached file, or empty
}

// AIReplyGenerated is the payload of the "ai.reply.generated" topic.
type AIReplyGenerated struct {
	ConversationID string
	Text           string
}

const (
	topicMessageSent = "message.sent"
	topicAIReply     = "ai.reply.generated"
)

// script is the conversation the demo plays, in order.
var script = []MessageSent{
	{ConversationID: "conv-1001", From: "alice", Text: "Hi! My order #4411 still hasn't arrived."},
	{ConversationID: "conv-1002", From: "bob", Text: "How do I change my billing address?"},
	{ConversationID: "conv-1001", From: "alice", Text: "It was due last Monday."},
	{ConversationID: "conv-1003", From: "chen", Text: "I was charged twice this month, statement attached.", Attachment: "statement.pdf"},
	{ConversationID: "conv-1001", From: "maria", FromAgent: true, Text: "Hi Alice, the courier will redeliver #4411 tomorrow morning."},
	{ConversationID: "conv-1002", From: "bob", Text: "Found it, thanks!"},
	{ConversationID: "conv-1003", From: "sam", FromAgent: true, Text: "Hi Chen, I see the duplicate charge and have refunded it."},
	{ConversationID: "conv-1003", From: "chen", Text: "Great, how long does a refund take?"},
	{ConversationID: "conv-1001", From: "alice", Text: "Perfect, thank you!"},
}

// agents assigns each conversation to the agent the notification alerts.
var agents = map[string]string{"conv-1001": "maria", "conv-1002": "maria", "conv-1003": "sam", liveConversation: "sam"}

func main() {
	debugAddr := flag.String("debug", "", "serve the debug page on `addr` (such as 127.0.0.1:0), and publish each line of the standard input as a message until interrupted")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	if *debugAddr == "" {
		err = run(ctx, os.Stdout)
	} else {
		err = runDebug(ctx, os.Stdout, *debugAddr, readLines(os.Stdin))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

// run plays the script on a new bus, writing the transcript, a summary and
// the delivery stats to w. It returns once the bus is closed.
func run(ctx context.Context, w io.Writer) error {
	return runChat(ctx, w, nil)
}

// runChat is run, and with dbg, serves the debug page and follows dbg's
// lines after the script.
func runChat(ctx context.Context, w io.Writer, dbg *debugSession) error {
	opsLog := &lineBuffer{}
	logger := slog.New(slog.NewTextHandler(opsLog, &slog.HandlerOptions{
		Level:       slog.LevelWarn,
		ReplaceAttr: dropVolatileAttrs,
	}))

	retry := eventbus.Retry(eventbus.RetryPolicy{
		MaxAttempts:     4,
		InitialInterval: 5 * time.Millisecond,
		MaxInterval:     50 * time.Millisecond,
	})
	// Outermost first: only final failures are logged and dead-lettered;
	// every attempt is recovered from panics and gets its own deadline.
	opts := []eventbus.Option{eventbus.WithLogger(logger)}
	middleware := []eventbus.Middleware{eventbus.DeadLetter(), eventbus.Logging(logger), retry,
		eventbus.Recover(), eventbus.Timeout(2 * time.Second)}
	if dbg != nil {
		var err error
		if opts, middleware, err = dbg.plugIn(opts, middleware); err != nil {
			return err
		}
	}
	bus, err := eventbus.New(append(opts, eventbus.WithMiddleware(middleware...))...)
	if err != nil {
		return err
	}

	if dbg != nil {
		err = dbg.serve(bus, w)
	}
	var app *chat
	if err == nil {
		app, err = newChat(bus)
	}
	if err == nil {
		err = app.play(ctx, w)
	}
	if err == nil {
		err = app.joinLate(ctx, w)
	}
	if err == nil && dbg != nil {
		err = app.follow(ctx, w, dbg.lines)
	}

	// Close even after an error, so that no goroutine outlives run.
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if dbg != nil {
		err = errors.Join(err, dbg.stop(closeCtx))
	}
	if cerr := bus.Close(closeCtx); cerr != nil {
		return errors.Join(err, fmt.Errorf("close: %w", cerr))
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "Bus closed: every queued event was handled and every worker has stopped.")
	fmt.Fprintln(w)

	app.printSummary(w, opsLog)
	return app.printStats(w, bus.Stats())
}

// chat is the service and the subscribers it wires up.
type chat struct {
	sent    *eventbus.Topic[MessageSent]
	replies *eventbus.Topic[AIReplyGenerated]
	subs    []*eventbus.Subscription

	gateway   *pushGateway
	analytics *analytics
	audit     *auditLog
	auditSub  *eventbus.PatternSubscription
	notes     *lineBuffer // what the notification handler did, per message

	shownReplies chan shownReply              // from the chat service's own subscriber
	deadLetters  chan eventbus.FailedDelivery // from the operations inbox
	transcript   chan transcriptLine          // from the late transcript writer
}

// shownReply is an AI reply as the chat service received it.
type shownReply struct {
	payload       AIReplyGenerated
	correlationID string
	causationID   string
}

func newChat(bus *eventbus.Bus) (*chat, error) {
	c := &chat{
		gateway:      &pushGateway{failFirst: 2},
		analytics:    &analytics{counts: make(map[string]int)},
		audit:        &auditLog{},
		notes:        &lineBuffer{},
		shownReplies: make(chan shownReply, len(script)),
		deadLetters:  make(chan eventbus.FailedDelivery, len(script)),
		transcript:   make(chan transcriptLine, len(script)+1),
	}
	var err error
	// The topic keeps its last 1,000 messages, for subscribers that join
	// late to catch up.
	retention := eventbus.WithRetention(eventbus.Retention{MaxEvents: 1000, MaxAge: 24 * time.Hour})
	if c.sent, err = eventbus.NewTopic[MessageSent](bus, topicMessageSent, retention); err != nil {
		return nil, err
	}
	if c.replies, err = eventbus.NewTopic[AIReplyGenerated](bus, topicAIReply); err != nil {
		return nil, err
	}
	dead, err := eventbus.NewTopic[eventbus.FailedDelivery](bus, eventbus.DefaultDeadLetterTopic)
	if err != nil {
		return nil, err
	}

	// The audit log follows every topic, including those created later.
	if c.auditSub, err = bus.SubscribePattern(">", "audit-log", c.audit.handle); err != nil {
		return nil, err
	}
	subscribe := func(sub *eventbus.Subscription, err error) error {
		if err == nil {
			c.subs = append(c.subs, sub)
		}
		return err
	}
	return c, errors.Join(
		subscribe(c.sent.Subscribe("analytics", c.analytics.handle)),
		subscribe(c.sent.Subscribe("notification", c.notify)),
		// Replies may be written for several conversations at once, but
		// the messages of one conversation are answered in order.
		subscribe(c.sent.Subscribe("ai-responder", c.respond,
			eventbus.WithConcurrency(2),
			eventbus.WithKeyFunc(func(e *eventbus.Event[MessageSent]) string { return e.Payload.ConversationID }))),
		subscribe(c.replies.Subscribe("chat-service", c.showReply)),
		subscribe(dead.Subscribe("ops-inbox", c.inbox)),
	)
}

// notify alerts the conversation's agent of a customer's message.
func (c *chat) notify(ctx context.Context, e *eventbus.Event[MessageSent]) error {
	m := e.Payload
	if m.FromAgent {
		return nil
	}
	attempt := 1
	if d, ok := eventbus.DeliveryFromContext(ctx); ok {
		attempt = d.Attempt
	}
	agent := agents[m.ConversationID]
	if err := c.gateway.push(ctx, agent, m.From+": "+m.Text); err != nil {
		c.notes.printf("notify  attempt %d failed: %v", attempt, err)
		return fmt.Errorf("alert %s: %w", agent, err)
	}
	c.notes.printf("notify  %s alerted on attempt %d", agent, attempt)
	return nil
}

// respond answers a customer's message with a canned reply, published with
// the handler's ctx so that the reply continues the message's causal chain.
func (c *chat) respond(ctx context.Context, e *eventbus.Event[MessageSent]) error {
	m := e.Payload
	if m.FromAgent {
		return nil
	}
	if m.Attachment != "" {
		// Retrying will not help: mark the error permanent, so that it goes
		// straight to the dead-letter topic.
		return eventbus.Permanent(fmt.Errorf("ai-responder cannot read attachment %q", m.Attachment))
	}
	return c.replies.Publish(ctx, AIReplyGenerated{ConversationID: m.ConversationID, Text: cannedReply(m.Text)})
}

// showReply is the chat service's subscriber of "ai.reply.generated": it
// hands each reply to the transcript.
func (c *chat) showReply(ctx context.Context, e *eventbus.Event[AIReplyGenerated]) error {
	r := shownReply{payload: e.Payload, correlationID: e.CorrelationID, causationID: e.CausationID.String()}
	select {
	case c.shownReplies <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// inbox is the operations team's subscriber of the dead-letter topic.
func (c *chat) inbox(ctx context.Context, e *eventbus.Event[eventbus.FailedDelivery]) error {
	select {
	case c.deadLetters <- e.Payload:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// play publishes the script, one message at a time, and writes the
// transcript. Each message is published with PublishSync, so that every
// subscriber has handled it before the next one is sent; then play waits
// for the AI's reply (or the dead letter that replaces it). PublishSync
// reports a dead-lettered delivery as an error matching ErrDeadLettered: the
// transcript shows the dead letter itself.
func (c *chat) play(ctx context.Context, w io.Writer) error {
	conversations := make(map[string]bool)
	for _, m := range script {
		conversations[m.ConversationID] = true
	}
	fmt.Fprintf(w, "Support chat: %d conversations, %d messages\n\n", len(conversations), len(script))

	for i, m := range script {
		if err := c.exchange(ctx, w, fmt.Sprintf("message %d", i+1), m); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	return nil
}

// exchange publishes m with PublishSync and writes it to the transcript
// with what its subscribers did: the audit record, the notification's
// notes, and the AI's reply or the dead letter that replaces it. what
// names the message in errors.
func (c *chat) exchange(ctx context.Context, w io.Writer, what string, m MessageSent) error {
	if err := c.sent.PublishSync(ctx, m); err != nil && !errors.Is(err, eventbus.ErrDeadLettered) {
		return fmt.Errorf("%s: %w", what, err)
	}
	rec, ok := c.audit.last(topicMessageSent)
	if !ok || rec.payload != any(m) {
		return fmt.Errorf("%s: not in the audit log", what)
	}

	who := m.From
	if m.FromAgent {
		who += " (agent)"
	}
	fmt.Fprintf(w, "[%s] %s: %s\n", m.ConversationID, who, m.Text)
	if m.Attachment != "" {
		fmt.Fprintf(w, "          attachment: %s\n", m.Attachment)
	}
	fmt.Fprintf(w, "          audit   event %s (seq %d)\n", rec.id, rec.sequence)
	for _, note := range c.notes.take() {
		fmt.Fprintf(w, "          %s\n", note)
	}
	if m.FromAgent {
		return nil
	}

	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	select {
	case r := <-c.shownReplies:
		cancel()
		if r.causationID != rec.id || r.correlationID != rec.correlationID || r.payload.ConversationID != m.ConversationID {
			return fmt.Errorf("%s: reply not linked to event %s: correlation %s, causation %s",
				what, rec.id, r.correlationID, r.causationID)
		}
		fmt.Fprintf(w, "[%s] AI assistant: %s\n", r.payload.ConversationID, r.payload.Text)
		fmt.Fprintf(w, "          link    %s\n", chatfmt.Link(r.correlationID, r.causationID))
	case dl := <-c.deadLetters:
		cancel()
		if dl.Envelope.ID.String() != rec.id {
			return fmt.Errorf("%s: dead letter for event %s, want %s", what, dl.Envelope.ID, rec.id)
		}
		fmt.Fprintf(w, "          dead letter from %s after %s: %s\n", dl.Subscriber, chatfmt.Count(dl.Attempts, "attempt", "attempts"), dl.Error)
		fmt.Fprintf(w, "          ops-inbox: routed to %s for a human answer\n", agents[m.ConversationID])
	case <-wait.Done():
		cancel()
		return fmt.Errorf("%s: no AI reply: %w", what, wait.Err())
	}
	return nil
}

// closing is the message an agent sends after the late subscriber joined.
var closing = MessageSent{ConversationID: "conv-1002", From: "maria", FromAgent: true, Text: "Glad it's sorted, Bob. Closing this chat."}

// transcriptLine is a message as the late transcript subscriber saw it.
type transcriptLine struct {
	sequence uint64
	replayed bool
	message  MessageSent
}

// joinLate subscribes a transcript writer after the script has played: it
// starts from the oldest retained message, so it replays the conversation,
// and once it has caught up it gets the next message live.
func (c *chat) joinLate(ctx context.Context, w io.Writer) error {
	lines := c.transcript
	sub, err := c.sent.Subscribe("transcript", func(ctx context.Context, e *eventbus.Event[MessageSent]) error {
		d, _ := eventbus.DeliveryFromContext(ctx)
		lines <- transcriptLine{sequence: e.Sequence, replayed: d.Replayed, message: e.Payload}
		return nil
	}, eventbus.WithStart(eventbus.FromOldest()))
	if err != nil {
		return err
	}
	c.subs = append(c.subs, sub)
	select {
	case <-sub.Live():
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := c.sent.PublishSync(ctx, closing); err != nil {
		return fmt.Errorf("closing message: %w", err)
	}
	fmt.Fprintln(w, "A transcript writer joins late and replays the conversation:")
	for range len(script) + 1 {
		l := <-lines // PublishSync returned: every line is there
		how := "live"
		if l.replayed {
			how = "replayed"
		}
		fmt.Fprintf(w, "  #%-2d %-8s [%s] %s: %s\n", l.sequence, how, l.message.ConversationID, l.message.From, l.message.Text)
	}
	fmt.Fprintln(w)
	return nil
}

// printSummary writes what the analytics and the audit log collected, and
// the operations log.
func (c *chat) printSummary(w io.Writer, opsLog *lineBuffer) {
	fmt.Fprintln(w, "Analytics: messages per conversation")
	for _, conv := range c.analytics.conversations() {
		fmt.Fprintf(w, "  %s  %d\n", conv, c.analytics.count(conv))
	}
	fmt.Fprintf(w, "Audit log: %d entries\n", c.audit.len())
	calls, failed := c.gateway.stats()
	fmt.Fprintf(w, "Push gateway: %d calls, %d failed\n", calls, failed)
	fmt.Fprintln(w, "Operations log (warn and above):")
	lines := opsLog.take()
	if len(lines) == 0 {
		fmt.Fprintln(w, "  (empty)")
	}
	for _, line := range lines {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprintln(w)
}

// printStats writes the delivery stats: one row per subscription of the
// chat, and the bus's totals.
func (c *chat) printStats(w io.Writer, bus eventbus.BusStats) error {
	rows := make([]eventbus.SubscriptionStats, 0, len(c.subs))
	for _, s := range c.subs {
		rows = append(rows, s.Stats())
	}
	rows = append(rows, c.auditSub.StatsByTopic()...)
	fmt.Fprintln(w, "Delivery stats")
	return eventbus.WriteStatsTable(w, rows, bus)
}

// cannedReply is the AI responder's whole intelligence.
func cannedReply(text string) string {
	t := strings.ToLower(text)
	switch {
	case strings.Contains(t, "order"):
		return "Sorry about the delay! I've opened a delivery case and an agent will check with the courier."
	case strings.Contains(t, "billing"):
		return "You can change it under Settings > Billing > Address."
	case strings.Contains(t, "refund"):
		return "Refunds reach your account within 3 to 5 business days."
	case strings.Contains(t, "thank"):
		return "You're welcome! Anything else I can help with?"
	}
	return "Thanks, I've added that to your case."
}

// pushGateway simulates a push-notification service that is down for its
// first failFirst calls.
type pushGateway struct {
	mu        sync.Mutex
	failFirst int
	calls     int
}

var errGatewayUnavailable = errors.New("push gateway: 503 service unavailable")

func (g *pushGateway) push(ctx context.Context, agent, text string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls++
	if g.calls <= g.failFirst {
		return errGatewayUnavailable
	}
	return nil
}

func (g *pushGateway) stats() (calls, failed int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls, min(g.calls, g.failFirst)
}

// analytics counts messages per conversation.
type analytics struct {
	mu     sync.Mutex
	counts map[string]int
}

func (a *analytics) handle(ctx context.Context, e *eventbus.Event[MessageSent]) error {
	a.mu.Lock()
	a.counts[e.Payload.ConversationID]++
	a.mu.Unlock()
	return nil
}

func (a *analytics) conversations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	convs := make([]string, 0, len(a.counts))
	for conv := range a.counts {
		convs = append(convs, conv)
	}
	slices.Sort(convs)
	return convs
}

func (a *analytics) count(conv string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counts[conv]
}

// auditLog records every message with its envelope.
type auditLog struct {
	mu      sync.Mutex
	records []auditRecord
}

type auditRecord struct {
	topic         string
	id            string
	sequence      uint64
	correlationID string
	payload       any
}

// handle records an event of any topic: the pattern subscription hands it
// over as a Message, its envelope and its payload boxed in an any.
func (l *auditLog) handle(ctx context.Context, m eventbus.Message) error {
	e := m.EventEnvelope()
	l.mu.Lock()
	l.records = append(l.records, auditRecord{
		topic:         e.Topic,
		id:            e.ID.String(),
		sequence:      e.Sequence,
		correlationID: e.CorrelationID,
		payload:       m.AnyPayload(),
	})
	l.mu.Unlock()
	return nil
}

// last returns the newest record of topic.
func (l *auditLog) last(topic string) (auditRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.records) - 1; i >= 0; i-- {
		if l.records[i].topic == topic {
			return l.records[i], true
		}
	}
	return auditRecord{}, false
}

func (l *auditLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.records)
}

// lineBuffer collects lines written by several goroutines; it is also an
// io.Writer for a slog handler.
type lineBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.lines = append(b.lines, strings.TrimRight(string(p), "\n"))
	b.mu.Unlock()
	return len(p), nil
}

func (b *lineBuffer) printf(format string, args ...any) {
	fmt.Fprintf(b, format, args...)
}

// take returns the lines collected so far and forgets them.
func (b *lineBuffer) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := b.lines
	b.lines = nil
	return lines
}

// dropVolatileAttrs removes the time and duration from log records, so that
// the operations log reads the same on every run.
func dropVolatileAttrs(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == "duration") {
		return slog.Attr{}
	}
	return a
}
