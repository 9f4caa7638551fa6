package debugpage

import (
	"net/http"
	"strconv"
	"time"
)

// serveRepublish republishes a dead letter the Recorder holds, named by
// the ID of its dead-letter event in the form field "id", with
// Bus.RepublishDeadLetter. It is mounted behind
// net/http.CrossOriginProtection, so a cross-site POST is refused with 403
// before it gets here.
func (h *Handler) serveRepublish(w http.ResponseWriter, r *http.Request) {
	if !h.actions {
		writeProblem(w, http.StatusForbidden, "actions are disabled (see WithActions)")
		return
	}
	if h.recorder == nil {
		writeProblem(w, http.StatusNotFound, "no Recorder: dead letters come from WithRecorder")
		return
	}
	text := r.FormValue("id")
	id, ok := parseID(text)
	if !ok {
		writeProblem(w, http.StatusBadRequest, "form field id must be the ID of a dead-letter event, got "+strconv.Quote(text))
		return
	}
	dl, ok := h.recorder.deadLetter(id)
	if !ok {
		writeProblem(w, http.StatusNotFound, "no dead letter "+strconv.Quote(text)+" recorded")
		return
	}
	if err := h.bus.RepublishDeadLetter(r.Context(), dl); err != nil {
		writeProblem(w, http.StatusConflict, "republish: "+err.Error())
		return
	}
	h.recorder.markRepublished(id, time.Now())
	writeJSON(w, http.StatusOK, struct {
		Republished string `json:"republished"`
		Topic       string `json:"topic"`
	}{text, dl.Envelope.Topic})
}
