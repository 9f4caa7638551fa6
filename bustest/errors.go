package bustest

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// ErrInjected is matched by every failure and panic value that the fault
// middleware injects (see InjectedError).
var ErrInjected = errors.New("bustest: injected fault")

// InjectedError is the error that Fail returns, and the value that Panic
// panics with, for one call of the handler. It matches ErrInjected.
type InjectedError struct {
	Fault   string // "fail" or "panic"
	Topic   string
	EventID uuid.UUID
	// Call is the number of the call of the handler for this event that
	// the fault replaced: 1 for the first.
	Call int
}

func (e *InjectedError) Error() string {
	return fmt.Sprintf("bustest: injected %s on call %d of event %s of %s", e.Fault, e.Call, e.EventID, e.Topic)
}

// Unwrap returns ErrInjected.
func (e *InjectedError) Unwrap() error { return ErrInjected }
