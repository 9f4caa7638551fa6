package debugpage

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/busline/eventbus"
)

// Handler is the debug page of one bus: an http.Handler serving the HTML
// page, its JSON endpoints and its live updates, to mount on a program's
// own mux with the prefix stripped (see the package documentation).
//
// New starts one goroutine, which samples the bus's counters every update
// interval (for the rates) and sends the live updates; Close stops it and
// ends the live-update streams. The Handler may outlive its bus: after
// the bus's Close it shows the last counters.
type Handler struct {
	bus      *eventbus.Bus
	recorder *Recorder
	actions  bool
	interval time.Duration
	mux      *http.ServeMux
	page     *template.Template

	// rates is the sampler, owned by the goroutine; rateTable the rates it
	// last computed, for every request to read.
	rates     rates
	rateTable atomic.Pointer[rateTable]

	mu       sync.Mutex
	closed   bool
	clients  map[*client]struct{}
	streams  int           // live-update streams being served
	quiet    chan struct{} // closed once closed and no stream is served
	stop     chan struct{} // closed by Close
	finished chan struct{} // closed when the goroutine has ended
}

// New returns the debug page of bus, configured by opts, and starts its
// goroutine; Close stops it. It fails with an error matching
// eventbus.ErrNilBus for a nil bus, and with one matching
// eventbus.ErrInvalidOption for an invalid option.
func New(bus *eventbus.Bus, opts ...Option) (*Handler, error) {
	if bus == nil {
		return nil, fmt.Errorf("debugpage: %w", eventbus.ErrNilBus)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	page, err := parsePage()
	if err != nil {
		return nil, err
	}
	h := &Handler{
		bus: bus, recorder: cfg.recorder, actions: cfg.actions, interval: cfg.interval, page: page,
		rates:    rates{window: cfg.rateWindow},
		clients:  make(map[*client]struct{}),
		quiet:    make(chan struct{}),
		stop:     make(chan struct{}),
		finished: make(chan struct{}),
	}
	h.rateTable.Store(h.rates.add(time.Now(), nil, nil))
	h.mux = h.routes()
	go h.run()
	return h, nil
}

// ServeHTTP serves the page and its endpoints.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// Close stops the Handler's goroutine and ends the live-update streams it
// serves, and returns once they have ended, or with ctx's error if ctx ends
// first (a stream blocked writing to a slow client ends when its write
// does). Afterwards the page and its JSON endpoints still answer, with the
// rates last computed and without live updates. Calling Close again waits
// the same way.
func (h *Handler) Close(ctx context.Context) error {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.stop)
		if h.streams == 0 {
			close(h.quiet)
		}
	}
	h.mu.Unlock()
	for _, done := range []chan struct{}{h.finished, h.quiet} {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("debugpage: close: %w", ctx.Err())
		}
	}
	return nil
}

// run is the Handler's goroutine: every update interval it samples the
// counters and, when a page is connected and something changed, sends it
// the new state.
func (h *Handler) run() {
	defer close(h.finished)
	ticker := time.NewTicker(h.interval)
	defer ticker.Stop()
	for {
		select {
		case <-h.stop:
			return
		case now := <-ticker.C:
			h.tick(now)
		}
	}
}
