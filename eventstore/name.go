package eventstore

import "fmt"

// MaxStreamNameLen is the longest stream name, in bytes.
const MaxStreamNameLen = 255

// ValidateStreamName reports whether name is a valid stream name: one to
// 255 bytes of ASCII letters, digits and the characters - _ . : / @ +,
// such as "conversation-42" or "order:2026/17". The error matches
// [ErrInvalidStream].
func ValidateStreamName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidStream)
	}
	if len(name) > MaxStreamNameLen {
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidStream, len(name), MaxStreamNameLen)
	}
	for i := 0; i < len(name); i++ {
		if !isStreamByte(name[i]) {
			return fmt.Errorf("%w: %q has the character %q at byte %d", ErrInvalidStream, name, name[i], i)
		}
	}
	return nil
}

func isStreamByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', ':', '/', '@', '+':
		return true
	}
	return false
}
