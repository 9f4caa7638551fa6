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

// ParseID returns the UUID that stands for the id attribute id of an event
// from source, and id itself as raw when it is not the canonical text of
// that UUID (lowercase, hyphenated), so that it can be written back as
// sent: for the canonical text of a UUID, that UUID and ""; for another
// form of a UUID (uppercase, braces, a urn:uuid: prefix), that UUID and id;
// for any other string, DerivedID(source, id) and id.
func ParseID(source, id string) (u uuid.UUID, raw string) {
	if parsed, err := uuid.Parse(id); err == nil {
		if len(id) == 36 && string(appendUUID(nil, parsed)) == id {
			return parsed, ""
		}
		return parsed, id
	}
	return DerivedID(source, id), id
}

// parseIDBytes is ParseID for the text of an id attribute, which it copies
// only when it is not the canonical text of a UUID.
func parseIDBytes(source string, id []byte) (u uuid.UUID, raw string) {
	if len(id) == 36 {
		if parsed, err := uuid.ParseBytes(id); err == nil {
			var text [36]byte
			if string(appendUUID(text[:0], parsed)) == string(id) {
				return parsed, ""
			}
		}
	}
	return ParseID(source, string(id))
}

// DerivedID returns the UUID that stands for an id attribute that is not a
// UUID: the version 5 (SHA-1, name-based) UUID, in the URL namespace, of
// the name source + "#" + id. Source and id together identify a
// CloudEvent, so events of different sources with the same id get
// different UUIDs, and the same event read twice gets the same one.
func DerivedID(source, id string) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(source+"#"+id))
}
