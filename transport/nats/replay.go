package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/busline/eventbus"
	"github.com/nats-io/nats.go/jetstream"
)

var _ eventbus.ReplayTransport = (*Transport)(nil)

// SupportsReplay implements [eventbus.ReplayTransport]: Subscribe honours
// ConsumerConfig.Start when it creates a group. See the package
// documentation on replay.
func (t *Transport) SupportsReplay() {}

// Position implements [eventbus.Positioned]: it returns the message's
// sequence in the topic's stream, or 0 if the server's metadata of the
// message cannot be read.
func (m *inbound) Position() uint64 {
	md, err := m.msg.Metadata()
	if err != nil {
		return 0
	}
	return md.Sequence.Stream
}

// validStart reports a start that names no message: position 0 or the zero
// time.
func validStart(start eventbus.Start) error {
	if seq, ok := start.Sequence(); ok && seq == 0 {
		return fmt.Errorf("%w: start at sequence 0: stream sequences start at 1", ErrInvalidOption)
	}
	if at, ok := start.Time(); ok && at.IsZero() {
		return fmt.Errorf("%w: start at the zero time", ErrInvalidOption)
	}
	return nil
}

// withStart returns cfg set to deliver from start: DeliverNew for the zero
// Start, DeliverAll for FromOldest, DeliverByStartSequence and
// DeliverByStartTime for the others.
func withStart(cfg jetstream.ConsumerConfig, start eventbus.Start) jetstream.ConsumerConfig {
	cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = jetstream.DeliverNewPolicy, 0, nil
	switch {
	case start.Oldest():
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	default:
		if seq, ok := start.Sequence(); ok {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq
		} else if at, ok := start.Time(); ok {
			cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &at
		}
	}
	return cfg
}

// createOrResume returns the durable consumer of c's group on stream. A
// group that exists keeps where it delivers from (the server cannot change
// that) and gets c's other settings; a group that does not is created to
// deliver from start, once the stream has been checked to still hold every
// message from there on: if not, nothing is left created and the error is
// a *eventbus.NotRetainedError.
func (c *consumer) createOrResume(ctx context.Context, stream string, start eventbus.Start) (jetstream.Consumer, error) {
	js, name := c.t.js, c.jscfg.Durable
	// Two rounds: a create that loses a race with another process finds
	// the group on the second look.
	for range 2 {
		existing, err := js.Consumer(ctx, stream, name)
		if err == nil {
			have := existing.CachedInfo().Config
			cfg := c.jscfg
			cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = have.DeliverPolicy, have.OptStartSeq, have.OptStartTime
			jc, err := js.CreateOrUpdateConsumer(ctx, stream, cfg)
			if err != nil {
				return nil, c.t.requestError(ctx, fmt.Sprintf("update consumer %q on stream %q", name, stream), err)
			}
			return jc, nil
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, c.t.requestError(ctx, fmt.Sprintf("look up consumer %q on stream %q", name, stream), err)
		}
		if err := c.checkRetained(ctx, stream, start); err != nil {
			return nil, err
		}
		jc, err := js.CreateConsumer(ctx, stream, withStart(c.jscfg, start))
		if errors.Is(err, jetstream.ErrConsumerExists) {
			continue
		}
		if err != nil {
			return nil, c.t.requestError(ctx, fmt.Sprintf("create consumer %q on stream %q", name, stream), err)
		}
		// The server moves a start that lies before the stream's first
		// message up to it without a word. The stream only ever loses its
		// oldest messages, so if it still holds the start now, it did when
		// the group was created.
		if err := c.checkRetained(ctx, stream, start); err != nil {
			if delErr := js.DeleteConsumer(ctx, stream, name); delErr != nil && !errors.Is(delErr, jetstream.ErrConsumerNotFound) {
				c.t.log.Warn("nats: removing a group created past its start failed", "stream", stream, "group", name, "error", delErr)
			}
			return nil, err
		}
		return jc, nil
	}
	return nil, fmt.Errorf("%w: consumer %q on stream %q keeps appearing and vanishing", ErrJetStream, name, stream)
}

// checkRetained returns a *eventbus.NotRetainedError if the stream no
// longer holds every message from start on: for FromSequence, when the
// position lies before the stream's first message; for FromTime, when the
// stream lost messages (its first sequence is above 1) and its oldest
// message, or the newest it lost if it holds none, was stored at or after
// the time, since lost messages may then have been stored at or after it.
// The stream is the consumer's: in the shared layout, the messages lost
// may have been other topics' (the stream does not say), and the error's
// Oldest is the position of the oldest message kept on the consumer's
// subject filter, or 0 if it has none.
func (c *consumer) checkRetained(ctx context.Context, stream string, start eventbus.Start) error {
	seq, bySeq := start.Sequence()
	at, byTime := start.Time()
	if !bySeq && !byTime {
		return nil
	}
	s, err := c.t.js.Stream(ctx, stream)
	if err != nil {
		return c.t.requestError(ctx, "look up stream "+stream, err)
	}
	st := s.CachedInfo().State
	lost := bySeq && seq < st.FirstSeq || byTime && st.FirstSeq > 1 && lostSince(st, at)
	if !lost {
		return nil
	}
	var oldest uint64
	if st.Msgs > 0 {
		oldest = st.FirstSeq
		if c.jscfg.FilterSubject != "" {
			if oldest, err = c.oldestKept(ctx, s, st.FirstSeq); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("eventbus/nats: %w", &eventbus.NotRetainedError{Topic: c.target, Start: start, Oldest: oldest})
}

// oldestKept returns the sequence of the first message of s at or after
// from on the consumer's subject filter, or 0 if there is none.
func (c *consumer) oldestKept(ctx context.Context, s jetstream.Stream, from uint64) (uint64, error) {
	m, err := s.GetMsg(ctx, from, jetstream.WithGetMsgSubject(c.jscfg.FilterSubject))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return 0, nil
	case err != nil:
		return 0, c.t.requestError(ctx, fmt.Sprintf("look up the first message of %q in stream %s", c.jscfg.FilterSubject, c.stream.name), err)
	}
	return m.Sequence, nil
}

// lostSince reports whether a stream that lost messages may have lost one
// stored at or after at.
func lostSince(st jetstream.StreamState, at time.Time) bool {
	if st.Msgs > 0 {
		return !st.FirstTime.Before(at)
	}
	return st.LastTime.IsZero() || !st.LastTime.Before(at)
}
