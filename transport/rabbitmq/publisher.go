package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// maxReturnsPending bounds the mandatory publishes in flight on one
// channel, so that the returns the server sends for them always fit the
// buffer the client hands them to: a full buffer would hold up the
// connection's reader, and with it the confirms that empty the buffer.
const maxReturnsPending = 1024

// publisher publishes on one channel in confirm mode, opened on the
// current connection when first needed and again after that is lost.
type publisher struct {
	t *Transport

	// lock guards cur; a channel rather than a mutex, so that a Publish
	// waiting while another opens the channel honours its ctx.
	lock chan struct{}
	cur  *pubChannel

	slots chan struct{} // one per mandatory publish in flight
}

// pubChannel is one confirm-mode channel and the returns it received.
type pubChannel struct {
	ch  *amqp.Channel
	gen uint64 // the generation of the connection it belongs to

	returns  chan amqp.Return // nil unless mandatory
	retMu    sync.Mutex
	returned map[string]int // message IDs returned and not yet claimed
}

func newPublisher(t *Transport) *publisher {
	return &publisher{t: t, lock: make(chan struct{}, 1), slots: make(chan struct{}, maxReturnsPending)}
}

// channel returns the open publishing channel, opening one, with the
// exchange declared, if there is none on the current connection.
func (p *publisher) channel(ctx context.Context) (*pubChannel, error) {
	conn, gen, err := p.t.link.current(ctx)
	if err != nil {
		return nil, err
	}
	select {
	case p.lock <- struct{}{}:
		defer func() { <-p.lock }()
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for the publishing channel: %w", ErrUnavailable, ctx.Err())
	}
	if pc := p.cur; pc != nil && pc.gen == gen && !pc.ch.IsClosed() {
		return pc, nil
	}
	ch, err := conn.Channel()
	if err != nil {
		return nil, p.t.amqpError(ctx, "open a channel", err)
	}
	pc := &pubChannel{ch: ch, gen: gen}
	// The client's requests do not take a ctx: closing the channel when
	// ctx ends cuts one that the server does not answer short.
	unbound := context.AfterFunc(ctx, func() { ch.Close() })
	defer unbound()
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, p.t.amqpError(ctx, "enable publisher confirms", err)
	}
	if err := p.t.declareExchange(ctx, ch); err != nil {
		ch.Close()
		return nil, err
	}
	if !unbound() {
		return nil, p.t.amqpError(ctx, "open the publishing channel", amqp.ErrClosed)
	}
	if p.t.cfg.mandatory {
		pc.returns = ch.NotifyReturn(make(chan amqp.Return, maxReturnsPending))
		pc.returned = make(map[string]int)
	}
	if old := p.cur; old != nil {
		old.ch.Close()
	}
	p.cur = pc
	return pc, nil
}

// publish sends msg to exchange with routing key key and waits, bounded by
// ctx, for the server's confirm. A message that never left because the
// channel was lost is sent again on the next one; once sent, a message
// whose confirm does not come is reported, since the server may have
// stored it.
func (p *publisher) publish(ctx context.Context, exchange, key string, msg amqp.Publishing) error {
	mandatory := p.t.cfg.mandatory && exchange != ""
	if mandatory {
		select {
		case p.slots <- struct{}{}:
			defer func() { <-p.slots }()
		case <-ctx.Done():
			return fmt.Errorf("%w: publish to %q: %w", ErrUnavailable, key, ctx.Err())
		}
	}
	for {
		pc, err := p.channel(ctx)
		if err != nil {
			return err
		}
		dc, err := pc.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, mandatory, false, msg)
		if errors.Is(err, amqp.ErrClosed) && ctx.Err() == nil {
			continue // not sent: the channel was lost before
		}
		if err != nil {
			return p.t.amqpError(ctx, fmt.Sprintf("publish to %q", key), err)
		}
		acked, err := dc.WaitContext(ctx)
		switch {
		case err != nil:
			return fmt.Errorf("%w: publish to %q: no confirm from the server, the message may have been stored: %w", ErrUnavailable, key, err)
		case !acked && pc.ch.IsClosed():
			return fmt.Errorf("%w: publish to %q: connection lost before the server confirmed, the message may have been stored", ErrUnavailable, key)
		case !acked:
			return fmt.Errorf("%w: publish to %q", ErrNacked, key)
		case mandatory && pc.claimReturn(msg.MessageId):
			return fmt.Errorf("%w: publish to %q", ErrUnroutable, key)
		}
		return nil
	}
}

// claimReturn reports whether the server returned the message of ID id.
// The server sends a message's return before its confirm, and the client
// hands it to the buffered returns before it resolves the confirm, so once
// the confirm is in, the return is in the buffer or in the map.
func (pc *pubChannel) claimReturn(id string) bool {
	pc.retMu.Lock()
	defer pc.retMu.Unlock()
	for drained := false; !drained; {
		select {
		case r := <-pc.returns:
			pc.returned[r.MessageId]++
		default:
			drained = true
		}
	}
	n := pc.returned[id]
	switch {
	case n == 0:
		return false
	case n == 1:
		delete(pc.returned, id)
	default:
		pc.returned[id] = n - 1
	}
	return true
}

// close closes the publishing channel, if any.
func (p *publisher) close() {
	p.lock <- struct{}{}
	defer func() { <-p.lock }()
	if p.cur != nil {
		p.cur.ch.Close()
		p.cur = nil
	}
}
