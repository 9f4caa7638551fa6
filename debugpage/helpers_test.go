package debugpage

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/bustest"
	"github.com/stretchr/testify/require"
)

// prefix is where the tests mount the page, to check that it works away
// from the root.
const prefix = "/debug/eventbus/"

// rig is a bus with a Recorder and its page, served on 127.0.0.1.
type rig struct {
	bus  *eventbus.Bus
	rec  *Recorder
	page *Handler
	srv  *httptest.Server
}

// newRig makes a bus with a Recorder plugged in (its middleware outermost,
// then mw) and the page of the bus with opts, mounted under prefix.
func newRig(t *testing.T, mw []eventbus.Middleware, opts ...Option) *rig {
	t.Helper()
	rec, err := NewRecorder()
	require.NoError(t, err)
	bus := bustest.NewBus(t, eventbus.WithPublishHook(rec.PublishHook()),
		eventbus.WithMiddleware(append([]eventbus.Middleware{rec.Middleware()}, mw...)...))
	return servePage(t, bus, rec, append([]Option{WithRecorder(rec)}, opts...)...)
}

// servePage serves the page of bus under prefix until the test ends.
func servePage(t *testing.T, bus *eventbus.Bus, rec *Recorder, opts ...Option) *rig {
	t.Helper()
	page, err := New(bus, opts...)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle(prefix, http.StripPrefix(strings.TrimSuffix(prefix, "/"), page))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { require.NoError(t, page.Close(context.Background())) }) // first: ends the streams
	return &rig{bus: bus, rec: rec, page: page, srv: srv}
}

func (r *rig) url(path string) string { return r.srv.URL + prefix + path }

// do sends a request to the page and returns the response with its body
// read.
func (r *rig) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := r.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func (r *rig) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, r.url(path), nil)
	require.NoError(t, err)
	return r.do(t, req)
}

// getJSON GETs path, requires 200, and decodes the body into v.
func (r *rig) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, body := r.get(t, path)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NoError(t, json.Unmarshal([]byte(body), v), body)
}

func (r *rig) state(t *testing.T) State {
	t.Helper()
	var st State
	r.getJSON(t, "api/state", &st)
	return st
}

// stream is a connection to the page's live updates.
type stream struct {
	body io.Closer
	sc   *bufio.Scanner
}

func (r *rig) live(t *testing.T) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), bustest.Timeout) // bounds every read
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url("live"), nil)
	require.NoError(t, err)
	resp, err := r.srv.Client().Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<22)
	return &stream{body: resp.Body, sc: sc}
}

// next returns the next state the stream sends, or false once it ended.
func (s *stream) next(t *testing.T) (State, bool) {
	t.Helper()
	var event string
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			require.Equal(t, "state", event)
			var st State
			require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &st))
			return st, true
		}
	}
	return State{}, false
}

// subscription returns the row of topic/subscriber in st.
func subscription(t *testing.T, st State, topic, subscriber string) SubscriptionInfo {
	t.Helper()
	for _, s := range st.Subscriptions {
		if s.Topic == topic && s.Subscriber == subscriber {
			return s
		}
	}
	t.Fatalf("no subscription %s/%s in %+v", topic, subscriber, st.Subscriptions)
	return SubscriptionInfo{}
}

func topicInfo(t *testing.T, st State, name string) TopicInfo {
	t.Helper()
	for _, ti := range st.Topics {
		if ti.Name == name {
			return ti
		}
	}
	t.Fatalf("no topic %s in %+v", name, st.Topics)
	return TopicInfo{}
}

func mustTopic[T any](t *testing.T, bus *eventbus.Bus, name string, opts ...eventbus.TopicOption) *eventbus.Topic[T] {
	t.Helper()
	tp, err := eventbus.NewTopic[T](bus, name, opts...)
	require.NoError(t, err)
	return tp
}

func mustSubscribe[T any](t *testing.T, tp *eventbus.Topic[T], name string, h eventbus.Handler[T], opts ...eventbus.SubscribeOption) *eventbus.Subscription {
	t.Helper()
	s, err := tp.Subscribe(name, h, opts...)
	require.NoError(t, err)
	return s
}

func nop[T any](context.Context, *eventbus.Event[T]) error { return nil }
