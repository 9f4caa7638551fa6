package eventbus

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// PanicError is the error a handler's panic is turned into, by the Recover
// middleware or by the worker itself; a panic of a subscription's filter or
// ordering key function too.
type PanicError struct {
	Value any    // the value passed to panic
	Stack []byte // the stack of the panicking goroutine
	// pcs are the program counters of the panicking goroutine's stack,
	// from the function that panicked outwards.
	pcs []uintptr
}

// newPanicError returns the error of the panic r; it must be called by the
// function deferred to recover it, so that the stack still holds the panic.
func newPanicError(r any) *PanicError {
	pcs := make([]uintptr, 64)
	pcs = pcs[:runtime.Callers(1, pcs)]
	return &PanicError{Value: r, Stack: debug.Stack(), pcs: panicSite(pcs)}
}

// panicSite drops from pcs the frames up to and including the runtime's
// panic functions, so that the first is the function that panicked.
func panicSite(pcs []uintptr) []uintptr {
	panicking := false
	for i := range pcs {
		// One pc at a time: the frames of one pc may be several inlined
		// calls, the innermost first.
		f, _ := runtime.CallersFrames(pcs[i : i+1]).Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case panicking && !strings.HasPrefix(f.Function, "runtime."):
			return pcs[i:]
		}
	}
	return nil
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("eventbus: handler panicked: %v", e.Value)
}

// Unwrap returns the panic value when it is an error, so that a panic(err)
// still matches err with [errors.Is].
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// Frames returns up to n frames of the panicking goroutine's stack, the
// function that panicked first (the handler's own frame, when the handler
// itself panicked), then its callers. It returns none for a PanicError
// made by hand.
func (e *PanicError) Frames(n int) []runtime.Frame {
	if n <= 0 || len(e.pcs) == 0 {
		return nil
	}
	out := make([]runtime.Frame, 0, min(n, len(e.pcs)))
	frames := runtime.CallersFrames(e.pcs)
	for len(out) < n {
		f, more := frames.Next()
		out = append(out, f)
		if !more {
			break
		}
	}
	return out
}

// panicFrames is how many frames the bus's error logs show of a panic.
const panicFrames = 5

// panicAttrs returns, when err is or wraps a *PanicError, the log
// attributes that say where the panic happened: panic_at, the file and line
// of the function that panicked, and stack, the first frames from there
// outwards, one "function file:line" each.
func panicAttrs(err error) []slog.Attr {
	var pe *PanicError
	if !errors.As(err, &pe) {
		return nil
	}
	frames := pe.Frames(panicFrames)
	if len(frames) == 0 {
		return nil
	}
	stack := make([]string, len(frames))
	for i, f := range frames {
		stack[i] = f.Function + " " + f.File + ":" + strconv.Itoa(f.Line)
	}
	return []slog.Attr{
		slog.String("panic_at", frames[0].File+":"+strconv.Itoa(frames[0].Line)),
		slog.Any("stack", stack),
	}
}
