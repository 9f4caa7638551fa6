package bustest

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/busline/eventbus"
)

// Payloads returns the payloads of the events r has recorded so far, in
// the order they were handled.
func Payloads[T any](r *Recorder[*eventbus.Event[T]]) []T {
	events := r.Events()
	out := make([]T, len(events))
	for i, e := range events {
		out[i] = e.Payload
	}
	return out
}

// RequirePayloads fails the test unless the payloads r has recorded are
// want, in that order (compared with reflect.DeepEqual), showing every
// position that differs: what was expected, what came, and what is missing
// or extra. Call it once the bus is idle (WaitIdle).
func RequirePayloads[T any](t TB, r *Recorder[*eventbus.Event[T]], want ...T) {
	t.Helper()
	got := Payloads(r)
	if diff := payloadDiff(want, got); diff != "" {
		t.Fatalf("bustest: payloads on %s differ (-want +got), expected %d events, got %d:%s", r.what, len(want), len(got), diff)
	}
}

// payloadDiff returns the positions where want and got differ, one line
// each ("- n. want" and "+ n. got"), or "" when they are equal.
func payloadDiff[T any](want, got []T) string {
	var b strings.Builder
	for i := range max(len(want), len(got)) {
		switch {
		case i >= len(got):
			fmt.Fprintf(&b, "\n- %d. %+v", i+1, want[i])
		case i >= len(want):
			fmt.Fprintf(&b, "\n+ %d. %+v", i+1, got[i])
		case !reflect.DeepEqual(want[i], got[i]):
			fmt.Fprintf(&b, "\n- %d. %+v\n+ %d. %+v", i+1, want[i], i+1, got[i])
		}
	}
	return b.String()
}
