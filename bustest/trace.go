package bustest

import (
	"fmt"
	"strings"

	"github.com/busline/eventbus"
	"github.com/google/uuid"
)

// Trace is a recorded event and the recorded events it caused: those
// published with the ctx of one of its handlers (their CausationID is its
// ID), and theirs, down the chain. Every event of one chain also shares
// the root's CorrelationID.
type Trace struct {
	Event  eventbus.Message
	Caused []*Trace // in the order the Recorder handled them
}

// Trace returns the tree of the events root caused, as far as r recorded
// them: a Recorder of every topic (RecordAll) sees whole chains. Call it
// once the bus is idle (WaitIdle). An event recorded twice (a duplicate
// delivery) appears once.
func (r *Recorder[M]) Trace(root eventbus.Message) *Trace {
	children := make(map[uuid.UUID][]eventbus.Message)
	seen := make(map[uuid.UUID]bool)
	for _, m := range r.Events() {
		env := m.EventEnvelope()
		if seen[env.ID] || env.CausationID == uuid.Nil {
			continue
		}
		seen[env.ID] = true
		children[env.CausationID] = append(children[env.CausationID], m)
	}
	var grow func(m eventbus.Message) *Trace
	grow = func(m eventbus.Message) *Trace {
		tr := &Trace{Event: m}
		for _, c := range children[m.EventEnvelope().ID] {
			tr.Caused = append(tr.Caused, grow(c))
		}
		return tr
	}
	return grow(root)
}

// Causes returns the recorded events that led to m, nearest first: the
// event whose handler published m, the one whose handler published that
// one, and so on up to a root event or one that r did not record.
func (r *Recorder[M]) Causes(m eventbus.Message) []M {
	byID := make(map[uuid.UUID]M)
	for _, e := range r.Events() {
		byID[e.EventEnvelope().ID] = e
	}
	var out []M
	for cause := m.EventEnvelope().CausationID; cause != uuid.Nil && len(out) <= len(byID); {
		e, ok := byID[cause]
		if !ok {
			break
		}
		out = append(out, e)
		cause = e.EventEnvelope().CausationID
	}
	return out
}

// RequireChain fails the test unless root is an event of topics[0] that
// caused an event of topics[1], which caused one of topics[2], and so on,
// as r recorded them ("message.sent" caused "ai.reply.generated" caused
// "notification.sent"). The failure shows the whole tree root caused. Call
// it once the bus is idle (WaitIdle).
func (r *Recorder[M]) RequireChain(root eventbus.Message, topics ...string) {
	r.t.Helper()
	tr := r.Trace(root)
	if !tr.hasPath(topics) {
		r.t.Fatalf("bustest: expected the chain %s from %s, but it caused:\n%s",
			strings.Join(topics, " → "), describe(root), tr)
	}
}

// hasPath reports whether the tree has a path from its root whose topics
// are topics.
func (tr *Trace) hasPath(topics []string) bool {
	if len(topics) == 0 || tr.Event.EventEnvelope().Topic != topics[0] {
		return false
	}
	if len(topics) == 1 {
		return true
	}
	for _, c := range tr.Caused {
		if c.hasPath(topics[1:]) {
			return true
		}
	}
	return false
}

// Len returns the number of events in the tree, its root included.
func (tr *Trace) Len() int {
	n := 1
	for _, c := range tr.Caused {
		n += c.Len()
	}
	return n
}

// String draws the tree, one event a line as "topic #sequence", the events
// each one caused below it:
//
//	message.sent #1
//	└─ ai.reply.generated #1
//	   └─ notification.sent #1
func (tr *Trace) String() string {
	var b strings.Builder
	tr.draw(&b, "", "")
	return strings.TrimSuffix(b.String(), "\n")
}

func (tr *Trace) draw(b *strings.Builder, lead, indent string) {
	env := tr.Event.EventEnvelope()
	fmt.Fprintf(b, "%s%s #%d\n", lead, env.Topic, env.Sequence)
	for i, c := range tr.Caused {
		if i == len(tr.Caused)-1 {
			c.draw(b, indent+"└─ ", indent+"   ")
		} else {
			c.draw(b, indent+"├─ ", indent+"│  ")
		}
	}
}
