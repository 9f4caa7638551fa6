package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/busline/eventbus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Subscribe joins the consumer group of c.Group on the topic's Kafka topic
// (creating the topic on first use) with a client of its own, and returns
// once the group has given this member its first assignment. A group that
// has no committed offset for the topic yet is created first, by
// committing the offsets where c.Start says it begins (by default the end
// of every partition: the events published after Subscribe returns); a
// group that has offsets resumes from them, whatever c.Start says. See the
// package documentation on groups and replay.
//
// The subscription's goroutine calls deliver for one record at a time, in
// offset order within each partition, with at most c.MaxInFlight records
// delivered and not settled. c.AckTimeout is not used: Kafka has no
// per-record deadline, and a delivered record stays unsettled until it is
// Ack'ed or Nak'ed, holding its partition's committed offset back.
func (t *Transport) Subscribe(ctx context.Context, c eventbus.ConsumerConfig, deliver func(ctx context.Context, m eventbus.InboundMessage)) (eventbus.Consumer, error) {
	if err := eventbus.ValidateTopicName(c.Topic); err != nil {
		return nil, fmt.Errorf("eventbus/kafka: subscribe: %w", err)
	}
	if err := eventbus.ValidateSubscriberName(c.Group); err != nil {
		return nil, fmt.Errorf("eventbus/kafka: subscribe: %w", err)
	}
	switch {
	case deliver == nil:
		return nil, fmt.Errorf("%w: nil deliver func", ErrInvalidOption)
	case c.MaxInFlight < 0:
		return nil, fmt.Errorf("%w: MaxInFlight %d, want >= 0", ErrInvalidOption, c.MaxInFlight)
	case c.MaxDeliveries < 0:
		return nil, fmt.Errorf("%w: MaxDeliveries %d, want >= 0", ErrInvalidOption, c.MaxDeliveries)
	case c.AckTimeout < 0:
		return nil, fmt.Errorf("%w: AckTimeout %v, want >= 0", ErrInvalidOption, c.AckTimeout)
	}
	if err := validStart(c.Start); err != nil {
		return nil, err
	}
	if t.isClosed() {
		return nil, fmt.Errorf("eventbus/kafka: subscribe: %w", eventbus.ErrBrokerClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("eventbus/kafka: subscribe to %q: %w", c.Topic, err)
	}
	partitions, err := t.ensureTopic(ctx, c.Topic)
	if err != nil {
		return nil, err
	}
	ktopic := t.KafkaTopic(c.Topic)
	group := groupFor(ktopic, c.Group)
	if err := t.prepareGroup(ctx, c.Topic, group, partitions, c.Start); err != nil {
		return nil, err
	}

	maxInFlight := c.MaxInFlight
	if maxInFlight == 0 {
		maxInFlight = DefaultMaxInFlight
	}
	cons := &consumer{
		t:       t,
		topic:   c.Topic,
		ktopic:  ktopic,
		group:   group,
		deliver: deliver,
		max:     maxInFlight,
		log:     t.log.With("topic", c.Topic, "group", group),
		done:    make(chan struct{}),
		joined:  make(chan struct{}),
		parts:   make(map[int32]*partition),
		wake:    make(chan struct{}, 1),
		settled: make(chan struct{}),
	}
	kopts := append([]kgo.Opt{
		kgo.SeedBrokers(t.seeds...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(ktopic),
		kgo.DisableAutoCommit(),
		// Eager rebalancing: every member gives all its partitions up
		// (draining and committing them) before any is assigned again,
		// so two members never hold one partition at once.
		kgo.Balancers(kgo.StickyBalancer()),
		kgo.OnPartitionsAssigned(cons.onAssigned),
		kgo.OnPartitionsRevoked(cons.onRevoked),
		kgo.OnPartitionsLost(cons.onLost),
		kgo.HeartbeatInterval(t.cfg.heartbeatInterval),
		kgo.SessionTimeout(t.cfg.sessionTimeout),
		kgo.RebalanceTimeout(max(t.cfg.revokeTimeout*2+commitTimeout, DefaultSessionTimeout)),
		kgo.FetchMaxWait(fetchMaxWait),
		// A partition without a committed offset (one added to the topic
		// later) and a committed offset the topic no longer holds start
		// at the oldest record kept: nothing is skipped.
		kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, t.cfg.clientOpts...)
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	cons.cl = cl
	// The consumer outlives ctx, which bounds the setup only.
	cons.ctx, cons.cancel = context.WithCancel(context.Background())
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		cons.cancel()
		cl.Close()
		return nil, fmt.Errorf("eventbus/kafka: subscribe: %w", eventbus.ErrBrokerClosed)
	}
	t.consumers[cons] = struct{}{}
	t.mu.Unlock()
	go cons.run()

	select {
	case <-cons.joined:
		return cons, nil
	case <-ctx.Done():
		cons.Stop() // Close waits for it
		return nil, fmt.Errorf("%w: join group %q: %w", ErrKafka, group, ctx.Err())
	}
}

// prepareGroup creates the group if it has no committed offset for the
// topic yet, by committing the offsets where start begins, after checking
// that the topic still holds them.
func (t *Transport) prepareGroup(ctx context.Context, topic, group string, partitions int32, start eventbus.Start) error {
	ktopic := t.KafkaTopic(topic)
	// Two rounds: a commit that loses a race with another process creating
	// the group finds the group's offsets on the second look.
	for range 2 {
		exists, err := t.groupHasOffsets(ctx, group, ktopic)
		if err != nil || exists {
			return err
		}
		if _, bySeq := start.Sequence(); bySeq && partitions > 1 {
			return fmt.Errorf("eventbus/kafka: subscribe %q to %q at %s: the topic has %d partitions, and positions are defined on one: %w",
				group, topic, start, partitions, errors.ErrUnsupported)
		}
		offsets, err := t.startOffsets(ctx, topic, partitions, start)
		if err != nil {
			return err
		}
		var os kadm.Offsets
		for p, at := range offsets {
			os.Add(kadm.Offset{Topic: ktopic, Partition: p, At: at, LeaderEpoch: -1})
		}
		resp, err := t.adm.CommitOffsets(ctx, group, os)
		if err == nil {
			err = resp.Error()
		}
		switch {
		case err == nil:
			t.log.Info("eventbus/kafka: created group", "group", group, "start", start.String())
			return nil
		case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.RebalanceInProgress):
			continue // members joined meanwhile: the group exists
		case errors.Is(err, kerr.InvalidGroupID), errors.Is(err, kerr.GroupAuthorizationFailed):
			return fmt.Errorf("%w: create group %q: %w", ErrKafka, group, err)
		}
		return requestError(ctx, ErrKafka, fmt.Sprintf("create group %q", group), err)
	}
	return fmt.Errorf("%w: group %q has members but no offsets for %q", ErrKafka, group, ktopic)
}

// groupHasOffsets reports whether group has committed an offset for a
// partition of ktopic.
func (t *Transport) groupHasOffsets(ctx context.Context, group, ktopic string) (bool, error) {
	resp, err := t.adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return false, nil // some clusters say so of a group nobody made yet
	}
	if err != nil {
		return false, requestError(ctx, ErrKafka, fmt.Sprintf("fetch the offsets of group %q", group), err)
	}
	found := false
	for _, o := range resp[ktopic] {
		if o.Err == nil && o.At >= 0 {
			found = true
		}
	}
	return found, nil
}
