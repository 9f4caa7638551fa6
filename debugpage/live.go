package debugpage

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"
)

// client is one page connected to the live updates. Its channel holds the
// latest update not yet sent; a newer one replaces it, so a slow page gets
// fewer updates, never a backlog.
type client struct {
	updates chan []byte
	// last is the update sent last, to send only changes; owned by the
	// Handler's goroutine.
	last []byte
}

// tick samples the counters at now and sends the connected pages the
// state, if it changed since their last update.
func (h *Handler) tick(now time.Time) {
	c := h.read()
	h.rateTable.Store(h.rates.add(now, c.subs, c.topics))
	h.mu.Lock()
	clients := make([]*client, 0, len(h.clients))
	for cl := range h.clients {
		clients = append(clients, cl)
	}
	h.mu.Unlock()
	if len(clients) == 0 {
		return
	}
	data, err := json.Marshal(h.state(c))
	if err != nil {
		return // State holds payloads as raw JSON already: nothing fails here
	}
	for _, cl := range clients {
		if !bytes.Equal(cl.last, data) {
			cl.last = data
			cl.offer(data)
		}
	}
}

// offer leaves data for the client, replacing an update it has not taken.
// Only the Handler's goroutine offers, so the second send cannot block.
func (cl *client) offer(data []byte) {
	select {
	case cl.updates <- data:
		return
	default:
	}
	select {
	case <-cl.updates:
	default:
	}
	select {
	case cl.updates <- data:
	default:
	}
}

// join registers a page for live updates, unless the Handler is closed.
func (h *Handler) join() (*client, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	cl := &client{updates: make(chan []byte, 1)}
	h.clients[cl] = struct{}{}
	h.streams++
	return cl, true
}

func (h *Handler) leave(cl *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, cl)
	h.streams--
	if h.closed && h.streams == 0 {
		close(h.quiet)
	}
}

// serveLive streams the state as server-sent events: one "state" event at
// once, then one whenever it changes, at most one per update interval.
func (h *Handler) serveLive(w http.ResponseWriter, r *http.Request) {
	cl, ok := h.join()
	if !ok {
		http.Error(w, "debugpage: the page is closed", http.StatusServiceUnavailable)
		return
	}
	defer h.leave(cl)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	rc := http.NewResponseController(w)
	first, err := json.Marshal(h.state(h.read()))
	if err != nil {
		return
	}
	next := first
	for {
		if _, err := w.Write(sseEvent(next)); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case next = <-cl.updates:
		case <-r.Context().Done():
			return
		case <-h.stop:
			return
		}
	}
}

// sseEvent frames data, one line of JSON, as a server-sent event of type
// "state".
func sseEvent(data []byte) []byte {
	out := make([]byte, 0, len(data)+24)
	out = append(out, "event: state\ndata: "...)
	out = append(out, data...)
	return append(out, "\n\n"...)
}
