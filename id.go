package eventbus

import (
	"fmt"
	"unsafe"

	"github.com/google/uuid"
)

// newEventID returns a new UUID version 7 (RFC 9562). The uuid package keeps
// IDs made in one process strictly increasing, even within a millisecond.
func newEventID() (uuid.UUID, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, fmt.Errorf("eventbus: generate event id: %w", err)
	}
	return id, nil
}

const hexDigits = "0123456789abcdef"

// idString writes the canonical text of id into buf and returns it as a
// string that shares buf's memory. buf must never change afterwards; it lives
// inside the event, which is immutable once published.
func idString(id uuid.UUID, buf *[36]byte) string {
	j := 0
	for i, b := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf[j] = '-'
			j++
		}
		buf[j] = hexDigits[b>>4]
		buf[j+1] = hexDigits[b&0x0f]
		j += 2
	}
	return unsafe.String(&buf[0], len(buf))
}
