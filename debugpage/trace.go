package debugpage

import (
	"cmp"
	"slices"
)

// traceSnap is a trace as copied out under the Recorder's lock.
type traceSnap struct {
	ancestors    []snap
	missingCause string
	tree         nodeSnap
	correlated   []snap
}

type nodeSnap struct {
	snap     snap
	children []nodeSnap
}

// Trace returns the causal trace of the recorded event whose ID has the
// text id: the recorded events that led to it, by causation ID, the tree of
// the recorded events it caused, and the other recorded events of its
// correlation ID; false when the Recorder does not hold the event. Each
// event comes with its handlings: which subscriber handled it, how long
// that took, the attempts and the outcome.
func (r *Recorder) Trace(id string) (Trace, bool) {
	key, ok := parseID(id)
	if !ok {
		return Trace{}, false
	}
	r.mu.Lock()
	ts, ok := r.traceLocked(key)
	r.mu.Unlock()
	if !ok {
		return Trace{}, false
	}
	out := Trace{
		Ancestors:    eventRecords(ts.ancestors),
		MissingCause: ts.missingCause,
		Tree:         ts.tree.node(),
		Correlated:   eventRecords(ts.correlated),
	}
	return out, true
}

func (r *Recorder) traceLocked(key eventID) (traceSnap, bool) {
	focus := r.byID[key]
	if focus == nil {
		return traceSnap{}, false
	}
	var ts traceSnap
	inTrace := map[*record]bool{focus: true}

	// Ancestors, by causation ID, as far as they are recorded. A chain
	// longer than the records held would revisit one: stop there.
	for rec := focus; ; {
		cause := rec.msg.EventEnvelope().CausationID
		if cause == (eventID{}) {
			break
		}
		parent := r.byID[cause]
		if parent == nil || inTrace[parent] {
			if parent == nil {
				ts.missingCause = cause.String()
			}
			break
		}
		inTrace[parent] = true
		ts.ancestors = append(ts.ancestors, parent.snap())
		rec = parent
	}
	slices.Reverse(ts.ancestors)

	// Descendants: every record held, indexed by its cause.
	all := r.events.newest(-1)
	children := make(map[eventID][]*record)
	for _, rec := range all {
		env := rec.msg.EventEnvelope()
		if env.CausationID != (eventID{}) {
			children[eventID(env.CausationID)] = append(children[eventID(env.CausationID)], rec)
		}
	}
	var grow func(rec *record) nodeSnap
	grow = func(rec *record) nodeSnap {
		n := nodeSnap{snap: rec.snap()}
		kids := children[eventID(rec.msg.EventEnvelope().ID)]
		slices.SortFunc(kids, func(a, b *record) int {
			return cmp.Compare(a.msg.EventEnvelope().Time.UnixNano(), b.msg.EventEnvelope().Time.UnixNano())
		})
		for _, kid := range kids {
			if !inTrace[kid] {
				inTrace[kid] = true
				n.children = append(n.children, grow(kid))
			}
		}
		return n
	}
	ts.tree = grow(focus)

	corr := focus.msg.EventEnvelope().CorrelationID
	for i := len(all) - 1; i >= 0; i-- { // oldest first
		if rec := all[i]; !inTrace[rec] && rec.msg.EventEnvelope().CorrelationID == corr {
			ts.correlated = append(ts.correlated, rec.snap())
		}
	}
	return ts, true
}

func (n nodeSnap) node() TraceNode {
	out := TraceNode{Event: n.snap.eventRecord(), Children: make([]TraceNode, len(n.children))}
	for i, c := range n.children {
		out.Children[i] = c.node()
	}
	return out
}

func eventRecords(snaps []snap) []EventRecord {
	out := make([]EventRecord, len(snaps))
	for i, s := range snaps {
		out[i] = s.eventRecord()
	}
	return out
}
