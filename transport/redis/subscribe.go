package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/busline/eventbus"
	goredis "github.com/redis/go-redis/v9"
)

// Subscribe creates the consumer group c.Group on the topic's stream if it
// does not exist (creating the stream too), where c.Start says (by default
// at the stream's last entry: the events published after Subscribe
// returns), and starts a consumer of it, with a name of its own and a
// client of its own for its blocking reads. A group that exists resumes
// where it stopped, whatever c.Start says. See the package documentation
// on groups, redelivery and replay.
//
// The consumer's goroutine calls deliver for one entry at a time, with at
// most c.MaxInFlight entries (DefaultMaxInFlight if zero) delivered and
// not settled. c.AckTimeout (WithAckTimeout if zero) is how long an entry
// may stay unsettled before the group's consumers claim it again.
// c.MaxDeliveries is not used: the server has no delivery limit of its
// own.
func (t *Transport) Subscribe(ctx context.Context, c eventbus.ConsumerConfig, deliver func(ctx context.Context, m eventbus.InboundMessage)) (eventbus.Consumer, error) {
	if err := eventbus.ValidateTopicName(c.Topic); err != nil {
		return nil, fmt.Errorf("eventbus/redis: subscribe: %w", err)
	}
	if err := eventbus.ValidateSubscriberName(c.Group); err != nil {
		return nil, fmt.Errorf("eventbus/redis: subscribe: %w", err)
	}
	switch {
	case deliver == nil:
		return nil, fmt.Errorf("%w: nil deliver func", ErrInvalidOption)
	case c.MaxInFlight < 0:
		return nil, fmt.Errorf("%w: MaxInFlight %d, want >= 0", ErrInvalidOption, c.MaxInFlight)
	case c.MaxDeliveries < 0:
		return nil, fmt.Errorf("%w: MaxDeliveries %d, want >= 0", ErrInvalidOption, c.MaxDeliveries)
	case c.AckTimeout < 0 || c.AckTimeout > 0 && c.AckTimeout < time.Millisecond:
		return nil, fmt.Errorf("%w: AckTimeout %v, want 0 or at least 1ms", ErrInvalidOption, c.AckTimeout)
	}
	if err := validStart(c.Start); err != nil {
		return nil, err
	}
	if t.isClosed() {
		return nil, fmt.Errorf("eventbus/redis: subscribe: %w", eventbus.ErrBrokerClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("eventbus/redis: subscribe to %q: %w", c.Topic, err)
	}
	key := t.StreamKey(c.Topic)
	if err := t.setupGroup(ctx, c.Topic, key, c.Group, c.Start); err != nil {
		return nil, err
	}
	cons := newConsumer(t, c, key, deliver)
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		cons.closeClient()
		return nil, fmt.Errorf("eventbus/redis: subscribe: %w", eventbus.ErrBrokerClosed)
	}
	t.consumers[cons] = struct{}{}
	t.mu.Unlock()
	go cons.run()
	return cons, nil
}

// setupGroup creates group on the stream key unless it exists, at start,
// once the stream has been checked to still hold every entry from there
// on: if not, nothing is left created and the error is a
// *eventbus.NotRetainedError.
func (t *Transport) setupGroup(ctx context.Context, topic, key, group string, start eventbus.Start) error {
	if start.IsZero() {
		_, err := t.createGroup(ctx, key, group, "$")
		return err
	}
	exists, err := t.groupExists(ctx, key, group)
	if err != nil || exists {
		return err
	}
	if err := t.checkRetained(ctx, topic, key, start); err != nil {
		return err
	}
	id, err := t.startID(ctx, key, start)
	if err != nil {
		return err
	}
	created, err := t.createGroup(ctx, key, group, id)
	if err != nil || !created {
		return err // not created: another process made it meanwhile
	}
	// Entries trimmed between the check and the creation would be skipped
	// without a word. The stream only loses its oldest entries, so if it
	// still holds the start now, it did when the group was created.
	if err := t.checkRetained(ctx, topic, key, start); err != nil {
		if delErr := t.rdb.XGroupDestroy(context.WithoutCancel(ctx), key, group).Err(); delErr != nil {
			t.log.Warn("eventbus/redis: removing a group created past its start failed", "stream", key, "group", group, "error", delErr)
		}
		return err
	}
	return nil
}

// createGroup creates group on the stream key (and the stream, if need
// be) with id as its last delivered entry, and reports whether it did:
// false, with no error, if the group exists.
func (t *Transport) createGroup(ctx context.Context, key, group, id string) (bool, error) {
	err := t.rdb.XGroupCreateMkStream(ctx, key, group, id).Err()
	switch {
	case err == nil:
		t.log.Info("eventbus/redis: created group", "stream", key, "group", group, "after", id)
		return true, nil
	case goredis.HasErrorPrefix(err, "BUSYGROUP"):
		return false, nil
	}
	return false, commandError(ctx, fmt.Sprintf("create group %q on stream %q", group, key), err)
}

// groupExists reports whether the stream key has a group named group.
func (t *Transport) groupExists(ctx context.Context, key, group string) (bool, error) {
	groups, err := t.rdb.XInfoGroups(ctx, key).Result()
	if isNoSuchKey(err) {
		return false, nil
	}
	if err != nil {
		return false, commandError(ctx, fmt.Sprintf("list the groups of stream %q", key), err)
	}
	for _, g := range groups {
		if g.Name == group {
			return true, nil
		}
	}
	return false, nil
}

// isNoSuchKey reports the server's error for a stream that does not exist.
func isNoSuchKey(err error) bool {
	return err != nil && !errors.Is(err, goredis.ErrClosed) && goredis.HasErrorPrefix(err, "ERR no such key")
}
