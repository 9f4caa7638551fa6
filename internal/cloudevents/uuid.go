package cloudevents

import (
	"encoding/binary"

	"github.com/google/uuid"
)

// hexPairs holds the two lowercase hex digits of every byte value, as the
// bytes of a little-endian uint16.
var hexPairs = func() (pairs [256]uint16) {
	const hex = "0123456789abcdef"
	for b := range pairs {
		pairs[b] = uint16(hex[b>>4]) | uint16(hex[b&0xf])<<8
	}
	return pairs
}()

// uuidTextAt holds where the digits of each byte of a UUID go in its
// canonical text.
var uuidTextAt = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// appendUUID appends the canonical text of id: 32 lowercase hex digits in
// groups of 8, 4, 4, 4 and 12, joined by '-'.
func appendUUID(dst []byte, id uuid.UUID) []byte {
	var text [36]byte
	for i, at := range uuidTextAt {
		binary.LittleEndian.PutUint16(text[at:], hexPairs[id[i]])
	}
	text[8], text[13], text[18], text[23] = '-', '-', '-', '-'
	return append(dst, text[:]...)
}
