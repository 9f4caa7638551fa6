package debugpage

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/busline/eventbus"
)

// snap is a copy of a record, taken under the Recorder's lock, to be
// turned into an EventRecord without it.
type snap struct {
	msg         eventbus.Message
	publishedBy string
	handlings   []handled
}

func (rec *record) snap() snap {
	return snap{msg: rec.msg, publishedBy: rec.publishedBy, handlings: slices.Clone(rec.handlings)}
}

// eventRecord turns s into an EventRecord, writing its payload as JSON.
func (s snap) eventRecord() EventRecord {
	out := messageRecord(s.msg)
	out.PublishedBy = s.publishedBy
	out.Handlings = handlings(s.msg.EventEnvelope().Topic, s.handlings)
	return out
}

// handlings returns hs, handlings of an event of topic, as Handlings.
func handlings(topic string, hs []handled) []Handling {
	out := make([]Handling, len(hs))
	for i, h := range hs {
		out[i] = h.handling(topic)
	}
	return out
}

// messageRecord is m as an EventRecord without handlings. It runs the
// payload's MarshalJSON, if it has one, and recovers from its panic.
func messageRecord(m eventbus.Message) (out EventRecord) {
	out = EventRecord{Envelope: *m.EventEnvelope(), Handlings: []Handling{}}
	payload := m.AnyPayload()
	out.PayloadType = fmt.Sprintf("%T", payload)
	defer func() {
		if p := recover(); p != nil {
			out.Payload, out.PayloadError = json.RawMessage("null"), fmt.Sprintf("MarshalJSON panicked: %v", p)
		}
	}()
	raw, err := json.Marshal(payload)
	if err != nil {
		raw, out.PayloadError = json.RawMessage("null"), err.Error()
	}
	out.Payload = raw
	return out
}

// summary is the EventSummary of rec, under the Recorder's lock.
func (rec *record) summary() EventSummary {
	env := rec.msg.EventEnvelope()
	return EventSummary{
		ID: env.ID.String(), Topic: env.Topic, Sequence: env.Sequence, Time: env.Time,
		CorrelationID: env.CorrelationID, CausationID: causation(env),
		PublishedBy: rec.publishedBy, Handlings: len(rec.handlings),
	}
}

// causation returns the text of env's causation ID, or empty for a root
// event.
func causation(env *eventbus.Envelope) string {
	if env.CausationID == (eventID{}) {
		return ""
	}
	return env.CausationID.String()
}

// parseID reads an event ID in its text form, with or without dashes.
func parseID(s string) (eventID, bool) {
	var id eventID
	var digits []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			digits = append(digits, s[i])
		}
	}
	if len(digits) != 2*len(id) {
		return id, false
	}
	if _, err := hex.Decode(id[:], digits); err != nil {
		return id, false
	}
	return id, true
}

// Recent returns summaries of the newest events the Recorder holds, newest
// first by publish time: at most limit, or all of them for a negative
// limit.
func (r *Recorder) Recent(limit int) []EventSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Records are kept in the order the Recorder first saw them, which a
	// handler may have reached before its publisher's hook did.
	recs := r.events.newest(-1)
	slices.SortStableFunc(recs, func(a, b *record) int {
		return b.msg.EventEnvelope().Time.Compare(a.msg.EventEnvelope().Time)
	})
	if limit >= 0 && limit < len(recs) {
		recs = recs[:limit]
	}
	out := make([]EventSummary, len(recs))
	for i, rec := range recs {
		out[i] = rec.summary()
	}
	return out
}

// Event returns the recorded event whose ID has the text id, with its
// handlings, and false when the Recorder does not hold it.
func (r *Recorder) Event(id string) (EventRecord, bool) {
	key, ok := parseID(id)
	if !ok {
		return EventRecord{}, false
	}
	r.mu.Lock()
	rec := r.byID[key]
	var s snap
	if rec != nil {
		s = rec.snap()
	}
	r.mu.Unlock()
	if rec == nil {
		return EventRecord{}, false
	}
	return s.eventRecord(), true
}

// annotate adds, to events of a topic's retention, who published them and
// their handlings, for those the Recorder holds.
func (r *Recorder) annotate(events []EventRecord) {
	snaps := make([]*snap, len(events))
	r.mu.Lock()
	for i := range events {
		if rec := r.byID[eventID(events[i].Envelope.ID)]; rec != nil {
			s := rec.snap()
			snaps[i] = &s
		}
	}
	r.mu.Unlock()
	for i, s := range snaps {
		if s != nil {
			events[i].PublishedBy = s.publishedBy
			events[i].Handlings = handlings(events[i].Envelope.Topic, s.handlings)
		}
	}
}

// ofTopic returns the recorded events of topic, newest first, at most
// limit of them.
func (r *Recorder) ofTopic(topic string, limit int) []EventRecord {
	var snaps []snap
	r.mu.Lock()
	for _, rec := range r.events.newest(-1) {
		if len(snaps) == limit {
			break
		}
		if rec.msg.EventEnvelope().Topic == topic {
			snaps = append(snaps, rec.snap())
		}
	}
	r.mu.Unlock()
	out := make([]EventRecord, len(snaps))
	for i, s := range snaps {
		out[i] = s.eventRecord()
	}
	return out
}

// DeadLetters returns the dead letters the Recorder holds, newest first.
func (r *Recorder) DeadLetters() []DeadLetter {
	type deadSnap struct {
		event       *eventbus.Event[eventbus.FailedDelivery]
		publishedBy string
		handlings   []handled
		republished []time.Time
	}
	r.mu.Lock()
	recs := r.dead.newest(-1)
	snaps := make([]deadSnap, len(recs))
	for i, d := range recs {
		snaps[i] = deadSnap{event: d.event, publishedBy: d.publishedBy, republished: slices.Clone(d.republished)}
		if rec := r.byID[eventID(d.event.ID)]; rec != nil {
			snaps[i].handlings = slices.Clone(rec.handlings)
		}
	}
	r.mu.Unlock()
	out := make([]DeadLetter, len(snaps))
	for i, s := range snaps {
		fd := s.event.Payload
		out[i] = DeadLetter{
			Event:       snap{msg: s.event, publishedBy: s.publishedBy, handlings: s.handlings}.eventRecord(),
			Failed:      fd.Envelope,
			PayloadType: fd.PayloadType,
			Subscriber:  fd.Subscriber,
			Error:       fd.Error,
			Attempts:    fd.Attempts,
			FailedAt:    fd.FailedAt,
			Republished: s.republished,
		}
	}
	return out
}

// deadLetter returns the dead letter whose dead-letter event has the ID
// id, if the Recorder holds it.
func (r *Recorder) deadLetter(id eventID) (eventbus.FailedDelivery, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.dead.newest(-1) {
		if eventID(d.event.ID) == id {
			return d.event.Payload, true
		}
	}
	return eventbus.FailedDelivery{}, false
}

// maxRepublished is the most republish times kept per dead letter.
const maxRepublished = 16

// markRepublished notes that the dead letter id was republished at t.
func (r *Recorder) markRepublished(id eventID, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.dead.newest(-1) {
		if eventID(d.event.ID) == id {
			d.republished = append(d.republished, t)
			if len(d.republished) > maxRepublished {
				d.republished = slices.Delete(d.republished, 0, len(d.republished)-maxRepublished)
			}
			return
		}
	}
}

// info describes the Recorder's use of its bounds.
func (r *Recorder) info() RecorderInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RecorderInfo{Enabled: true, Events: r.events.n, Capacity: r.capacity, DeadLetters: r.dead.n, DeadLetterCapacity: r.deadCapacity}
}
