package eventbus

import (
	"iter"
	"time"
)

// retainedBatch is how many events the iterators copy out of the log per
// acquisition of its lock, so that publishers wait for no longer than that
// takes whatever the loop body does.
const retainedBatch = 64

// RetainedRange returns the sequences of the oldest and the newest event
// the topic retains, and false when it retains none (no retention, nothing
// published yet, or everything expired).
func (t *Topic[T]) RetainedRange() (oldest, newest uint64, ok bool) {
	return t.core.retainedRange()
}

func (tc *topicCore) retainedRange() (oldest, newest uint64, ok bool) {
	l := tc.log
	if l == nil {
		return 0, 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expireLocked(tc.bus.ids.now())
	if l.first == l.next {
		return 0, 0, false
	}
	return l.first, l.next - 1, true
}

// Retained returns an iterator over the retained events whose sequence
// lies in [from, to], oldest first. It is safe to use while publishers run:
// it copies the events out of the topic's log a few at a time, holding the
// log's lock only to copy, and sees the events published while it runs
// that fall in the range. An event it yields is shared and read-only, as a
// handler's.
//
// When part of the range was discarded by retention, before or while the
// loop ran, the iterator yields a *NotRetainedError (matching
// [ErrNotRetained]) for that stretch, with a nil event, and goes on with
// the oldest event left; it never skips one silently. To read whatever is
// retained, start at the oldest sequence RetainedRange returns. On a topic
// without retention it yields nothing.
func (t *Topic[T]) Retained(from, to uint64) iter.Seq2[*Event[T], error] {
	return func(yield func(*Event[T], error) bool) {
		for m, err := range t.core.retained(from, to) {
			var e *Event[T]
			if m != nil {
				e = m.(*Event[T])
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// RetainedMessages is Topic.Retained for the topic named topic, whatever
// its payload type, with the events as Messages: for tools that see every
// topic, such as a debug page. It yields nothing for a topic that does not
// exist or retains no events.
func (b *Bus) RetainedMessages(topic string, from, to uint64) iter.Seq2[Message, error] {
	b.mu.Lock()
	tc := b.topics[topic]
	b.mu.Unlock()
	if tc == nil {
		return func(func(Message, error) bool) {}
	}
	return tc.retained(from, to)
}

// RetainedRange is Topic.RetainedRange for the topic named topic.
func (b *Bus) RetainedRange(topic string) (oldest, newest uint64, ok bool) {
	b.mu.Lock()
	tc := b.topics[topic]
	b.mu.Unlock()
	if tc == nil {
		return 0, 0, false
	}
	return tc.retainedRange()
}

// retained is Topic.Retained without the payload type.
func (tc *topicCore) retained(from, to uint64) iter.Seq2[Message, error] {
	return func(yield func(Message, error) bool) {
		l := tc.log
		if l == nil {
			return
		}
		from = max(from, 1)
		var buf []Message
		for from <= to {
			l.mu.Lock()
			l.expireLocked(tc.bus.ids.now())
			var gap error
			if from < l.first && l.discarded {
				gap = &NotRetainedError{Topic: tc.name, Start: FromSequence(from), Oldest: l.first}
			}
			from = max(from, l.first)
			end := min(l.next, from+retainedBatch)
			if to < end {
				end = to + 1
			}
			buf = l.copyLocked(buf[:0], from, max(end, from))
			l.mu.Unlock()
			if gap != nil && !yield(nil, gap) {
				return
			}
			if len(buf) == 0 {
				return
			}
			for _, m := range buf {
				if !yield(m, nil) {
					return
				}
			}
			from += uint64(len(buf))
			clear(buf)
		}
	}
}

// RetainedBetween returns an iterator over the retained events published
// in [since, until), oldest first, among those the topic had published when
// the loop began, with the same guarantees as Retained otherwise. If
// retention discarded events that may have been published at or after
// since, it first yields a *NotRetainedError (matching [ErrNotRetained]).
func (t *Topic[T]) RetainedBetween(since, until time.Time) iter.Seq2[*Event[T], error] {
	return func(yield func(*Event[T], error) bool) {
		l := t.core.log
		if l == nil || !since.Before(until) {
			return
		}
		l.mu.Lock()
		l.expireLocked(t.core.bus.ids.now())
		from := l.searchTimeLocked(since)
		to := l.searchTimeLocked(until) // the first event at or after until, or next
		var gap error
		if l.discarded && wallNanos(since) <= l.goneAt {
			gap = &NotRetainedError{Topic: t.core.name, Start: FromTime(since), Oldest: l.first}
		}
		l.mu.Unlock()
		if gap != nil && !yield(nil, gap) {
			return
		}
		if from >= to {
			return
		}
		for e, err := range t.Retained(from, to-1) {
			if !yield(e, err) {
				return
			}
		}
	}
}
