package kafka

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/busline/eventbus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

var _ eventbus.ReplayTransport = (*Transport)(nil)

// SupportsReplay implements [eventbus.ReplayTransport]: Subscribe honours
// ConsumerConfig.Start when it creates a group. See the package
// documentation on replay.
func (t *Transport) SupportsReplay() {}

// validStart reports a start that names no record: position 0 or the zero
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

// bounds are a partition's log start and end offsets: the oldest record
// kept, and the one the next record will get.
type bounds struct{ start, end int64 }

// startOffsets returns, for each partition of topic, the offset a new
// group that begins at start consumes first, or a *eventbus.NotRetainedError
// if the topic no longer holds every record from start on.
func (t *Transport) startOffsets(ctx context.Context, topic string, partitions int32, start eventbus.Start) (map[int32]int64, error) {
	ktopic := t.KafkaTopic(topic)
	b, err := t.bounds(ctx, ktopic)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(b))
	notRetained := func() error {
		nr := &eventbus.NotRetainedError{Topic: topic, Start: start}
		if pb, ok := b[0]; ok && partitions == 1 && pb.start < pb.end {
			nr.Oldest = uint64(pb.start) + 1
		}
		return fmt.Errorf("eventbus/kafka: %w", nr)
	}
	seq, bySeq := start.Sequence()
	at, byTime := start.Time()
	switch {
	case start.Oldest():
		for p, pb := range b {
			out[p] = pb.start
		}
	case bySeq:
		pb := b[0]
		off := int64(min(seq-1, uint64(1<<62)))
		if off < pb.start {
			return nil, notRetained()
		}
		out[0] = min(off, pb.end)
	case byTime:
		after, err := t.adm.ListOffsetsAfterMilli(ctx, at.UnixMilli(), ktopic)
		if err == nil {
			err = after.Error()
		}
		if err != nil {
			return nil, requestError(ctx, ErrKafka, fmt.Sprintf("list the offsets of %q after %s", ktopic, at), err)
		}
		for p, pb := range b {
			lo, ok := after.Lookup(ktopic, p)
			if !ok || lo.Offset < 0 {
				lo.Offset = pb.end
			}
			// Records before the oldest one kept were lost; if the first
			// record at or after the time is the oldest kept, or none is
			// kept, lost ones may have been at or after it too.
			if pb.start > 0 && lo.Offset <= pb.start {
				return nil, notRetained()
			}
			off := lo.Offset
			if off < pb.end && lo.Timestamp == at.UnixMilli() && at.Nanosecond()%int(time.Millisecond) != 0 {
				if off, err = t.skipBefore(ctx, ktopic, p, off, pb.end, at); err != nil {
					return nil, err
				}
			}
			out[p] = off
		}
	default:
		for p, pb := range b {
			out[p] = pb.end
		}
	}
	return out, nil
}

// bounds lists the log start and end offsets of every partition of ktopic.
func (t *Transport) bounds(ctx context.Context, ktopic string) (map[int32]bounds, error) {
	starts, err := t.adm.ListStartOffsets(ctx, ktopic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, requestError(ctx, ErrKafka, fmt.Sprintf("list the start offsets of %q", ktopic), err)
	}
	ends, err := t.adm.ListEndOffsets(ctx, ktopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, requestError(ctx, ErrKafka, fmt.Sprintf("list the end offsets of %q", ktopic), err)
	}
	out := make(map[int32]bounds)
	starts.Each(func(o kadm.ListedOffset) {
		if e, ok := ends.Lookup(ktopic, o.Partition); ok && o.Topic == ktopic {
			out[o.Partition] = bounds{start: o.Offset, end: e.Offset}
		}
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: list the offsets of %q: no partitions", ErrKafka, ktopic)
	}
	return out, nil
}

// skipBefore returns the offset of the first record from off on in
// partition p of ktopic that was published at or after at, reading the
// records of at's millisecond (the precision of Kafka's timestamps) and
// comparing the time in their HeaderTime; a record without that header
// counts as published at the start of its millisecond. It returns end if
// every record up to end is earlier.
func (t *Transport) skipBefore(ctx context.Context, ktopic string, p int32, off, end int64, at time.Time) (int64, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(t.seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{ktopic: {p: kgo.NewOffset().At(off)}}),
		kgo.FetchMaxWait(fetchMaxWait),
	}, t.cfg.clientOpts...)...)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	defer cl.Close()
	for off < end {
		fetches := cl.PollRecords(ctx, int(end-off))
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("%w: read %q partition %d from offset %d: %w", ErrKafka, ktopic, p, off, err)
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return 0, requestError(ctx, ErrKafka, fmt.Sprintf("read %q partition %d from offset %d", ktopic, p, off), ferr)
		}
		found := false
		fetches.EachRecord(func(r *kgo.Record) {
			if found || r.Offset < off {
				return
			}
			if !recordTime(r).Before(at) {
				found = true
				off = r.Offset
				return
			}
			off = r.Offset + 1
		})
		if found {
			return off, nil
		}
	}
	return end, nil
}

// recordTime returns when r was published: its HeaderTime if it has one,
// else its timestamp.
func recordTime(r *kgo.Record) time.Time {
	for _, h := range r.Headers {
		if h.Key == HeaderTime {
			if ns, err := strconv.ParseInt(string(h.Value), 10, 64); err == nil {
				return time.Unix(0, ns)
			}
		}
	}
	return r.Timestamp
}
