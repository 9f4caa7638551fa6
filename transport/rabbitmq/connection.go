package rabbitmq

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/busline/eventbus"
	amqp "github.com/rabbitmq/amqp091-go"
)

// closeTimeout bounds the wait for the server to answer the closing of
// the connection.
const closeTimeout = 5 * time.Second

// link owns the Transport's AMQP connection: it dials it, watches it, and
// when the connection is lost dials again with a growing wait until it is
// closed. The client, amqp091-go, does not reconnect by itself.
type link struct {
	url string
	cfg *config
	log *slog.Logger

	mu     sync.Mutex
	conn   *amqp.Connection // nil while down
	gen    uint64           // counts the connections made
	up     chan struct{}    // closed once conn is set; replaced when it is lost
	closed bool

	ctx  context.Context // cancelled by close
	stop context.CancelFunc
	done chan struct{} // closed when watch returns
}

// dialLink dials url, bounded by ctx and DefaultConnectTimeout, and starts
// watching the connection.
func dialLink(ctx context.Context, url string, cfg *config) (*link, error) {
	l := &link{url: url, cfg: cfg, log: cfg.logger, up: make(chan struct{}), done: make(chan struct{})}
	conn, err := l.dial(ctx)
	if err != nil {
		return nil, err
	}
	l.ctx, l.stop = context.WithCancel(context.Background())
	l.setConn(conn)
	go l.watch(conn)
	return l, nil
}

// dial opens one connection, bounded by ctx and DefaultConnectTimeout.
func (l *link) dial(ctx context.Context) (*amqp.Connection, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnect, err)
	}
	timeout := DefaultConnectTimeout
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < timeout {
		timeout = max(time.Until(deadline), time.Millisecond)
	}
	cfg := l.cfg.amqp
	cfg.Dial = func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// Bounds the AMQP handshake; the client clears it once open.
		if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
			conn.Close()
			return nil, err
		}
		return conn, nil
	}
	if cfg.Properties == nil {
		cfg.Properties = amqp.NewConnectionProperties()
		cfg.Properties.SetClientConnectionName("eventbus")
	}
	conn, err := amqp.DialConfig(l.url, cfg)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%w: %s: %w (%w)", ErrConnect, redact(l.url), ctxErr, err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrConnect, redact(l.url), err)
	}
	return conn, nil
}

func (l *link) setConn(conn *amqp.Connection) {
	l.mu.Lock()
	l.conn = conn
	l.gen++
	close(l.up)
	l.mu.Unlock()
}

// watch waits for conn to be lost and dials again until it succeeds or the
// link is closed, then watches the new connection.
func (l *link) watch(conn *amqp.Connection) {
	defer close(l.done)
	for {
		lost := conn.NotifyClose(make(chan *amqp.Error, 1))
		select {
		case <-l.ctx.Done():
			return
		case err := <-lost:
			l.markDown(conn)
			l.log.Warn("eventbus/rabbitmq: connection lost, reconnecting", "error", errString(err))
		}
		wait := l.cfg.minWait
		for {
			ctx, cancel := context.WithTimeout(l.ctx, DefaultConnectTimeout)
			next, err := l.dial(ctx)
			cancel()
			if err == nil {
				conn = next
				break
			}
			l.log.Warn("eventbus/rabbitmq: reconnecting failed", "error", err, "retry_in", wait)
			if !l.pause(wait) {
				return
			}
			wait = min(2*wait, l.cfg.maxWait)
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			conn.Close()
			return
		}
		l.mu.Unlock()
		l.setConn(conn)
		l.log.Info("eventbus/rabbitmq: reconnected")
	}
}

// pause waits d, reporting false if the link was closed first.
func (l *link) pause(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-l.ctx.Done():
		return false
	}
}

// markDown records that conn was lost, unless that is known already.
func (l *link) markDown(conn *amqp.Connection) {
	l.mu.Lock()
	if l.conn == conn {
		l.conn = nil
		l.up = make(chan struct{})
	}
	l.mu.Unlock()
}

// current returns the open connection and its generation, waiting for one
// while the link reconnects, bounded by ctx.
func (l *link) current(ctx context.Context) (*amqp.Connection, uint64, error) {
	for {
		l.mu.Lock()
		closed, conn, gen, up := l.closed, l.conn, l.gen, l.up
		l.mu.Unlock()
		switch {
		case closed:
			return nil, 0, fmt.Errorf("eventbus/rabbitmq: %w", eventbus.ErrBrokerClosed)
		case conn != nil && !conn.IsClosed():
			return conn, gen, nil
		case conn != nil:
			// Lost, and watch has not noticed yet.
			l.markDown(conn)
			continue
		}
		select {
		case <-up:
		case <-l.ctx.Done():
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("%w: waiting for the connection: %w", ErrUnavailable, ctx.Err())
		}
	}
}

// close stops reconnecting and closes the connection.
func (l *link) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return
	}
	l.closed = true
	conn := l.conn
	l.mu.Unlock()
	l.stop()
	<-l.done
	if conn != nil {
		if err := conn.CloseDeadline(time.Now().Add(closeTimeout)); err != nil && !conn.IsClosed() {
			l.log.Debug("eventbus/rabbitmq: closing the connection", "error", err)
		}
	}
}

// redact returns url without its password.
func redact(raw string) string {
	u, err := amqp.ParseURI(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.Password = ""
	return u.String()
}

func errString(err *amqp.Error) string {
	if err == nil {
		return "closed"
	}
	return err.Error()
}
