package nats

import (
	"context"
	"errors"
	"fmt"

	"github.com/busline/eventbus"
)

var _ eventbus.PatternTransport = (*Transport)(nil)

// SubscribePattern implements [eventbus.PatternTransport]: it is Subscribe
// for the pattern c.Topic (see eventbus.ValidatePattern), whose wildcards
// are those of NATS subjects. With WithSharedStream, it creates or updates
// one durable pull consumer of the shared stream whose filter subject is
// "<prefix>.<pattern>", named after the group and the pattern, so distinct
// from the consumers of plain subscriptions of the same group; the server
// selects the messages of every matching topic, including topics created
// later and topics published by other processes. deliver gets each message
// with its topic: its subject without the prefix. c.Start applies as for
// Subscribe, a position being a sequence of the shared stream. Everything
// else (fetching, settling, Stop, reconnection) is as for Subscribe.
//
// In the default layout, one stream per topic, it returns an error
// matching errors.ErrUnsupported: a consumer reads one stream, so a
// wildcard over topics would take a consumer per stream.
func (t *Transport) SubscribePattern(ctx context.Context, c eventbus.ConsumerConfig, deliver func(ctx context.Context, topic string, m eventbus.InboundMessage)) (eventbus.Consumer, error) {
	if err := eventbus.ValidatePattern(c.Topic); err != nil {
		return nil, fmt.Errorf("eventbus/nats: subscribe to a pattern: %w", err)
	}
	if !t.cfg.shared() {
		return nil, fmt.Errorf("eventbus/nats: subscribe to pattern %q: a stream per topic, and a consumer reads one stream (WithSharedStream keeps every topic in one): %w",
			c.Topic, errors.ErrUnsupported)
	}
	if err := t.checkConsumer(ctx, c, deliver == nil); err != nil {
		return nil, err
	}
	cons := t.newConsumer(c, c.Topic, t.cfg.sharedSpec(), patternDurableFor(c.Group, c.Topic),
		"eventbus subscriber "+c.Group+" of pattern "+c.Topic, subjectFor(t.cfg.prefix, c.Topic),
		func(ctx context.Context, subject string, m eventbus.InboundMessage) {
			deliver(ctx, t.cfg.topicOf(subject), m)
		})
	return t.startConsumer(ctx, cons)
}
