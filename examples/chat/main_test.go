package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestRunPlaysTheWholeScript runs the example as `go run` would and checks
// the transcript a newcomer reads: every message, every AI reply linked to
// its message, the flaky notification fixed by Retry, the dead letter, and
// a stats table with nothing failed or dropped.
func TestRunPlaysTheWholeScript(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out))
	text := out.String()

	for _, line := range script {
		shown := regexp.MustCompile(`\] ` + regexp.QuoteMeta(line.From) + `( \(agent\))?: ` + regexp.QuoteMeta(line.Text))
		assert.Regexp(t, shown, text, "message shown")
	}

	// Every reply's link names the message it answers, as correlation and
	// causation, and that is the ID the audit log recorded for the message.
	audit := regexp.MustCompile(`audit\s+event (\S+) \(seq (\d+)\)`).FindAllStringSubmatch(text, -1)
	require.Len(t, audit, len(script), "one audit line per message")
	// Every message of the script is a root event, so each link names its
	// cause once and says that it is also the correlation ID.
	links := regexp.MustCompile(`(?m)^\s+link\s+(.*)$`).FindAllStringSubmatch(text, -1)
	require.NotEmpty(t, links)
	audited := map[string]bool{}
	for i, a := range audit {
		audited[a[1]] = true
		assert.Equal(t, strconv.Itoa(i+1), a[2], "sequence numbers follow the script")
	}
	rootLink := regexp.MustCompile(`^caused by root event (\S+), whose ID is the chain's correlation ID$`)
	for _, l := range links {
		m := rootLink.FindStringSubmatch(l[1])
		if assert.NotNil(t, m, "a reply to a root message names its cause once: %q", l[1]) {
			assert.True(t, audited[m[1]], "reply caused by an audited message %s", m[1])
			assert.Equal(t, 1, strings.Count(l[1], m[1]), "the ID appears once: %q", l[1])
		}
	}
	assert.Equal(t, strings.Count(text, "AI assistant:"), len(links), "every reply shows its link")

	assert.Contains(t, text, "notify  attempt 1 failed")
	assert.Contains(t, text, "notify  attempt 2 failed")
	assert.Contains(t, text, "alerted on attempt 3")
	assert.Contains(t, text, `dead letter from ai-responder after 1 attempt: ai-responder cannot read attachment "statement.pdf"`)
	assert.Contains(t, text, "Bus closed: every queued event was handled")
	// The audit log's pattern ">" matched all three topics: 10 messages,
	// 6 replies, 1 dead letter.
	assert.Contains(t, text, "Audit log: 17 entries\n")

	// The late transcript writer replays the script in order, then gets
	// the closing message live.
	replayed := regexp.MustCompile(`(?m)^  #(\d+) +replayed \[(\S+)\] (\S+): (.*)$`).FindAllStringSubmatch(text, -1)
	require.Len(t, replayed, len(script), "every scripted message replayed")
	for i, r := range replayed {
		assert.Equal(t, strconv.Itoa(i+1), r[1], "replayed in sequence order")
		assert.Equal(t, []string{script[i].ConversationID, script[i].From, script[i].Text}, r[2:])
	}
	assert.Contains(t, text, "  #10 live     [conv-1002] maria: "+closing.Text+"\n")

	// The stats end the output: the table of eventbus.WriteStatsTable, one
	// row per subscription, all counts known in advance.
	i := strings.Index(text, "Delivery stats\n")
	require.GreaterOrEqual(t, i, 0, "output has the delivery stats:\n%s", text)
	assert.Equal(t, ""+
		"Delivery stats\n"+
		"TOPIC               SUBSCRIBER    ENQUEUED  DELIVERED  FAILED  RETRIED  DEAD-LETTERED  DROPPED  PENDING\n"+
		"ai.reply.generated  audit-log     6         6          0       0        0              0        0\n"+
		"ai.reply.generated  chat-service  6         6          0       0        0              0        0\n"+
		"deadletter          audit-log     1         1          0       0        0              0        0\n"+
		"deadletter          ops-inbox     1         1          0       0        0              0        0\n"+
		"message.sent        ai-responder  10        9          0       0        1              0        0\n"+
		"message.sent        analytics     10        10         0       0        0              0        0\n"+
		"message.sent        audit-log     10        10         0       0        0              0        0\n"+
		"message.sent        notification  10        10         0       2        0              0        0\n"+
		"message.sent        transcript    10        10         0       0        0              0        0\n"+
		"TOTAL                             64        63         0       2        1              0        0\n"+
		"Published 17 events on 3 topics.\n",
		text[i:])
}

// run returns once its ctx has ended. In a synctest bubble, a run that
// could never return would leave every goroutine of the bubble blocked,
// which synctest reports as a deadlock at once: no timer bounds the wait.
func TestRunStopsWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var out bytes.Buffer
		_ = run(ctx, &out) // an error or not, it must return, and goleak checks the rest
	})
}

// The AI responder answers a message with a reply caused by it, even when
// its first attempt at every event fails: Retry calls it again after a
// backoff of ten seconds, which passes in virtual time. The notification,
// whose push gateway also fails twice, gets through on its fourth attempt.
func TestAIResponderRepliesAfterARetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := bustest.NewBus(t, eventbus.WithMiddleware(
			eventbus.Retry(eventbus.RetryPolicy{MaxAttempts: 4, InitialInterval: 10 * time.Second}),
			bustest.Fail(bustest.FirstAttempts(1))))
		all := bustest.RecordAll(t, bus)
		app, err := newChat(bus)
		require.NoError(t, err)
		start := time.Now()
		require.NoError(t, app.sent.Publish(t.Context(), script[0]))
		bustest.WaitIdle(t, bus)

		assert.GreaterOrEqual(t, time.Since(start), 8*time.Second, "the retry waited its backoff, in virtual time")
		all.RequireChain(all.OfTopic(topicMessageSent)[0], topicMessageSent, topicAIReply)
		reply := <-app.shownReplies
		assert.Equal(t, cannedReply(script[0].Text), reply.payload.Text)
		for _, st := range bus.SubscriptionStats() {
			if st.Enqueued == 0 {
				continue // the dead-letter topic's subscribers
			}
			want := uint64(1)
			if st.Subscriber == "notification" {
				want = 3
			}
			assert.Equal(t, want, st.Retried, "%s/%s", st.Topic, st.Subscriber)
			assert.Equal(t, st.Enqueued, st.Delivered, "%s/%s", st.Topic, st.Subscriber)
		}
	})
}
