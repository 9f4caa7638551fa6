package bustest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
)

// MessageSent and AIReplyGenerated are the chat example's events.
type MessageSent struct{ ConversationID, From, Text string }

type AIReplyGenerated struct{ ConversationID, Text string }

// newChat wires the chat example's AI responder on bus: it answers each
// message.sent with an ai.reply.generated published with the handler's
// ctx, which makes the reply part of the message's causal chain.
func newChat(t bustest.TB, bus *eventbus.Bus) *eventbus.Topic[MessageSent] {
	sent, err := eventbus.NewTopic[MessageSent](bus, "message.sent")
	if err != nil {
		t.Fatalf("%v", err)
	}
	replies, err := eventbus.NewTopic[AIReplyGenerated](bus, "ai.reply.generated")
	if err != nil {
		t.Fatalf("%v", err)
	}
	respond := func(ctx context.Context, e *eventbus.Event[MessageSent]) error {
		return replies.Publish(ctx, AIReplyGenerated{e.Payload.ConversationID, "Thanks, " + e.Payload.From + "!"})
	}
	if _, err := sent.Subscribe("ai-responder", respond); err != nil {
		t.Fatalf("%v", err)
	}
	return sent
}

// A deterministic test of the chat example's AI responder, whose first
// attempt at every event fails (Fail) and is retried (Retry): no sleep,
// and it waits exactly as long as the bus needs. In a test, t is the
// test's *testing.T; an Example has none, so test stands in for it.
func Example() {
	test(func(t bustest.TB) {
		bus := bustest.NewBus(t, eventbus.WithMiddleware(eventbus.Retry(eventbus.RetryPolicy{InitialInterval: time.Millisecond}), bustest.Fail(bustest.FirstAttempts(1))))
		sent, all := newChat(t, bus), bustest.RecordAll(t, bus)
		_ = sent.Publish(context.Background(), MessageSent{"conv-1", "Maria", "Where is my order?"})
		bustest.WaitIdle(t, bus)
		fmt.Println(all.Trace(all.OfTopic("message.sent")[0]))
	})
	// Output:
	// message.sent #1
	// └─ ai.reply.generated #1
}

// A Recorder of one topic keeps its typed events; RequirePayloads
// compares their payloads with the expected ones and shows a diff when
// they differ.
func ExampleRecord() {
	test(func(t bustest.TB) {
		bus := bustest.NewBus(t)
		sent := newChat(t, bus)
		replies, _ := eventbus.NewTopic[AIReplyGenerated](bus, "ai.reply.generated")
		rec := bustest.Record(t, replies)
		_ = sent.Publish(context.Background(), MessageSent{"conv-1", "Maria", "Where is my order?"})
		_ = sent.Publish(context.Background(), MessageSent{"conv-2", "Omar", "Hello?"})
		bustest.WaitIdle(t, bus)
		bustest.RequirePayloads(t, rec, AIReplyGenerated{"conv-1", "Thanks, Maria!"}, AIReplyGenerated{"conv-2", "Thanks, Omar"})
	})
	// Output:
	// FAIL: bustest: payloads on topic ai.reply.generated differ (-want +got), expected 2 events, got 2:
	// - 2. {ConversationID:conv-2 Text:Thanks, Omar}
	// + 2. {ConversationID:conv-2 Text:Thanks, Omar!}
}
