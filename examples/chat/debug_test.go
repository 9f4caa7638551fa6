package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/busline/eventbus/bustest"
	"github.com/busline/eventbus/debugpage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// output follows what the chat writes, line by line.
type output struct {
	t     *testing.T
	lines chan string
}

func follow(t *testing.T, r io.Reader) *output {
	o := &output{t: t, lines: make(chan string, 1024)}
	go func() {
		defer close(o.lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			o.lines <- sc.Text()
		}
	}()
	return o
}

// until returns the first line to come that contains s, failing the test
// if the output ends first.
func (o *output) until(s string) string {
	o.t.Helper()
	for line := range o.lines {
		if strings.Contains(line, s) {
			return line
		}
	}
	o.t.Fatalf("the output ended without %q", s)
	return ""
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

// With -debug, the chat serves its debug page and prints its URL, plays
// the script, then publishes each typed line as a customer's message,
// which the page shows with its causal chain, until its ctx ends.
func TestDebugFlagServesThePageAndPublishesTypedLines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), bustest.Timeout)
	defer cancel()
	pr, pw := io.Pipe()
	out := follow(t, pr)
	typed := make(chan string)
	done := make(chan error, 1)
	go func() {
		err := runDebug(ctx, pw, "127.0.0.1:0", typed)
		pw.Close()
		done <- err
	}()

	line := out.until("debug page: ")
	url := strings.TrimPrefix(line, "debug page: ")
	require.Regexp(t, `^http://127\.0\.0\.1:\d+/debug/eventbus/$`, url)
	out.until("Type a message")

	var st debugpage.State
	getJSON(t, url+"api/state", &st)
	subscribers := map[string][]string{}
	for _, tp := range st.Topics {
		subscribers[tp.Name] = tp.Subscribers
	}
	assert.Equal(t, map[string][]string{
		"message.sent":       {"ai-responder", "analytics", "audit-log", "notification", "transcript"},
		"ai.reply.generated": {"audit-log", "chat-service"},
		"deadletter":         {"audit-log", "ops-inbox"},
	}, subscribers)
	require.Len(t, st.DeadLetters, 1, "the script's dead letter")
	resp, err := http.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	typed <- "dana: Is anyone there?"
	out.until("[conv-1004] dana: Is anyone there?")
	out.until("AI assistant:")
	assert.Contains(t, out.until("live     [conv-1004]"), "#11")

	var te debugpage.TopicEvents
	getJSON(t, url+"api/topics/message.sent/events?limit=1", &te)
	require.Len(t, te.Events, 1)
	var m MessageSent
	require.NoError(t, json.Unmarshal(te.Events[0].Payload, &m))
	assert.Equal(t, MessageSent{ConversationID: "conv-1004", From: "dana", Text: "Is anyone there?"}, m)
	var tr debugpage.Trace
	getJSON(t, url+"api/events/"+te.Events[0].Envelope.ID.String()+"/trace", &tr)
	var caused []string
	for _, c := range tr.Tree.Children {
		caused = append(caused, c.Event.Envelope.Topic)
	}
	assert.Equal(t, []string{"ai.reply.generated"}, caused, "the reply is in the message's causal tree")

	cancel()
	out.until("Delivery stats")
	for range out.lines {
	}
	require.NoError(t, <-done)
}

func TestLiveMessage(t *testing.T) {
	for line, want := range map[string]MessageSent{
		"hello there":     {ConversationID: liveConversation, From: "visitor", Text: "hello there"},
		"dana: hi":        {ConversationID: liveConversation, From: "dana", Text: "hi"},
		"a b: not a name": {ConversationID: liveConversation, From: "visitor", Text: "a b: not a name"},
	} {
		got, ok := liveMessage(line)
		assert.True(t, ok)
		assert.Equal(t, want, got, line)
	}
	_, ok := liveMessage("   ")
	assert.False(t, ok, "a blank line is no message")
}
