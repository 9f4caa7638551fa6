package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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
	links := regexp.MustCompile(`link\s+correlation (\S+), caused by event (\S+)`).FindAllStringSubmatch(text, -1)
	require.NotEmpty(t, links)
	audited := map[string]bool{}
	for i, a := range audit {
		audited[a[1]] = true
		assert.Equal(t, strconv.Itoa(i+1), a[2], "sequence numbers follow the script")
	}
	for _, l := range links {
		assert.Equal(t, l[1], l[2], "a reply to a root message is correlated with and caused by it")
		assert.True(t, audited[l[2]], "reply caused by an audited message %s", l[2])
	}
	assert.Equal(t, strings.Count(text, "AI assistant:"), len(links), "every reply shows its link")

	assert.Contains(t, text, "notify  attempt 1 failed")
	assert.Contains(t, text, "notify  attempt 2 failed")
	assert.Contains(t, text, "alerted on attempt 3")
	assert.Contains(t, text, "dead letter from ai-responder")
	assert.Contains(t, text, "Bus closed: every queued event was handled")

	stats := text[strings.Index(text, "Delivery stats"):]
	total := regexp.MustCompile(`(?m)^TOTAL\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$`).FindStringSubmatch(stats)
	require.NotNil(t, total, "stats table has a TOTAL row:\n%s", stats)
	enqueued, delivered, failed, retried, deadLettered, dropped := total[1], total[2], total[3], total[4], total[5], total[6]
	assert.Equal(t, "0", failed)
	assert.Equal(t, "0", dropped)
	assert.Equal(t, "2", retried)
	assert.Equal(t, "1", deadLettered)
	assert.Equal(t, enqueued, strconv.Itoa(mustAtoi(t, delivered)+1), "everything enqueued was delivered but the one dead letter")
}

func TestRunStopsWhenItsContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, &out) }()
	select {
	case <-done: // an error or not, it must return, and goleak checks the rest
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its ctx ended")
	}
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}
