package debugpage

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/busline/eventbus/transport/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type Order struct {
	ID    string
	Total int
}

type Invoice struct{ Order string }

// shop wires a small shop on r's bus: "order.placed" (retained) with
// billing, which publishes "invoice.sent", and shipping; an audit pattern
// subscription over "order.>"; and publishes one order.
func shop(t *testing.T, r *rig) (orders *eventbus.Topic[Order]) {
	t.Helper()
	orders = mustTopic[Order](t, r.bus, "order.placed", eventbus.WithRetention(eventbus.Retention{MaxEvents: 100}))
	invoices := mustTopic[Invoice](t, r.bus, "invoice.sent")
	mustSubscribe(t, orders, "billing", func(ctx context.Context, e *eventbus.Event[Order]) error {
		return invoices.Publish(ctx, Invoice{Order: e.Payload.ID})
	}, eventbus.WithQueueCapacity(64))
	mustSubscribe(t, orders, "shipping", nop[Order])
	mustSubscribe(t, invoices, "mailer", nop[Invoice])
	_, err := r.bus.SubscribePattern("order.>", "audit", func(context.Context, eventbus.Message) error { return nil })
	require.NoError(t, err)
	require.NoError(t, orders.Publish(t.Context(), Order{ID: "o-1", Total: 42}))
	bustest.WaitIdle(t, r.bus)
	return orders
}

// Every route of the page answers as documented, under a prefix.
func TestRoutes(t *testing.T) {
	r := newRig(t, nil)
	shop(t, r)
	orderID := r.rec.Recent(-1)[1].ID // the order; the invoice is newer
	cases := []struct {
		method, path string
		header       http.Header
		status       int
		contentType  string
		body         string // a part of the body
	}{
		{"GET", "", nil, 200, "text/html; charset=utf-8", `data-topic="order.placed"`},
		{"GET", "static/app.js", nil, 200, "text/javascript; charset=utf-8", "EventSource"},
		{"GET", "static/style.css", nil, 200, "text/css; charset=utf-8", "table"},
		{"GET", "static/page.html", nil, 404, "", ""},
		{"GET", "api/state", nil, 200, "application/json", `"subscriptions"`},
		{"GET", "api/topics/order.placed/events", nil, 200, "application/json", `"retains": true`},
		{"GET", "api/topics/invoice.sent/events?limit=5", nil, 200, "application/json", `"retains": false`},
		{"GET", "api/topics/nope/events", nil, 404, "application/json", `"error": "debugpage: no topic \"nope\""`},
		{"GET", "api/topics/order.placed/events?limit=0", nil, 400, "application/json", "limit must be"},
		{"GET", "api/events/" + orderID, nil, 200, "application/json", `"subscriber": "billing"`},
		{"GET", "api/events/" + orderID + "/trace", nil, 200, "application/json", `"ancestors"`},
		{"GET", "api/events/0190a0a0-0000-7000-8000-000000000000/trace", nil, 404, "application/json", "not recorded"},
		{"GET", "api/events/not-an-id", nil, 404, "application/json", "not recorded"},
		{"GET", "api/deadletters", nil, 200, "application/json", "[]"},
		{"POST", "api/state", nil, 405, "", ""},
		{"GET", "actions/republish", nil, 405, "", ""},
		{"POST", "actions/republish", http.Header{"Sec-Fetch-Site": {"same-origin"}}, 403, "application/json", "actions are disabled"},
		{"GET", "nowhere", nil, 404, "", ""},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), c.method, r.url(c.path), nil)
			require.NoError(t, err)
			for k, v := range c.header {
				req.Header[k] = v
			}
			resp, body := r.do(t, req)
			assert.Equal(t, c.status, resp.StatusCode, body)
			if c.contentType != "" {
				assert.Equal(t, c.contentType, resp.Header.Get("Content-Type"))
			}
			assert.Contains(t, body, c.body)
		})
	}
	resp, _ := r.get(t, "actions/republish")
	assert.Equal(t, "POST", resp.Header.Get("Allow"), "405 names the method allowed")
	resp, _ = r.get(t, "")
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'", "no inline script runs")
}

// The page's HTML shows the topology with the IDs and data attributes a
// browser test selects, and links relative to where it is mounted.
func TestPageShowsTheTopology(t *testing.T) {
	r := newRig(t, nil)
	shop(t, r)
	_, html := r.get(t, "")
	for _, want := range []string{
		`<table id="topics">`, `<tr class="topic" data-topic="order.placed">`, `<tr class="topic" data-topic="invoice.sent">`,
		`<span class="subscriber" data-subscriber="billing">billing</span>`,
		`<tr class="pattern" data-pattern="order.&gt;" data-subscriber="audit">`,
		`<tr class="subscription" data-topic="order.placed" data-subscriber="billing" data-pattern="">`,
		`<td class="queue">0 / 64</td>`, `<table id="recent">`, `<div id="trace">`, `<table id="deadletters">`,
		`src="static/app.js"`, `href="static/style.css"`, "never expose it publicly",
	} {
		assert.Contains(t, html, want)
	}
	assert.NotContains(t, html, `src="/`, "links are relative")
}

