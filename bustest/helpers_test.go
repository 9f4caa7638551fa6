package bustest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/busline/eventbus/bustest"
)

// fakeT is a bustest.TB that keeps what the helpers report, so that the
// tests can check their failure messages, and that Examples, which have no
// *testing.T, can print them.
type fakeT struct {
	mu       sync.Mutex
	fatal    string
	errs     []string
	logs     []string
	cleanups []func()
}

func (f *fakeT) Helper() {}

func (f *fakeT) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

// Fatalf records the failure and ends the calling goroutine, as
// testing.T's does: call it only from the body that run runs.
func (f *fakeT) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeT) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// run runs body as a test's body, on a goroutine of its own that Fatalf
// can end, then the cleanups, last registered first, and returns the fatal
// failure's message, or "" if there was none.
func (f *fakeT) run(body func(t bustest.TB)) string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		body(f)
	}()
	<-done
	f.mu.Lock()
	cleanups := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fatal
}

// failures returns the Errorf messages, one a line.
func (f *fakeT) failures() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.errs, "\n")
}

// test runs body as a test would, with a TB that prints what fails: an
// Example has no *testing.T. In a real test, body is the test function's
// body and t its *testing.T.
func test(body func(t bustest.TB)) {
	f := &fakeT{}
	if msg := f.run(body); msg != "" {
		fmt.Println("FAIL:", msg)
	}
	if errs := f.failures(); errs != "" {
		fmt.Println("FAIL:", errs)
	}
}
