package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// maxReturnsPending bounds the mandatory publishes on one channel whose
// confirm has not come yet, so that the returns the server sends for them
// always fit the buffer the client hands them to: the client holds up the
// connection's reader while that buffer is full, and with it the confirms
// that empty the buffer, then drops the return.
const maxReturnsPending = 1024

// publisher publishes on one channel in confirm mode, opened on the
// current connection when first needed and again after that is lost.
type publisher struct {
	t *Transport

	// lock guards cur; a channel rather than a mutex, so that a Publish
	// waiting while another opens the channel honours its ctx.
	lock chan struct{}
	cur  *pubChannel

	// slots holds one token per mandatory publish whose confirm has not
	// come yet, including those whose Publish gave up waiting for it.
	slots chan struct{}
	// abandoned counts the goroutines that wait for the confirm of a
	// mandatory publish whose Publish gave up, to drop its return.
	abandoned sync.WaitGroup
}

// pubChannel is one confirm-mode channel and the returns it received.
type pubChannel struct {
	ch  *amqp.Channel
	gen uint64 // the generation of the connection it belongs to

	returns chan amqp.Return // nil unless mandatory
	retMu   sync.Mutex
	// waiting counts, by message ID, the mandatory publishes sent on the
	// channel whose Publish waits for the confirm; returned counts the
	// returns taken from the buffer for them and not yet claimed, never
	// more than waiting. A return for no waiting publish is dropped.
	waiting  map[string]int
	returned map[string]int
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
	err = p.t.bounded(ctx, ch, "open the publishing channel", func() error {
		if err := ch.Confirm(false); err != nil {
			return p.t.amqpError(ctx, "enable publisher confirms", err)
		}
		return p.t.declareExchange(ctx, ch)
	})
	if err != nil {
		return nil, err
	}
	if p.t.cfg.mandatory {
		pc.returns = ch.NotifyReturn(make(chan amqp.Return, maxReturnsPending))
		pc.waiting = make(map[string]int)
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
		case <-ctx.Done():
			return fmt.Errorf("%w: publish to %q: %w", ErrUnavailable, key, ctx.Err())
		}
	}
	// release frees the slot, unless a goroutine took it over.
	release := mandatory
	defer func() {
		if release {
			<-p.slots
		}
	}()
	for {
		pc, err := p.channel(ctx)
		if err != nil {
			return err
		}
		if mandatory {
			pc.expect(msg.MessageId)
		}
		dc, err := pc.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, mandatory, false, msg)
		if err != nil {
			if mandatory {
				pc.settle(msg.MessageId)
			}
			if errors.Is(err, amqp.ErrClosed) && ctx.Err() == nil {
				continue // not sent: the channel was lost before
			}
			return p.t.amqpError(ctx, fmt.Sprintf("publish to %q", key), err)
		}
		acked, err := dc.WaitContext(ctx)
		returned := false
		switch {
		case err != nil && mandatory:
			// The confirm may still come, and a return before it:
			// hold the slot until then, and drop the return.
			pc.settle(msg.MessageId)
			release = false
			p.abandoned.Add(1)
			go func() {
				defer p.abandoned.Done()
				<-dc.Done() // confirmed, or the channel closed
				pc.drain()
				<-p.slots
			}()
		case mandatory:
			returned = pc.settle(msg.MessageId)
		}
		switch {
		case err != nil:
			return fmt.Errorf("%w: publish to %q: no confirm from the server, the message may have been stored: %w", ErrUnavailable, key, err)
		case !acked && pc.ch.IsClosed():
			return fmt.Errorf("%w: publish to %q: connection lost before the server confirmed, the message may have been stored", ErrUnavailable, key)
		case !acked:
			return fmt.Errorf("%w: publish to %q", ErrNacked, key)
		case returned:
			return fmt.Errorf("%w: publish to %q", ErrUnroutable, key)
		}
		return nil
	}
}

// expect records that a mandatory publish of the message of ID id waits
// for its confirm on the channel, so that its return is kept.
func (pc *pubChannel) expect(id string) {
	pc.retMu.Lock()
	defer pc.retMu.Unlock()
	pc.waiting[id]++
}

// settle ends the wait of a mandatory publish of the message of ID id and
// reports whether the server returned that message. The server sends a
// message's return before its confirm, and the client hands it to the
// buffered returns before it resolves the confirm, so once the confirm is
// in, the return is in the buffer or among those taken from it. A publish
// that gave up before its confirm settles too, dropping its return if it
// was taken already, and the goroutine that waits for the confirm in its
// stead drains the buffer once it has come.
func (pc *pubChannel) settle(id string) (returned bool) {
	pc.retMu.Lock()
	defer pc.retMu.Unlock()
	pc.drainLocked()
	returned = pc.returned[id] > 0
	decrement(pc.returned, id)
	decrement(pc.waiting, id)
	return returned
}

// drain takes the returns out of the buffer, keeping those of waiting
// publishes.
func (pc *pubChannel) drain() {
	pc.retMu.Lock()
	defer pc.retMu.Unlock()
	pc.drainLocked()
}

func (pc *pubChannel) drainLocked() {
	for {
		select {
		case r, ok := <-pc.returns:
			if !ok { // the channel is closed
				return
			}
			if pc.returned[r.MessageId] < pc.waiting[r.MessageId] {
				pc.returned[r.MessageId]++
			}
		default:
			return
		}
	}
}

// decrement takes one from m[key], deleting the key at zero.
func decrement(m map[string]int, key string) {
	switch n := m[key]; {
	case n > 1:
		m[key] = n - 1
	case n == 1:
		delete(m, key)
	}
}

// close closes the publishing channel, if any, and waits for the
// goroutines that waited there for the confirms of abandoned publishes.
func (p *publisher) close() {
	p.lock <- struct{}{}
	if p.cur != nil {
		p.cur.ch.Close()
		p.cur = nil
	}
	<-p.lock
	p.abandoned.Wait()
}
