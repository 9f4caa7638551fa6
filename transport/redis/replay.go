package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/busline/eventbus"
)

var _ eventbus.ReplayTransport = (*Transport)(nil)

// SupportsReplay implements [eventbus.ReplayTransport]: Subscribe honours
// ConsumerConfig.Start when it creates a group. See the package
// documentation on replay.
func (t *Transport) SupportsReplay() {}

// validStart reports a start that names no entry: position 0 or the zero
// time.
func validStart(start eventbus.Start) error {
	if seq, ok := start.Sequence(); ok && seq == 0 {
		return fmt.Errorf("%w: start at sequence 0: positions start at 1", ErrInvalidOption)
	}
	if at, ok := start.Time(); ok && at.IsZero() {
		return fmt.Errorf("%w: start at the zero time", ErrInvalidOption)
	}
	return nil
}

// startID returns the last delivered ID a new group that begins at start
// gets: the group delivers the entries after it.
func (t *Transport) startID(ctx context.Context, key string, start eventbus.Start) (string, error) {
	if seq, ok := start.Sequence(); ok {
		return idAt(seq).prev().String(), nil
	}
	if at, ok := start.Time(); ok {
		return t.timeStartID(ctx, key, at)
	}
	return "0-0", nil // FromOldest
}

// timeScanBatch is how many entries of one millisecond timeStartID reads
// per request.
const timeScanBatch = 256

// timeStartID returns the last delivered ID of a group that begins at the
// first entry published at or after at. Entry IDs count milliseconds, so
// it reads the entries of at's millisecond and compares their FieldTime
// (an entry without one counts as published at the start of its
// millisecond): the group begins with the first of them published at or
// after at, or, if none was, after the last of them, so that it gets the
// entries of that millisecond stored later.
func (t *Transport) timeStartID(ctx context.Context, key string, at time.Time) (string, error) {
	ms := at.UnixMilli()
	if ms < 0 {
		return "0-0", nil
	}
	lo := streamID{ms: uint64(ms)}
	hi := streamID{ms: uint64(ms), seq: ^uint64(0)}
	last := lo.prev()
	from := lo.String()
	for {
		msgs, err := t.rdb.XRangeN(ctx, key, from, hi.String(), timeScanBatch).Result()
		if err != nil && !isNoSuchKey(err) {
			return "", commandError(ctx, fmt.Sprintf("read the entries of stream %q at %s", key, at), err)
		}
		for _, m := range msgs {
			id, err := parseID(m.ID)
			if err != nil {
				return "", err
			}
			if !entryTime(id, m.Values).Before(at) {
				return id.prev().String(), nil
			}
			last = id
		}
		if len(msgs) < timeScanBatch {
			return last.String(), nil
		}
		from = "(" + last.String()
	}
}

// entryTime returns when an entry was published: its FieldTime if it has
// one, else the millisecond of its ID.
func entryTime(id streamID, values map[string]any) time.Time {
	if s, ok := values[FieldTime].(string); ok {
		if ns, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(0, ns)
		}
	}
	return time.UnixMilli(int64(min(id.ms, 1<<62)))
}

// checkRetained returns a *eventbus.NotRetainedError if the stream no
// longer holds every entry from start on. The stream has lost entries when
// fewer are left than were ever added (trimmed, or deleted); then a start
// fails when it lies before the oldest entry kept (FromSequence), or when
// the oldest entry kept, or the newest ever added if none is kept, was
// published at or after it (FromTime), since entries lost may then have
// been published at or after it too.
func (t *Transport) checkRetained(ctx context.Context, topic, key string, start eventbus.Start) error {
	seq, bySeq := start.Sequence()
	at, byTime := start.Time()
	if !bySeq && !byTime {
		return nil
	}
	info, err := t.rdb.XInfoStream(ctx, key).Result()
	if isNoSuchKey(err) {
		return nil
	}
	if err != nil {
		return commandError(ctx, fmt.Sprintf("describe stream %q", key), err)
	}
	if info.EntriesAdded <= info.Length {
		return nil
	}
	var lost bool
	var oldest uint64
	if info.Length > 0 {
		first, err := parseID(info.FirstEntry.ID)
		if err != nil {
			return err
		}
		oldest = first.position()
		lost = bySeq && idAt(seq).less(first) || byTime && !entryTime(first, info.FirstEntry.Values).Before(at)
	} else {
		last, err := parseID(info.LastGeneratedID)
		if err != nil {
			return err
		}
		lost = bySeq && !last.less(idAt(seq)) || byTime && int64(min(last.ms, 1<<62)) >= at.UnixMilli()
	}
	if !lost {
		return nil
	}
	return fmt.Errorf("eventbus/redis: %w", &eventbus.NotRetainedError{Topic: topic, Start: start, Oldest: oldest})
}

// Position implements [eventbus.Positioned]: the entry's ID packed into
// one number, the millisecond in the high 44 bits and the sequence in the
// low 20 (see the package documentation on replay).
func (m *inbound) Position() uint64 {
	id, err := parseID(m.id)
	if err != nil {
		return 0
	}
	return id.position()
}
