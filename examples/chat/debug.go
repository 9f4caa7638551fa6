package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/busline/eventbus"
	"github.com/busline/eventbus/debugpage"
)

// liveConversation is the conversation of the messages typed on the
// standard input with -debug.
const liveConversation = "conv-1004"

// debugSession is what -debug adds to the chat: the bus's debug page,
// served on addr, and messages from lines, published after the script.
type debugSession struct {
	addr  string
	lines <-chan string

	recorder *debugpage.Recorder
	page     *debugpage.Handler
	srv      *http.Server
	served   chan error // Serve's result, once it has returned
}

// runDebug is run with the debug page served on addr: once the script has
// played, it publishes each line of lines as a customer's message, until
// ctx ends. It writes the page's URL first.
func runDebug(ctx context.Context, w io.Writer, addr string, lines <-chan string) error {
	return runChat(ctx, w, &debugSession{addr: addr, lines: lines})
}

// plugIn adds the debug page's Recorder to the bus's options: its publish
// hook, and its middleware outermost.
func (d *debugSession) plugIn(opts []eventbus.Option, middleware []eventbus.Middleware) ([]eventbus.Option, []eventbus.Middleware, error) {
	rec, err := debugpage.NewRecorder()
	if err != nil {
		return nil, nil, err
	}
	d.recorder = rec
	return append(opts, eventbus.WithPublishHook(rec.PublishHook())),
		append([]eventbus.Middleware{rec.Middleware()}, middleware...), nil
}

// serve starts serving the debug page of bus under /debug/eventbus/ and
// writes its URL to w.
func (d *debugSession) serve(bus *eventbus.Bus, w io.Writer) error {
	ln, err := net.Listen("tcp", d.addr)
	if err != nil {
		return fmt.Errorf("debug page: %w", err)
	}
	page, err := debugpage.New(bus, debugpage.WithRecorder(d.recorder), debugpage.WithActions())
	if err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/eventbus/", http.StripPrefix("/debug/eventbus", page))
	d.page, d.srv, d.served = page, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, make(chan error, 1)
	go func() { d.served <- d.srv.Serve(ln) }()
	fmt.Fprintf(w, "debug page: http://%s/debug/eventbus/\n\n", ln.Addr())
	return nil
}

// stop ends the page's live streams, then the server, and waits for both.
func (d *debugSession) stop(ctx context.Context) error {
	if d.page == nil {
		return nil
	}
	err := d.page.Close(ctx)
	if serr := d.srv.Shutdown(ctx); serr != nil {
		err = errors.Join(err, serr)
	}
	if serr := <-d.served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// follow publishes each line of lines as a customer's message of
// liveConversation, "name: text" as from name, and writes it to the
// transcript as play does, with the late transcript writer's line. It
// returns once ctx ends; once lines is closed it just waits for that.
func (c *chat) follow(ctx context.Context, w io.Writer, lines <-chan string) error {
	fmt.Fprintln(w, "Type a message and press Enter to send it as a customer; interrupt to stop.")
	for n := 1; ; {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil // the input ended: wait for ctx
				continue
			}
			m, ok := liveMessage(line)
			if !ok {
				continue
			}
			if err := c.exchange(ctx, w, fmt.Sprintf("typed message %d", n), m); err != nil {
				return err
			}
			l := <-c.transcript // PublishSync returned: the line is there
			fmt.Fprintf(w, "  #%-2d live     [%s] %s: %s\n", l.sequence, l.message.ConversationID, l.message.From, l.message.Text)
			n++
		case <-ctx.Done():
			fmt.Fprintln(w)
			return nil
		}
	}
}

// liveMessage is the message a typed line stands for: "name: text" is
// from name, anything else from "visitor"; a blank line is none.
func liveMessage(line string) (MessageSent, bool) {
	line = strings.TrimSpace(line)
	if line == "" {
		return MessageSent{}, false
	}
	m := MessageSent{ConversationID: liveConversation, From: "visitor", Text: line}
	if name, text, ok := strings.Cut(line, ": "); ok && name != "" && !strings.ContainsAny(name, " \t") {
		m.From, m.Text = name, strings.TrimSpace(text)
	}
	return m, true
}

// readLines returns the lines of r, read by a goroutine of its own, and
// closed once r ends. The goroutine ends with r: for the standard input,
// at its end or with the process.
func readLines(r io.Reader) <-chan string {
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}
