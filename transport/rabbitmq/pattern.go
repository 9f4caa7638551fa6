package rabbitmq

import (
	"context"
	"fmt"

	"github.com/busline/eventbus"
)

// SubscribePattern implements [eventbus.PatternTransport]: it declares the
// pattern group's quorum queue, named "<exchange>/<pattern>/<group>/p"
// (apart from the queue of a plain group of the same name), binds it to
// the exchange with the pattern as routing key, the bus's "*" being AMQP's
// and its trailing ">" becoming "*.#", and consumes it as Subscribe
// does. The server routes to it the events of every matching topic,
// including topics created later and events published by other processes;
// each message's topic is its routing key.
func (t *Transport) SubscribePattern(ctx context.Context, c eventbus.ConsumerConfig, deliver func(ctx context.Context, topic string, m eventbus.InboundMessage)) (eventbus.Consumer, error) {
	if err := eventbus.ValidatePattern(c.Topic); err != nil {
		return nil, fmt.Errorf("eventbus/rabbitmq: subscribe pattern: %w", err)
	}
	if err := t.checkConsumer(ctx, c, deliver == nil); err != nil {
		return nil, err
	}
	cons := t.newConsumer(c, c.Topic, queueNameFor(t.cfg.exchange, c.Topic, c.Group, "/p"), bindingKey(c.Topic), deliver)
	return t.startConsumer(ctx, cons)
}
