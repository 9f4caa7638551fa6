package debugpage

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deadLetterRig is a page with actions enabled over a bus whose "stock"
// subscriber fails the first time it sees each order: its DeadLetter
// middleware sends the order to the dead-letter topic.
type deadLetterRig struct {
	*rig
	orders *eventbus.Topic[Order]
	calls  atomic.Int32
	seen   chan *eventbus.Event[Order]
}

func newDeadLetterRig(t *testing.T, opts ...Option) *deadLetterRig {
	r := &deadLetterRig{seen: make(chan *eventbus.Event[Order], 8)}
	r.rig = newRig(t, []eventbus.Middleware{eventbus.DeadLetter()}, opts...)
	r.orders = mustTopic[Order](t, r.bus, "order.placed")
	mustSubscribe(t, r.orders, "stock", func(ctx context.Context, e *eventbus.Event[Order]) error {
		r.seen <- e
		if r.calls.Add(1) == 1 {
			return errors.New("no stock")
		}
		return nil
	})
	require.NoError(t, r.orders.Publish(t.Context(), Order{ID: "o-1"}))
	bustest.WaitIdle(t, r.bus)
	<-r.seen
	return r
}

// The Recorder keeps the dead letter the DeadLetter middleware published,
// and records the handling as dead-lettered, not delivered.
func TestDeadLettersAreRecorded(t *testing.T) {
	r := newDeadLetterRig(t)
	var dls []DeadLetter
	r.getJSON(t, "api/deadletters", &dls)
	require.Len(t, dls, 1)
	dl := dls[0]
	assert.Equal(t, "stock", dl.Subscriber)
	assert.Equal(t, "no stock", dl.Error)
	assert.Equal(t, 1, dl.Attempts)
	assert.Equal(t, "order.placed", dl.Failed.Topic)
	assert.Equal(t, "debugpage.Order", dl.PayloadType)
	assert.Equal(t, eventbus.DefaultDeadLetterTopic, dl.Event.Envelope.Topic)
	assert.Equal(t, "order.placed/stock", dl.Event.PublishedBy)
	var payload struct{ Payload Order }
	require.NoError(t, json.Unmarshal(dl.Event.Payload, &payload))
	assert.Equal(t, Order{ID: "o-1"}, payload.Payload, "the dead letter's payload holds the original event's")

	failed, ok := r.rec.Event(dl.Failed.ID.String())
	require.True(t, ok)
	require.Len(t, failed.Handlings, 1)
	h := failed.Handlings[0]
	assert.Equal(t, DeadLettered, h.Outcome)
	assert.Equal(t, "no stock", h.Error)
	assert.Equal(t, "stock", h.Subscriber)
	assert.Equal(t, 1, h.Attempts)
	assert.Len(t, r.state(t).DeadLetters, 1)
}

// Actions are off unless enabled: republishing answers 403 and does
// nothing.
func TestActionsAreDisabledByDefault(t *testing.T) {
	r := newDeadLetterRig(t)
	id := r.rec.DeadLetters()[0].Event.Envelope.ID.String()
	resp, body := postForm(t, r.rig, "actions/republish", url.Values{"id": {id}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, body, "actions are disabled")
	_, html := r.get(t, "")
	assert.NotContains(t, html, `class="republish"`, "no button")
	bustest.WaitIdle(t, r.bus)
	assert.Equal(t, int32(1), r.calls.Load(), "nothing republished")
}

// With WithActions, a same-origin POST republishes the dead letter on its
// topic, and the subscriber gets the order again.
func TestRepublishWorksWhenEnabled(t *testing.T) {
	r := newDeadLetterRig(t, WithActions())
	_, html := r.get(t, "")
	assert.Contains(t, html, `class="republish"`)
	dl := r.rec.DeadLetters()[0]
	id := dl.Event.Envelope.ID.String()
	resp, body := postForm(t, r.rig, "actions/republish", url.Values{"id": {id}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.JSONEq(t, `{"republished":"`+id+`","topic":"order.placed"}`, body)
	again := <-r.seen
	assert.Equal(t, "o-1", again.Payload.ID)
	assert.Equal(t, dl.Failed.ID.String(), again.Metadata["eventbus.republished-from"])
	bustest.WaitIdle(t, r.bus)
	assert.Len(t, r.rec.DeadLetters()[0].Republished, 1)

	for _, c := range []struct {
		form   url.Values
		status int
		msg    string
	}{
		{url.Values{"id": {"nope"}}, http.StatusBadRequest, "form field id must be"},
		{url.Values{"id": {dl.Failed.ID.String()}}, http.StatusNotFound, "no dead letter"},
	} {
		resp, body := postForm(t, r.rig, "actions/republish", c.form, nil)
		assert.Equal(t, c.status, resp.StatusCode, body)
		assert.Contains(t, body, c.msg)
	}
}

// A POST from another site is refused by the cross-origin protection,
// whichever way the browser says so.
func TestCrossOriginPostIsRefused(t *testing.T) {
	r := newDeadLetterRig(t, WithActions())
	id := r.rec.DeadLetters()[0].Event.Envelope.ID.String()
	for _, header := range []http.Header{
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Sec-Fetch-Site": {"same-site"}},
		{"Origin": {"https://evil.example"}},
	} {
		resp, _ := postForm(t, r.rig, "actions/republish", url.Values{"id": {id}}, header)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%v", header)
	}
	bustest.WaitIdle(t, r.bus)
	assert.Equal(t, int32(1), r.calls.Load(), "nothing republished")
	assert.Empty(t, r.rec.DeadLetters()[0].Republished)
}