// The state document has the documented shape and the bus's figures.
func TestStateJSON(t *testing.T) {
	r := newRig(t, nil)
	shop(t, r)
	_, body := r.get(t, "api/state")
	var shape map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(body), &shape))
	for _, key := range []string{"bus", "topics", "subscriptions", "patterns", "recent", "deadLetters", "recorder", "actions", "rateWindowMs"} {
		assert.Contains(t, shape, key)
	}

	st := r.state(t)
	assert.Equal(t, uint64(2), st.Bus.Published)
	assert.Empty(t, st.Bus.Transport)
	orders := topicInfo(t, st, "order.placed")
	assert.Equal(t, "debugpage.Order", orders.PayloadType)
	assert.Equal(t, []string{"audit", "billing", "shipping"}, orders.Subscribers)
	assert.Equal(t, 100, orders.RetentionMaxEvents)
	assert.Equal(t, 1, orders.Retained)
	assert.Equal(t, [2]uint64{1, 1}, [2]uint64{orders.Oldest, orders.Newest})
	assert.Zero(t, topicInfo(t, st, "invoice.sent").RetentionMaxEvents)

	billing := subscription(t, st, "order.placed", "billing")
	assert.Equal(t, 64, billing.Capacity)
	assert.Equal(t, uint64(1), billing.Delivered)
	assert.Equal(t, "0 dropped", billing.DroppedBy)
	assert.Equal(t, "order.>", subscription(t, st, "order.placed", "audit").Pattern)
	assert.Equal(t, []PatternInfo{{Pattern: "order.>", Subscriber: "audit", Topics: []string{"order.placed"}}}, st.Patterns)

	require.Len(t, st.Recent, 2)
	assert.Equal(t, "invoice.sent", st.Recent[0].Topic, "newest first")
	assert.Equal(t, "order.placed/billing", st.Recent[0].PublishedBy)
	assert.Equal(t, st.Recent[1].ID, st.Recent[0].CausationID)
	assert.Equal(t, RecorderInfo{Enabled: true, Events: 2, Capacity: 1000, DeadLetterCapacity: 100}, st.Recorder)
	assert.False(t, st.Actions)
}

// A topic's events come from its retention, newest first, with their
// payloads as JSON and, from the Recorder, their handlings.
func TestTopicEvents(t *testing.T) {
	r := newRig(t, nil)
	orders := shop(t, r)
	require.NoError(t, orders.Publish(t.Context(), Order{ID: "o-2", Total: 7}))
	bustest.WaitIdle(t, r.bus)

	var te TopicEvents
	r.getJSON(t, "api/topics/order.placed/events", &te)
	assert.True(t, te.Retains)
	require.Len(t, te.Events, 2)
	assert.Equal(t, uint64(2), te.Events[0].Envelope.Sequence, "newest first")
	assert.JSONEq(t, `{"ID":"o-2","Total":7}`, string(te.Events[0].Payload))
	assert.Equal(t, "debugpage.Order", te.Events[0].PayloadType)
	var subs []string
	for _, h := range te.Events[0].Handlings {
		subs = append(subs, h.Subscriber)
		assert.Equal(t, Delivered, h.Outcome)
	}
	assert.ElementsMatch(t, []string{"audit", "billing", "shipping"}, subs)

	r.getJSON(t, "api/topics/order.placed/events?limit=1", &te)
	require.Len(t, te.Events, 1)
	assert.Equal(t, uint64(2), te.Events[0].Envelope.Sequence)

	r.getJSON(t, "api/topics/invoice.sent/events", &te)
	assert.False(t, te.Retains)
	require.Len(t, te.Events, 2, "the recorder's events of a topic that keeps none")
	assert.JSONEq(t, `{"Order":"o-2"}`, string(te.Events[0].Payload))
}

// The live stream sends the state at once, then an update once an event
// is published, without the page asking again.
func TestLiveSendsAnUpdateAfterAPublish(t *testing.T) {
	r := newRig(t, nil, WithUpdateInterval(20*time.Millisecond))
	orders := shop(t, r)
	s := r.live(t)
	first, ok := s.next(t)
	require.True(t, ok)
	assert.Equal(t, uint64(2), first.Bus.Published)

	require.NoError(t, orders.Publish(t.Context(), Order{ID: "o-2"}))
	bustest.WaitIdle(t, r.bus)
	newest := r.rec.Recent(1)[0] // the invoice of o-2
	for {
		st, ok := s.next(t)
		require.True(t, ok, "the stream ended before the update")
		if st.Bus.Published == 4 && len(st.Recent) == 4 {
			assert.Equal(t, newest.ID, st.Recent[0].ID)
			assert.Equal(t, "invoice.sent", st.Recent[0].Topic)
			break
		}
	}
}

