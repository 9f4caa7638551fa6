package debugpage

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/busline/eventbus"
)

// routes returns the Handler's mux; its paths are relative to where the
// program mounts the page.
func (h *Handler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.serveIndex)
	mux.HandleFunc("GET /static/{file}", serveAsset)
	mux.HandleFunc("GET /api/state", h.serveState)
	mux.HandleFunc("GET /api/topics/{topic}/events", h.serveTopicEvents)
	mux.HandleFunc("GET /api/events/{id}", h.serveEvent)
	mux.HandleFunc("GET /api/events/{id}/trace", h.serveTrace)
	mux.HandleFunc("GET /api/deadletters", h.serveDeadLetters)
	mux.HandleFunc("GET /live", h.serveLive)
	mux.Handle("POST /actions/republish", http.NewCrossOriginProtection().Handler(http.HandlerFunc(h.serveRepublish)))
	return mux
}

// writeJSON writes v as the response, indented for people reading it.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "debugpage: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

// problem is the JSON body of an error response.
type problem struct {
	Error string `json:"error"`
}

func writeProblem(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, problem{Error: "debugpage: " + msg})
}

func (h *Handler) serveState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.state(h.read()))
}

// Limits of the events endpoint's limit parameter.
const (
	defaultEventsLimit = 50
	maxEventsLimit     = 1000
)

// serveTopicEvents lists a topic's last events, newest first: from its
// retention when it keeps events, and from the Recorder otherwise.
func (h *Handler) serveTopicEvents(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	limit := defaultEventsLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxEventsLimit {
			writeProblem(w, http.StatusBadRequest, "limit must be a number from 1 to "+strconv.Itoa(maxEventsLimit))
			return
		}
		limit = n
	}
	known := slices.ContainsFunc(h.bus.TopicStats(), func(t eventbus.TopicStats) bool { return t.Topic == name })
	if !known {
		writeProblem(w, http.StatusNotFound, "no topic "+strconv.Quote(name))
		return
	}
	out := TopicEvents{Topic: name, Events: []EventRecord{}}
	if oldest, newest, ok := h.bus.RetainedRange(name); ok {
		out.Retains = true
		from := oldest
		if newest-oldest >= uint64(limit) {
			from = newest - uint64(limit) + 1
		}
		for m, err := range h.bus.RetainedMessages(name, from, newest) {
			if err == nil {
				out.Events = append(out.Events, messageRecord(m))
			}
		}
		slices.Reverse(out.Events)
		if h.recorder != nil {
			h.recorder.annotate(out.Events)
		}
	} else if h.retains(name) {
		out.Retains = true // nothing kept yet
	} else if h.recorder != nil {
		out.Events = h.recorder.ofTopic(name, limit)
	}
	writeJSON(w, http.StatusOK, out)
}

// retains reports whether the topic named name keeps events.
func (h *Handler) retains(name string) bool {
	for _, t := range h.bus.TopicStats() {
		if t.Topic == name {
			return t.Retention.MaxEvents > 0
		}
	}
	return false
}

func (h *Handler) serveEvent(w http.ResponseWriter, r *http.Request) {
	serveRecorded(h, w, r, "events are recorded", (*Recorder).Event)
}

func (h *Handler) serveTrace(w http.ResponseWriter, r *http.Request) {
	serveRecorded(h, w, r, "traces need", (*Recorder).Trace)
}

// serveRecorded answers with what find returns for the event named in the
// path, or 404 when there is no Recorder (need says what for) or the
// event is not recorded.
func serveRecorded[T any](h *Handler, w http.ResponseWriter, r *http.Request, need string, find func(*Recorder, string) (T, bool)) {
	if h.recorder == nil {
		writeProblem(w, http.StatusNotFound, "no Recorder: "+need+" with WithRecorder")
		return
	}
	id := r.PathValue("id")
	v, ok := find(h.recorder, id)
	if !ok {
		writeProblem(w, http.StatusNotFound, "event "+strconv.Quote(id)+" not recorded")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *Handler) serveDeadLetters(w http.ResponseWriter, r *http.Request) {
	out := []DeadLetter{}
	if h.recorder != nil {
		out = h.recorder.DeadLetters()
	}
	writeJSON(w, http.StatusOK, out)
}