// Close ends the live streams and the goroutine; the stream then refuses
// new pages.
func TestCloseEndsTheLiveStreams(t *testing.T) {
	r := newRig(t, nil)
	s := r.live(t)
	_, ok := s.next(t)
	require.True(t, ok)
	require.NoError(t, r.page.Close(t.Context()))
	_, ok = s.next(t)
	assert.False(t, ok, "the stream ended")
	resp, _ := r.get(t, "live")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	resp, _ = r.get(t, "api/state")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "snapshots still answer")
	require.NoError(t, r.page.Close(t.Context()), "Close again")
}

// The age of the oldest queued event shows a subscriber held up by its
// handler.
func TestOldestQueuedAgeWithABlockedHandler(t *testing.T) {
	r := newRig(t, nil)
	tp := mustTopic[int](t, r.bus, "jobs")
	started, release := make(chan struct{}, 3), make(chan struct{})
	mustSubscribe(t, tp, "worker", func(ctx context.Context, e *eventbus.Event[int]) error {
		started <- struct{}{}
		<-release
		return nil
	}, eventbus.WithQueueCapacity(8))
	for i := range 3 {
		require.NoError(t, tp.Publish(t.Context(), i))
	}
	<-started
	st := subscription(t, r.state(t), "jobs", "worker")
	assert.Equal(t, 2, st.QueueLength)
	assert.Equal(t, 8, st.Capacity)
	assert.Equal(t, 1, st.InFlight)
	assert.Positive(t, st.OldestQueuedMs)
	close(release)
	bustest.WaitIdle(t, r.bus)
	st = subscription(t, r.state(t), "jobs", "worker")
	assert.Zero(t, st.OldestQueuedMs)
	assert.Zero(t, st.QueueLength)
}

// Invalid options and a nil bus fail with clear errors.
func TestNewValidatesItsOptions(t *testing.T) {
	bus := bustest.NewBus(t)
	for _, c := range []struct {
		opts []Option
		msg  string
	}{
		{[]Option{nil}, "nil Option"},
		{[]Option{WithRecorder(nil)}, "nil Recorder"},
		{[]Option{WithUpdateInterval(time.Millisecond)}, "update interval 1ms, want at least 10ms"},
		{[]Option{WithRateWindow(0)}, "rate window 0s, want a positive duration"},
		{[]Option{WithUpdateInterval(time.Second), WithRateWindow(time.Second)}, "want at least twice the update interval"},
	} {
		_, err := New(bus, c.opts...)
		require.ErrorIs(t, err, eventbus.ErrInvalidOption)
		assert.True(t, strings.HasPrefix(err.Error(), "debugpage: "), err.Error())
		assert.Contains(t, err.Error(), c.msg)
	}
	_, err := New(nil)
	assert.ErrorIs(t, err, eventbus.ErrNilBus)

	for _, c := range []struct {
		opt RecorderOption
		msg string
	}{
		{nil, "nil RecorderOption"},
		{RecordEvents(0), "RecordEvents(0), want 1 to 1048576"},
		{RecordDeadLetters(-1), "RecordDeadLetters(-1)"},
		{RecordEvents(1<<20 + 1), "RecordEvents(1048577)"},
	} {
		_, err := NewRecorder(c.opt)
		require.ErrorIs(t, err, eventbus.ErrInvalidOption)
		assert.Contains(t, err.Error(), "debugpage: ")
		assert.Contains(t, err.Error(), c.msg)
	}
}

// The page works without a Recorder, without the parts that need one.
func TestWithoutARecorder(t *testing.T) {
	bus := bustest.NewBus(t)
	r := servePage(t, bus, nil)
	tp := mustTopic[int](t, bus, "plain")
	mustSubscribe(t, tp, "s", nop[int])
	require.NoError(t, tp.Publish(t.Context(), 1))
	bustest.WaitIdle(t, bus)
	st := r.state(t)
	assert.False(t, st.Recorder.Enabled)
	assert.Empty(t, st.Recent)
	assert.Equal(t, uint64(1), subscription(t, st, "plain", "s").Delivered)
	resp, body := r.get(t, "api/events/0190a0a0-0000-7000-8000-000000000000/trace")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, body, "WithRecorder")
	_, html := r.get(t, "")
	assert.Contains(t, html, "No recorder")
}

func postForm(t *testing.T, r *rig, path string, form url.Values, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, r.url(path), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return r.do(t, req)
}

// On a bus with a transport, the page names it.
func TestStateNamesTheTransport(t *testing.T) {
	broker := memory.NewBroker()
	t.Cleanup(func() { broker.Close() })
	bus := bustest.NewBus(t, eventbus.WithTransport(broker))
	r := servePage(t, bus, nil)
	assert.Equal(t, "*memory.Broker", r.state(t).Bus.Transport)
	_, html := r.get(t, "")
	assert.Contains(t, html, "transport *memory.Broker")
}
